import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findNatsServer } from '@synod/natsd';
import { initialPlacement } from '@synod/cli';
import { OVERLAY, prepareCopy, render, type K8sObject } from '../../infra/k8s/validate.js';
import { localProcesses, REPO_ROOT, REWRITES, serviceHosts, UNPINNED_ZONE, writeMounts, type LocalProcess } from './rendered-processes.js';

let copy: string;
let work: string;
let objects: K8sObject[];

beforeAll(() => {
  copy = prepareCopy();
  work = mkdtempSync(join(tmpdir(), 'synod-rendered-'));
  objects = render(join(copy, OVERLAY));
}, 60_000);
afterAll(() => {
  rmSync(copy, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

const argAfter = (p: LocalProcess, flag: string) => p.args[p.args.indexOf(flag) + 1];
const main = (ps: LocalProcess[]) => ps.filter((p) => !p.init);

describe('rendered-processes: the real kind overlay as local processes per zone', () => {
  it('has a nats-server, a time master, a spanserver, a placement replica and a gateway in every zone, and k6 (the one unpinned pod) in the stated zone', () => {
    const plan = localProcesses(objects, work);
    const summary = Object.fromEntries([...plan.byZone].map(([zone, ps]) => [zone, main(ps).map((p) => `${p.workload.name}/${p.container}`).sort()]));
    expect(UNPINNED_ZONE).toBe('dc-a');
    expect(summary).toEqual({
      'dc-a': ['gateway-dc-a/gateway', 'k6-bank/k6', 'nats-dc-a/nats', 'placement-dc-a/placement', 'spanserver-dc-a/spanserver', 'timemaster-dc-a/timemaster'],
      'dc-b': ['gateway-dc-b/gateway', 'nats-dc-b/nats', 'placement-dc-b/placement', 'spanserver-dc-b/spanserver', 'timemaster-dc-b/timemaster'],
      'dc-c': ['gateway-dc-c/gateway', 'nats-dc-c/nats', 'placement-dc-c/placement', 'spanserver-dc-c/spanserver', 'timemaster-dc-c/timemaster'],
    });
    // Every synod process copies its credential first (an init container), nothing else does.
    const inits = plan.processes.filter((p) => p.init);
    expect(inits.map((p) => p.pod).sort()).toEqual(main(plan.processes).filter((p) => !['nats', 'k6'].includes(p.container)).map((p) => p.pod).sort());
    console.log(`rendered-processes: ${plan.processes.length} processes (${inits.length} init) in ${plan.byZone.size} zones; rewrites:\n  ${REWRITES.join('\n  ')}`);
  });

  it('maps commands by image, leaves Service names alone and moves mount paths under the work directory', () => {
    const plan = localProcesses(objects, work);
    const byPod = (pod: string, init = false) => plan.processes.find((p) => p.pod === pod && p.init === init)!;
    const nats = byPod('nats-dc-b-0');
    expect(nats.command).toBe(findNatsServer());
    expect(nats.args).toEqual(['--config', join(work, 'nats-dc-b-0', 'etc/nats/nats.conf')]);
    expect(nats.env.SERVER_NAME).toBe('nats-dc-b-0');
    expect(nats.probes).toEqual({ liveness: { path: '/healthz', port: 8222 }, readiness: { path: '/healthz', port: 8222 } });

    const span = byPod('spanserver-dc-c-0');
    expect(span.command).toBe(process.execPath);
    expect(span.args[0]).toBe(join(REPO_ROOT, 'services/cli/dist/bin/synod.mjs'));
    expect(span.args[1]).toBe('spanserver');
    expect(argAfter(span, '--node-id')).toBe('n3');
    expect(argAfter(span, '--dc')).toBe('dc-c');
    expect(argAfter(span, '--nats-url')).toBe('nats://nats-dc-c:4222');
    expect(argAfter(span, '--data-dir')).toBe(join(work, 'spanserver-dc-c-0', 'data/n3'));
    expect(argAfter(span, '--nats-creds')).toBe(join(work, 'spanserver-dc-c-0', 'run/synod/creds/n3.json'));
    expect(argAfter(span, '--metrics-host')).toBe('0.0.0.0');
    expect(span.probes).toEqual({ liveness: { path: '/healthz', port: 9092 }, readiness: { path: '/readyz', port: 9092 } });
    expect(span.mounts.find((m) => m.volume === 'data')?.source).toBe('volumeClaim');

    const init = byPod('spanserver-dc-c-0', true);
    expect([init.command, ...init.args]).toEqual(['/usr/bin/install', '-m', '0600', join(work, 'spanserver-dc-c-0', 'etc/synod/nats-creds/n3.json'), join(work, 'spanserver-dc-c-0', 'run/synod/creds/n3.json')]);

    const tm = byPod('timemaster-dc-b-0');
    expect(argAfter(tm, '--kind')).toBe('drifting');
    expect(argAfter(tm, '--control-stdin')).toBe('false');

    const k6 = byPod('k6-bank');
    expect(k6.suspended).toBe(true);
    expect([k6.command, ...k6.args]).toEqual([process.execPath, join(REPO_ROOT, 'loadtest/k6.mjs'), 'run', join(work, 'k6-bank', 'scripts/bank.js')]);
    expect(k6.env.SYNOD_K6).toBe('runner');
    expect(k6.env.SYNOD_GATEWAY).toBe('http://gateway:8080');
    expect(k6.env.SYNOD_TOKEN).toBe(readFileSync(join(copy, OVERLAY, 'secrets/gateway-tokens'), 'utf8'));
    expect(k6.env.HOME).toBe(join(work, 'k6-bank', 'tmp'));

    expect(plan.services.get('nats-dc-b')).toEqual({ pods: [{ pod: 'nats-dc-b-0', zone: 'dc-b' }], ports: [{ name: 'client', port: 4222, targetPort: 4222 }, { name: 'cluster', port: 6222, targetPort: 6222 }] });
    expect(plan.services.get('gateway')?.pods.map((p) => p.pod).sort()).toEqual(['gateway-dc-a-0', 'gateway-dc-b-0', 'gateway-dc-c-0']);
    expect(plan.services.get('gateway')?.ports).toEqual([{ name: 'http', port: 8080, targetPort: 8080 }]);
    const gw = byPod('gateway-dc-c-0');
    expect(argAfter(gw, '--nats-url')).toBe('nats://nats-dc-c:4222');
    expect(argAfter(gw, '--dc')).toBe('dc-c');
    expect(plan.services.get('spanserver')?.pods.map((p) => p.zone).sort()).toEqual(['dc-a', 'dc-b', 'dc-c']);
  });

  it('materialises ConfigMaps and Secrets as files: nats.conf finds its auth include, the placement map is synod up\'s, the k6 library sits at lib/', () => {
    const plan = localProcesses(objects, work);
    for (const p of plan.processes) writeMounts(p);
    const podDir = join(work, 'nats-dc-a-0');
    const conf = readFileSync(join(podDir, 'etc/nats/nats.conf'), 'utf8');
    const include = /^include (.+)$/m.exec(conf)?.[1];
    expect(include).toBeDefined();
    const auth = readFileSync(join(podDir, 'etc/nats', include!), 'utf8');
    expect(auth).toBe(readFileSync(join(copy, OVERLAY, 'secrets/nats-auth.conf'), 'utf8'));
    expect(statSync(join(podDir, 'etc/nats-auth/nats-auth.conf')).mode & 0o777).toBe(0o440);
    const placement = JSON.parse(readFileSync(join(work, 'placement-dc-b-0', 'etc/synod/placement/placement.json'), 'utf8'));
    expect(placement).toEqual(initialPlacement(3, 1, ['g', 'p']));
    expect(existsSync(join(work, 'k6-bank', 'scripts/lib/gateway.js'))).toBe(true);
    expect(readFileSync(join(work, 'k6-bank', 'scripts/bank.js'), 'utf8')).toBe(readFileSync(join(REPO_ROOT, 'loadtest/k6/bank.js'), 'utf8'));
    expect(JSON.parse(readFileSync(join(work, 'gateway-dc-b-0', 'etc/synod/nats-creds/gateway.json'), 'utf8')).user).toBe('gateway');
  });

  it('throws on what it does not understand: an unmapped image, a field that changes behaviour, a subPath mount', () => {
    const broken = (edit: (objs: K8sObject[]) => void) => {
      const copyOf = structuredClone(objects);
      edit(copyOf);
      return () => localProcesses(copyOf, work);
    };
    const gateway = (objs: K8sObject[]) => objs.find((o) => o.kind === 'Deployment' && o.metadata.name === 'gateway-dc-a')!.spec.template.spec;
    expect(broken((o) => (gateway(o).containers[0].image = 'redis:7'))).toThrow(/image redis:7/);
    expect(broken((o) => (gateway(o).containers[0].workingDir = '/srv'))).toThrow(/field workingDir/);
    expect(broken((o) => (gateway(o).hostNetwork = true))).toThrow(/field hostNetwork/);
    expect(broken((o) => (gateway(o).containers[0].volumeMounts[0].subPath = 'x'))).toThrow(/field subPath/);
    expect(broken((o) => (gateway(o).containers[0].command = ['sh', '-c', 'node /app/synod.mjs gateway']))).toThrow(/command \["sh"/);
    expect(broken((o) => (gateway(o).containers[0].env = [{ name: 'X', valueFrom: { resourceFieldRef: { resource: 'limits.cpu' } } }]))).toThrow(/valueFrom/);
    const svc = (objs: K8sObject[]) => objs.find((o) => o.kind === 'Service' && o.metadata.name === 'gateway')!;
    expect(broken((o) => (svc(o).spec.ports[0].port = 80))).toThrow(/port 80 forwards to 8080/);
    // The unbroken objects map.
    expect(() => localProcesses(objects, work)).not.toThrow();
  });
});

it('rendered-processes: the spanservers and placement replicas keep serving with stdin closed, the time masters take no stdin', () => {
  const plan = localProcesses(objects, work);
  for (const p of plan.processes.filter((x) => !x.init && ['spanserver', 'placement', 'timemaster'].includes(x.container))) expect(argAfter(p, '--control-stdin'), p.pod).toBe('false');
});

it('rendered-processes: each zone\'s hosts file sends a Service name to its pod in that zone, else to one in another zone; no two processes of a zone share a port', () => {
  const plan = localProcesses(objects, work);
  const ip = (zone: string) => `ip-of-${zone}`;
  for (const zone of ['dc-a', 'dc-b', 'dc-c']) {
    const hosts = serviceHosts(plan, zone, ip);
    // Every zone has a gateway, spanserver and placement pod: its own.
    expect(hosts.gateway).toBe(ip(zone));
    expect(hosts.spanserver).toBe(ip(zone));
    expect(hosts.placement).toBe(ip(zone));
    // The per-zone NATS Services resolve to their own zone from everywhere (the routes).
    for (const dc of ['dc-a', 'dc-b', 'dc-c']) expect(hosts[`nats-${dc}`]).toBe(ip(dc));
    const ports = main(plan.byZone.get(zone)!).flatMap((p) => p.ports.map((x) => x.containerPort));
    expect(new Set(ports).size, zone).toBe(ports.length);
  }
  // A Service with no pod in a zone resolves to another zone's pod.
  const onlyC = structuredClone(plan);
  onlyC.services.set('x', { pods: [{ pod: 'x-0', zone: 'dc-c' }], ports: [] });
  expect(serviceHosts(onlyC, 'dc-a', ip).x).toBe(ip('dc-c'));
  onlyC.services.set('none', { pods: [], ports: [] });
  expect(serviceHosts(onlyC, 'dc-a', ip)).not.toHaveProperty('none');
});
