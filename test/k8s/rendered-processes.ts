/**
 * The processes a rendered Kubernetes deployment (k8s/overlays/kind, k8s/README.md) describes, as
 * local processes grouped by zone: what a test launches, one network namespace per zone, to prove
 * that exactly these commands, flags, environment and files form a working cluster.
 *
 * It changes only what REWRITES lists and throws on anything else it does not understand: a field
 * that would change what a container does (workingDir, envFrom, subPath, hostNetwork, …), an
 * image or command it has no mapping for, a volume type it cannot materialise.
 */
import { accessSync, chmodSync, constants, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findNatsServer } from '@synod/natsd';
import { pinnedZone, selectorMatches, ZONE_LABEL, type K8sObject } from '../../infra/k8s/validate.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Pods with no zone pin (node affinity) run in this zone. Every Deployment and StatefulSet is
 * pinned (k8s:validate checks it), so this applies to the k6 Job only.
 */
export const UNPINNED_ZONE = 'dc-a';

/**
 * Everything the mapping changes, and nothing else:
 * - image `synod[:tag]`: command `node` → this Node (process.execPath); the path prefix `/app/` in
 *   command and args → `<repo>/services/cli/dist/bin/` (the image's /app is that directory plus
 *   the runtime node_modules, Dockerfile); command `install` → the host's coreutils `install`
 *   (its absolute path: the processes get the rendered environment only, no PATH).
 * - image `nats[:tag]`: command `nats-server` → Debian's nats-server (findNatsServer()).
 * - image `grafana/k6[:tag]`: command `k6 run …` → `<node> <repo>/loadtest/k6.mjs run …` with
 *   SYNOD_K6=runner in the environment (the repository's k6 runner, docs/k6.md).
 * - every volume mount path P (and any path below it, in args and env values) → `<workDir>/<pod>P`,
 *   a directory holding the ConfigMap/Secret files, or empty for an emptyDir or a
 *   volumeClaimTemplate; relative paths between mounts (nats.conf's include) stay valid. Only
 *   args and env values are rewritten: a path a process builds itself (Node's os.tmpdir() is
 *   /tmp without TMPDIR) is the host's.
 * - Service names (nats-dc-a, gateway, …) stay as they are: each zone's namespace resolves them
 *   through its hosts file (serviceHosts): to a pod of the Service in that zone when there is one,
 *   else to one in another zone, as a zone-local Service routing would. A Service port must equal
 *   its target port (a hosts file maps names, not ports); anything else throws.
 * - pod names: a StatefulSet's or Deployment's replica i is `<name>-<i>`, a Job's pod `<name>`
 *   (what the downward API's metadata.name gives).
 * - the working directory: the synod image's WORKDIR /app as above; other images' (nats, k6: nothing
 *   relies on it, every path is absolute) is the pod's directory.
 * - securityContext is not applied (k8s:validate checks it): the processes run as the test's user
 *   (root, which network namespaces need), with its capabilities and a writable root.
 * - the environment is exactly the rendered env (plus SYNOD_K6 above); stdin is /dev/null (a
 *   pod's stdin is closed); stdout and stderr go to one log file per container.
 */
export const REWRITES = [
  'image synod: command node -> process.execPath; /app/ -> <repo>/services/cli/dist/bin/; command install -> host install (absolute path)',
  'image nats: command nats-server -> Debian nats-server (findNatsServer)',
  'image grafana/k6: command k6 -> <node> <repo>/loadtest/k6.mjs, env SYNOD_K6=runner',
  'volume mount path P -> <workDir>/<pod>P (args, env values, files; not paths a process builds itself, e.g. os.tmpdir())',
  'Service names unchanged: each zone\'s hosts file maps a Service to its pod in that zone, else to one in another zone (port must equal targetPort)',
  'pod names: <statefulset|deployment>-<i>, <job>',
  'securityContext not applied: processes run as the test user (root, for the namespaces)',
  'working directory: image synod\'s WORKDIR /app -> <repo>/services/cli/dist/bin/; other images -> <workDir>/<pod>',
  'env exactly the rendered env (no PATH, no HOME unless rendered); stdin /dev/null; stdout/stderr to a log file per container',
] as const;

