import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OVERLAY, partitionPolicy, prepareCopy, validate, validateCopy, type K8sObject } from '../../infra/k8s/validate.js';

let copy: string;
let objects: K8sObject[];
let partitions: Map<string, K8sObject[]>;
const copies: string[] = [];

beforeAll(async () => {
  copy = prepareCopy();
  const report = await validateCopy(copy);
  objects = report.objects;
  partitions = new Map(['dc-a', 'dc-b', 'dc-c'].map((dc) => [dc, partitionPolicy(copy, dc)]));
}, 60_000);
afterAll(() => {
  for (const c of [copy, ...copies]) rmSync(c, { recursive: true, force: true });
});

const find = (objs: K8sObject[], kind: string, name: string) => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind}/${name}`);
  return o;
};
/** Validates a deliberately broken clone of the rendered objects. */
async function broken(edit: (objs: K8sObject[], parts: Map<string, K8sObject[]>) => void): Promise<string[]> {
  const objs = structuredClone(objects);
  const parts = structuredClone(partitions);
  edit(objs, parts);
  return (await validate(objs, parts)).errors;
}

describe('npm run k8s:validate', () => {
  it('the real kind overlay renders and validates: every object against the API schemas, every policy check', async () => {
    const report = await validateCopy(copy);
    expect(report.errors).toEqual([]);
    expect(report.lines).toHaveLength(report.objects.length + 3);
    expect(report.lines.every((l) => l.startsWith('ok '))).toBe(true);
    const kinds = report.objects.map((o) => o.kind);
    for (const k of ['Namespace', 'ConfigMap', 'Secret', 'Service', 'Deployment', 'StatefulSet', 'PodDisruptionBudget', 'Job', 'NetworkPolicy']) expect(kinds).toContain(k);
    expect(report.objects.filter((o) => o.kind === 'StatefulSet').map((o) => o.metadata.name).sort()).toEqual(['placement-dc-a', 'placement-dc-b', 'placement-dc-c', 'spanserver-dc-a', 'spanserver-dc-b', 'spanserver-dc-c']);
  });

  it('fails a manifest whose Service port lost its required port (edited in the copy, rendered by kubectl)', async () => {
    const bad = prepareCopy((root) => {
      const file = join(root, 'k8s/base/gateway.yaml');
      const text = readFileSync(file, 'utf8');
      const edited = text.replace(/\n {2}- name: http\n {4}port: 8080\n/, '\n  - name: http\n');
      expect(edited).not.toBe(text);
      writeFileSync(file, edited);
    });
    copies.push(bad);
    const report = await validateCopy(bad);
    expect(report.errors.some((e) => /^Service\/gateway: .*port/.test(e))).toBe(true);
    expect(report.lines.some((l) => l.startsWith('FAIL') && l.includes('Service/gateway'))).toBe(true);
  });

  it('fails a wrong type, an unknown kind and an object without a name', async () => {
    expect(await broken((o) => (find(o, 'StatefulSet', 'spanserver-dc-a').spec.replicas = 'one'))).toEqual([expect.stringMatching(/^StatefulSet\/spanserver-dc-a: .*replicas/)]);
    expect(await broken((o) => void o.push({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }))).toEqual([expect.stringMatching(/Widget\/w: unknown kind example.com\/v1 Widget/)]);
    expect(await broken((o) => void o.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: {} } as K8sObject))).toEqual([expect.stringMatching(/no metadata.name/)]);
  });

  it('fails a container without an image', async () => {
    expect(await broken((o) => delete find(o, 'Deployment', 'gateway-dc-a').spec.template.spec.containers[0].image)).toContain('Deployment/gateway-dc-a container gateway: no image');
  });

  it('fails a serving container without a liveness or readiness probe', async () => {
    expect(await broken((o) => delete find(o, 'StatefulSet', 'spanserver-dc-b').spec.template.spec.containers[0].livenessProbe)).toEqual(['StatefulSet/spanserver-dc-b container spanserver: no livenessProbe']);
    expect(await broken((o) => delete find(o, 'Deployment', 'nats-dc-c').spec.template.spec.containers[0].readinessProbe)).toEqual(['Deployment/nats-dc-c container nats: no readinessProbe']);
  });

  it('fails a container without resources', async () => {
    expect(await broken((o) => delete find(o, 'Job', 'k6-bank').spec.template.spec.containers[0].resources.limits)).toEqual(['Job/k6-bank container k6: no resources.limits.cpu', 'Job/k6-bank container k6: no resources.limits.memory']);
  });

  it('fails runAsNonRoot false, a writable root file system (init containers too) and kept capabilities', async () => {
    expect(await broken((o) => (find(o, 'Deployment', 'gateway-dc-a').spec.template.spec.containers[0].securityContext.runAsNonRoot = false))).toEqual(['Deployment/gateway-dc-a container gateway: runAsNonRoot is not true']);
    expect(await broken((o) => (find(o, 'StatefulSet', 'placement-dc-a').spec.template.spec.initContainers[0].securityContext.readOnlyRootFilesystem = false))).toEqual([
      'StatefulSet/placement-dc-a init container creds: readOnlyRootFilesystem is not true',
    ]);
    expect(await broken((o) => (find(o, 'Deployment', 'timemaster-dc-a').spec.template.spec.containers[0].securityContext.capabilities.drop = []))).toEqual(['Deployment/timemaster-dc-a container timemaster: capabilities do not drop ALL']);
  });

  it('fails a StatefulSet or Deployment that is not pinned to its zone (only the k6 Job may run anywhere)', async () => {
    expect(await broken((o) => delete find(o, 'Deployment', 'gateway-dc-b').spec.template.spec.affinity)).toEqual([expect.stringMatching(/^Deployment\/gateway-dc-b: not pinned to one zone/)]);
    expect(find(objects, 'Job', 'k6-bank').spec.template.spec.affinity).toBeUndefined();
    expect(await broken((o) => delete find(o, 'StatefulSet', 'placement-dc-c').spec.template.spec.affinity)).toEqual([expect.stringMatching(/^StatefulSet\/placement-dc-c: not pinned to one zone/)]);
    expect(
      await broken((o) => (find(o, 'StatefulSet', 'spanserver-dc-a').spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values = ['dc-b'])),
    ).toEqual([
      'StatefulSet/spanserver-dc-a: pinned to dc-b but labelled dc-a',
      // Pinned into dc-b, it also collides with dc-b's spanserver on its port.
      expect.stringMatching(/^StatefulSet\/spanserver-dc-b container spanserver: port 9092 is also StatefulSet\/spanserver-dc-a container spanserver's, both pinned to zone dc-b/),
    ]);
  });

  it('fails a StatefulSet without a PodDisruptionBudget (removed from the base, rendered by kubectl)', async () => {
    const bad = prepareCopy((root) => {
      const file = join(root, 'k8s/base/spanserver.yaml');
      const docs = readFileSync(file, 'utf8').split(/^---$/m);
      const kept = docs.filter((d) => !(d.includes('kind: PodDisruptionBudget') && d.includes('name: spanserver-dc-a')));
      expect(kept).toHaveLength(docs.length - 1);
      writeFileSync(file, kept.join('---'));
    });
    copies.push(bad);
    expect((await validateCopy(bad)).errors).toEqual(['StatefulSet/spanserver-dc-a: no PodDisruptionBudget selects its pods']);
  });

  it('fails pods under two PodDisruptionBudgets', async () => {
    const errors = await broken((o) => void o.push({ ...structuredClone(find(o, 'PodDisruptionBudget', 'spanserver-dc-a')), metadata: { name: 'all-spanservers', namespace: 'synod' }, spec: { maxUnavailable: 1, selector: { matchLabels: { 'app.kubernetes.io/name': 'spanserver' } } } }));
    expect(errors).toHaveLength(3);
    expect(errors[0]).toMatch(/StatefulSet\/spanserver-dc-a: its pods are under 2 PodDisruptionBudgets/);
  });

  it('fails a partition policy that selects two zones, or none', async () => {
    const twoZones = await broken((_, parts) => (parts.get('dc-a')![0]!.spec.podSelector = { matchExpressions: [{ key: 'synod.dev/dc', operator: 'In', values: ['dc-a', 'dc-b'] }] }));
    expect(twoZones).toEqual(['partition dc-a: selects pods of dc-a, dc-b, not exactly zone dc-a']);
    const none = await broken((_, parts) => (parts.get('dc-c')![0]!.spec.podSelector = { matchLabels: { 'synod.dev/dc': 'dc-x' } }));
    expect(none).toEqual(['partition dc-c: its podSelector selects no pods']);
    const allows = await broken((_, parts) => (parts.get('dc-b')![0]!.spec.ingress = [{}]));
    expect(allows).toEqual(['partition dc-b: allows traffic (it must only take away the zone\'s cross-zone rules)']);
  });

  it('the partition policy replaces the zone\'s cross-zone policy, which is the only rule letting NATS routes between zones', () => {
    for (const dc of ['dc-a', 'dc-b', 'dc-c']) {
      const p = partitions.get(dc)![0]!;
      const replaced = find(objects, 'NetworkPolicy', p.metadata.name);
      expect(replaced.spec.podSelector).toEqual(p.spec.podSelector);
      expect(replaced.spec.egress).toEqual([{ to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'nats' } } }], ports: [{ protocol: 'TCP', port: 6222 }] }]);
    }
    // No other policy lets a pod reach another zone's pods.
    for (const np of objects.filter((o) => o.kind === 'NetworkPolicy' && !o.metadata.name.startsWith('cross-zone-'))) {
      for (const rule of np.spec.egress ?? []) for (const to of rule.to ?? []) {
        const zone = to.podSelector?.matchLabels?.['synod.dev/dc'];
        if (zone) expect(np.spec.podSelector.matchLabels['synod.dev/dc']).toBe(zone);
        else expect(to.namespaceSelector ?? to.podSelector?.matchLabels?.['app.kubernetes.io/name']).toBeDefined();
      }
    }
  });
});

// The kustomization the validator renders is the one the scripts apply.
it('validateCopy renders k8s/overlays/kind', () => {
  expect(OVERLAY).toBe('k8s/overlays/kind');
  expect(readFileSync(join(copy, OVERLAY, 'kustomization.yaml'), 'utf8')).toContain('secretGenerator');
});

it('fails a spanserver, placement replica or time master that would stop at once because a pod\'s stdin is closed', async () => {
  expect(
    await broken((o) => {
      const args = find(o, 'StatefulSet', 'spanserver-dc-a').spec.template.spec.containers[0].args as string[];
      args.splice(args.indexOf('--control-stdin'), 2);
    }),
  ).toEqual(['StatefulSet/spanserver-dc-a container spanserver: synod spanserver stops when its stdin closes, which in a pod is at once: pass --control-stdin false']);
  expect(
    await broken((o) => {
      const args = find(o, 'StatefulSet', 'placement-dc-b').spec.template.spec.containers[0].args as string[];
      args[args.indexOf('--control-stdin') + 1] = 'true';
    }),
  ).toHaveLength(1);
  expect(
    await broken((o) => {
      const args = find(o, 'Deployment', 'timemaster-dc-c').spec.template.spec.containers[0].args as string[];
      args.splice(args.indexOf('--control-stdin'), 2);
    }),
  ).toEqual(['Deployment/timemaster-dc-c container timemaster: synod timemaster stops when its stdin closes, which in a pod is at once: pass --control-stdin false']);
});

it('fails two containers pinned to one zone that listen on the same port (one network namespace per zone locally)', async () => {
  // The time master of dc-b moved onto the spanserver's port (its flag too, so only the collision is wrong).
  const errors = await broken((o) => {
    const c = find(o, 'Deployment', 'timemaster-dc-b').spec.template.spec.containers[0];
    c.ports[0].containerPort = 9092;
    c.args[c.args.indexOf('--metrics-port') + 1] = '9092';
  });
  expect(errors).toEqual([expect.stringMatching(/^StatefulSet\/spanserver-dc-b container spanserver: port 9092 is also Deployment\/timemaster-dc-b container timemaster's, both pinned to zone dc-b|^Deployment\/timemaster-dc-b container timemaster: port 9092 is also StatefulSet\/spanserver-dc-b container spanserver's, both pinned to zone dc-b/)]);
  // Two replicas of one zone's gateway collide with each other.
  expect(await broken((o) => (find(o, 'Deployment', 'gateway-dc-c').spec.replicas = 2))).toEqual([expect.stringMatching(/^Deployment\/gateway-dc-c replica 1 container gateway: port 8080 is also Deployment\/gateway-dc-c replica 0 container gateway's/)]);
  // The same port in different zones is fine: every zone has its nats-server on 4222.
  const natsPorts = ['dc-a', 'dc-b', 'dc-c'].map((dc) => find(objects, 'Deployment', `nats-${dc}`).spec.template.spec.containers[0].ports.map((p: { containerPort: number }) => p.containerPort));
  expect(natsPorts).toEqual([[4222, 6222, 8222], [4222, 6222, 8222], [4222, 6222, 8222]]);
});

it('fails a synod process that listens on an undeclared port or not on every address', async () => {
  expect(
    await broken((o) => {
      const args = find(o, 'StatefulSet', 'placement-dc-a').spec.template.spec.containers[0].args as string[];
      args[args.indexOf('--metrics-port') + 1] = '9999';
    }),
  ).toEqual(['StatefulSet/placement-dc-a container placement: --metrics-port 9999 is not a declared container port']);
  expect(
    await broken((o) => {
      const args = find(o, 'Deployment', 'gateway-dc-b').spec.template.spec.containers[0].args as string[];
      args[args.indexOf('--host') + 1] = '127.0.0.1';
    }),
  ).toEqual(['Deployment/gateway-dc-b container gateway: --port without --host 0.0.0.0 listens where neither probes nor other pods reach it']);
});

it('the gateway is one Deployment per zone, each on its own zone\'s NATS server, behind one Service selecting all three', () => {
  for (const dc of ['dc-a', 'dc-b', 'dc-c']) {
    const d = find(objects, 'Deployment', `gateway-${dc}`);
    const args = d.spec.template.spec.containers[0].args as string[];
    expect(args[args.indexOf('--nats-url') + 1]).toBe(`nats://nats-${dc}:4222`);
    expect(args[args.indexOf('--dc') + 1]).toBe(dc);
    expect(d.spec.template.metadata.labels['synod.dev/dc']).toBe(dc);
  }
  expect(find(objects, 'Service', 'gateway').spec.selector).toEqual({ 'app.kubernetes.io/name': 'gateway' });
  const k6 = find(objects, 'Job', 'k6-bank').spec.template.spec.containers[0].env.find((e: { name: string }) => e.name === 'SYNOD_GATEWAY');
  expect(k6.value).toBe('http://gateway:8080');
});