/** The host's coreutils install (the image's is at /usr/bin/install too). */
function hostInstall(): string {
  for (const c of ['/usr/bin/install', '/bin/install']) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  throw new Error('rendered-processes: no coreutils install at /usr/bin/install or /bin/install');
}

export interface FileEntry {
  /** Path relative to the mount directory. */
  path: string;
  content: Buffer;
  mode: number;
}

export interface Mount {
  volume: string;
  /** The path in the container. */
  mountPath: string;
  /** The local directory standing for it. */
  dir: string;
  source: 'configMap' | 'secret' | 'emptyDir' | 'volumeClaim';
  files: FileEntry[];
}

export interface LocalProcess {
  pod: string;
  workload: { kind: string; name: string };
  container: string;
  /** An init container: runs to completion, in order, before the pod's containers start. */
  init: boolean;
  zone: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  /** The working directory (see REWRITES). */
  cwd: string;
  mounts: Mount[];
  ports: Array<{ name?: string; containerPort: number }>;
  probes: { liveness?: { path: string; port: number }; readiness?: { path: string; port: number } };
  /** A Job created suspended (k8s/base/k6-job.yaml): started by hand. */
  suspended: boolean;
}

export interface RenderedPlan {
  processes: LocalProcess[];
  byZone: Map<string, LocalProcess[]>;
  /** Service name → the pods behind it (by its selector), with their zones and the service's ports. */
  services: Map<string, { pods: Array<{ pod: string; zone: string }>; ports: Array<{ name?: string; port: number; targetPort: number }> }>;
}

class Unsupported extends Error {
  constructor(where: string, what: string) {
    super(`rendered-processes: ${where}: ${what} (not in REWRITES and not understood; extend the mapping deliberately)`);
    this.name = 'UnsupportedManifestError';
  }
}

const allowKeys = (where: string, o: Record<string, unknown> | undefined, keys: string[]) => {
  for (const k of Object.keys(o ?? {})) if (!keys.includes(k)) throw new Unsupported(where, `field ${k}`);
};

const WORKLOAD_SPEC_KEYS: Record<string, string[]> = {
  Deployment: ['replicas', 'selector', 'strategy', 'template'],
  StatefulSet: ['serviceName', 'replicas', 'podManagementPolicy', 'selector', 'template', 'volumeClaimTemplates'],
  Job: ['suspend', 'backoffLimit', 'activeDeadlineSeconds', 'template'],
};
const POD_SPEC_KEYS = ['affinity', 'securityContext', 'automountServiceAccountToken', 'terminationGracePeriodSeconds', 'initContainers', 'containers', 'volumes', 'restartPolicy'];
/** Fields that do not change what runs (scheduling-only and security settings are checked by k8s:validate). */
const CONTAINER_KEYS = ['name', 'image', 'imagePullPolicy', 'command', 'args', 'env', 'ports', 'livenessProbe', 'readinessProbe', 'resources', 'securityContext', 'volumeMounts'];

const imageName = (image: string) => image.replace(/@.*$/, '').replace(/:[^/]*$/, '');

/**
 * The local command for a container's command and args: `rewrite` maps the manifest's own
 * arguments (mount paths, /app/); the host paths this mapping puts in are never rewritten, so a
 * checkout under a directory that is also a mount path in the pod (/tmp) stays as it is.
 */
function mapCommand(where: string, image: string, command: string[], manifestArgs: string[], rewrite: (v: string) => string): { command: string; args: string[]; env: Record<string, string> } {
  const name = imageName(image);
  const [cmd, ...restRaw] = command;
  const rest = restRaw.map(rewrite);
  const args = manifestArgs.map(rewrite);
  if (name === 'synod') {
    if (cmd === 'node') return { command: process.execPath, args: [...rest, ...args], env: {} };
    if (cmd === 'install') return { command: hostInstall(), args: [...rest, ...args], env: {} };
  } else if (name === 'nats') {
    if (cmd === 'nats-server') return { command: findNatsServer(), args: [...rest, ...args], env: {} };
  } else if (name === 'grafana/k6') {
    if (cmd === 'k6') return { command: process.execPath, args: [join(REPO_ROOT, 'loadtest', 'k6.mjs'), ...rest, ...args], env: { SYNOD_K6: 'runner' } };
  } else throw new Unsupported(where, `image ${image}`);
  throw new Unsupported(where, `command ${JSON.stringify(command)} of image ${image}`);
}

/** Replaces `/app/` and mount-path prefixes in one argument or env value. */
function rewritePath(value: string, mounts: Mount[]): string {
  if (value.startsWith('/app/')) return `${join(REPO_ROOT, 'services', 'cli', 'dist', 'bin')}/${value.slice('/app/'.length)}`;
  let v = value;
  // Longest mount path first, so /etc/nats-auth is not taken for /etc/nats.
  for (const m of [...mounts].sort((a, b) => b.mountPath.length - a.mountPath.length)) {
    if (v === m.mountPath || v.startsWith(`${m.mountPath}/`)) {
      v = m.dir + v.slice(m.mountPath.length);
      break;
    }
  }
  return v;
}

function probeOf(where: string, p: K8sObject | undefined, ports: LocalProcess['ports']): { path: string; port: number } | undefined {
  if (!p) return undefined;
  allowKeys(`${where} probe`, p, ['httpGet', 'initialDelaySeconds', 'periodSeconds', 'timeoutSeconds', 'failureThreshold', 'successThreshold']);
  if (!p.httpGet) throw new Unsupported(where, 'a probe other than httpGet');
  allowKeys(`${where} probe httpGet`, p.httpGet, ['path', 'port']);
  const port = typeof p.httpGet.port === 'number' ? p.httpGet.port : ports.find((x) => x.name === p.httpGet.port)?.containerPort;
  if (port === undefined) throw new Unsupported(where, `probe port ${p.httpGet.port}`);
  return { path: p.httpGet.path, port };
}

/** The processes of the rendered objects, under workDir (nothing is written: see writeMounts). */
export function localProcesses(objects: K8sObject[], workDir: string): RenderedPlan {
  const byName = (kind: string, name: string) => {
    const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
    if (!o) throw new Error(`rendered-processes: no ${kind} ${name}`);
    return o;
  };
  const dataOf = (kind: 'ConfigMap' | 'Secret', name: string): Record<string, Buffer> => {
    const o = byName(kind, name);
    if (kind === 'Secret') return Object.fromEntries(Object.entries((o.data ?? {}) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v.replace(/[\r\n]/g, ''), 'base64')]));
    return Object.fromEntries(Object.entries((o.data ?? {}) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'utf8')]));
  };
  const processes: LocalProcess[] = [];
  const podLabels: Array<{ pod: string; zone: string; labels: Record<string, string> }> = [];
  for (const w of objects) {
    if (['Pod', 'DaemonSet', 'ReplicaSet', 'CronJob'].includes(w.kind)) throw new Unsupported(`${w.kind}/${w.metadata.name}`, `workload kind ${w.kind}`);
    const specKeys = WORKLOAD_SPEC_KEYS[w.kind];
    if (!specKeys) continue;
    const where = `${w.kind}/${w.metadata.name}`;
    allowKeys(where, w.spec, specKeys);
    const template = w.spec.template as K8sObject;
    allowKeys(`${where} template`, template, ['metadata', 'spec']);
    const spec = template.spec as K8sObject;
    allowKeys(`${where} pod spec`, spec, POD_SPEC_KEYS);
    if (spec.affinity) {
      allowKeys(`${where} affinity`, spec.affinity, ['nodeAffinity']);
      allowKeys(`${where} nodeAffinity`, spec.affinity.nodeAffinity, ['requiredDuringSchedulingIgnoredDuringExecution']);
    }
    const pinned = pinnedZone(spec);
    if (spec.affinity && !pinned) throw new Unsupported(where, 'node affinity other than one topology.kubernetes.io/zone');
    const zone = pinned ?? UNPINNED_ZONE;
    const labels = (template.metadata?.labels ?? {}) as Record<string, string>;
    if (labels[ZONE_LABEL] && labels[ZONE_LABEL] !== zone) throw new Unsupported(where, `pods labelled ${ZONE_LABEL}=${labels[ZONE_LABEL]} would run in ${zone}`);
    const replicas = w.kind === 'Job' ? 1 : ((w.spec.replicas as number | undefined) ?? 1);
    const podNames = w.kind === 'Job' ? [w.metadata.name] : Array.from({ length: replicas }, (_, i) => `${w.metadata.name}-${i}`);
    const claims = new Set(((w.spec.volumeClaimTemplates ?? []) as K8sObject[]).map((c) => c.metadata.name));
    for (const pod of podNames) {
      podLabels.push({ pod, zone, labels });
      const podDir = join(workDir, pod);
      const volumeFiles = (name: string): { source: Mount['source']; files: FileEntry[] } => {
        if (claims.has(name)) return { source: 'volumeClaim', files: [] };
        const v = ((spec.volumes ?? []) as K8sObject[]).find((x) => x.name === name);
        if (!v) throw new Unsupported(where, `volume ${name} is neither in volumes nor a volumeClaimTemplate`);
        const type = Object.keys(v).filter((k) => k !== 'name');
        if (type.length !== 1) throw new Unsupported(where, `volume ${name} of types ${type.join(', ')}`);
        if (v.emptyDir) return { source: 'emptyDir', files: [] };
        const src = v.configMap ?? v.secret;
        if (!src) throw new Unsupported(where, `volume ${name} of type ${type[0]}`);
        const kind = v.configMap ? 'ConfigMap' : 'Secret';
        allowKeys(`${where} volume ${name}`, src, kind === 'ConfigMap' ? ['name', 'items', 'defaultMode'] : ['secretName', 'items', 'defaultMode']);
        const data = dataOf(kind, kind === 'ConfigMap' ? src.name : src.secretName);
        const mode = (src.defaultMode as number | undefined) ?? 0o644;
        const items: Array<{ key: string; path: string; mode?: number }> = (src.items as Array<{ key: string; path: string; mode?: number }> | undefined) ?? Object.keys(data).map((key) => ({ key, path: key }));
        return {
          source: kind === 'ConfigMap' ? 'configMap' : 'secret',
          files: items.map((it) => {
            const content = data[it.key];
            if (content === undefined) throw new Error(`rendered-processes: ${where}: ${kind} has no key ${it.key}`);
            return { path: it.path, content, mode: it.mode ?? mode };
          }),
        };
      };
      const containers = [...((spec.initContainers ?? []) as K8sObject[]).map((c) => ({ c, init: true })), ...((spec.containers ?? []) as K8sObject[]).map((c) => ({ c, init: false }))];
      for (const { c, init } of containers) {
        const cw = `${where} container ${c.name}`;
        allowKeys(cw, c, CONTAINER_KEYS);
        if (!c.command) throw new Unsupported(cw, 'no explicit command (the image entrypoint is not mapped)');
        const mounts: Mount[] = ((c.volumeMounts ?? []) as K8sObject[]).map((m) => {
          allowKeys(`${cw} volumeMount ${m.name}`, m, ['name', 'mountPath', 'readOnly']);
          return { volume: m.name, mountPath: m.mountPath, dir: join(podDir, m.mountPath), ...volumeFiles(m.name) };
        });
        const mapped = mapCommand(cw, c.image, c.command as string[], (c.args ?? []) as string[], (v) => rewritePath(v, mounts));
        const env: Record<string, string> = {};
        for (const e of (c.env ?? []) as K8sObject[]) {
          allowKeys(`${cw} env ${e.name}`, e, ['name', 'value', 'valueFrom']);
          if (e.value !== undefined) env[e.name] = rewritePath(String(e.value), mounts);
          else if (e.valueFrom?.secretKeyRef || e.valueFrom?.configMapKeyRef) {
            const ref = e.valueFrom.secretKeyRef ?? e.valueFrom.configMapKeyRef;
            const value = dataOf(e.valueFrom.secretKeyRef ? 'Secret' : 'ConfigMap', ref.name)[ref.key];
            if (value === undefined) throw new Error(`rendered-processes: ${cw}: env ${e.name}: no key ${ref.key} in ${ref.name}`);
            env[e.name] = value.toString('utf8');
          } else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = pod;
          else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[e.name] = w.metadata.namespace ?? 'default';
          else throw new Unsupported(`${cw} env ${e.name}`, `valueFrom ${JSON.stringify(e.valueFrom)}`);
        }
        const ports = ((c.ports ?? []) as K8sObject[]).map((p) => ({ ...(p.name ? { name: p.name as string } : {}), containerPort: p.containerPort as number }));
        const liveness = probeOf(cw, c.livenessProbe, ports);
        const readiness = probeOf(cw, c.readinessProbe, ports);
        processes.push({
          pod,
          workload: { kind: w.kind, name: w.metadata.name },
          container: c.name,
          init,
          zone,
          command: mapped.command,
          cwd: imageName(c.image as string) === 'synod' ? join(REPO_ROOT, 'services', 'cli', 'dist', 'bin') : podDir,
          args: mapped.args,
          env: { ...env, ...mapped.env },
          mounts,
          ports,
          probes: { ...(liveness ? { liveness } : {}), ...(readiness ? { readiness } : {}) },
          suspended: w.kind === 'Job' && w.spec.suspend === true,
        });
      }
    }
  }
  const byZone = new Map<string, LocalProcess[]>();
  for (const p of processes) byZone.set(p.zone, [...(byZone.get(p.zone) ?? []), p]);
  const services: RenderedPlan['services'] = new Map();
  for (const s of objects.filter((o) => o.kind === 'Service')) {
    const pods = podLabels.filter((p) => selectorMatches({ matchLabels: s.spec.selector }, p.labels)).map(({ pod, zone }) => ({ pod, zone }));
    const ports = ((s.spec.ports ?? []) as K8sObject[]).map((p) => {
      // A named targetPort resolves to the container port of that name on the selected pods.
      const target = typeof p.targetPort === 'number' ? p.targetPort : p.targetPort === undefined ? p.port : processes.filter((x) => pods.some((y) => y.pod === x.pod)).flatMap((x) => x.ports).find((x) => x.name === p.targetPort)?.containerPort;
      if (target === undefined) throw new Unsupported(`Service/${s.metadata.name}`, `targetPort ${p.targetPort}`);
      if (target !== p.port) throw new Unsupported(`Service/${s.metadata.name}`, `port ${p.port} forwards to ${target} (a hosts file maps the name, not the port)`);
      return { ...(p.name ? { name: p.name as string } : {}), port: p.port as number, targetPort: target };
    });
    services.set(s.metadata.name, { pods, ports });
  }
  return { processes, byZone, services };
}

/** Writes a process's mounts: the ConfigMap and Secret files with their modes, empty directories for the rest. */
export function writeMounts(p: LocalProcess): void {
  for (const m of p.mounts) {
    mkdirSync(m.dir, { recursive: true });
    for (const f of m.files) {
      const file = join(m.dir, f.path);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, f.content, { mode: f.mode });
      chmodSync(file, f.mode);
    }
  }
}

/**
 * The hosts-file entries of one zone: every Service name → the address of the zone its pod runs
 * in, a pod of that zone when the Service has one there, else the first of another zone (in the
 * order of the Service's pods). Services selecting no pod are left out.
 */
export function serviceHosts(plan: RenderedPlan, zone: string, addressOf: (zone: string) => string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, s] of plan.services) {
    const pod = s.pods.find((p) => p.zone === zone) ?? s.pods[0];
    if (pod) out[name] = addressOf(pod.zone);
  }
  return out;
}
