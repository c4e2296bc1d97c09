import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { SynodError } from '@synod/codec';
import { startNatsServer, type NatsServerHandle } from '@synod/natsd';
import { DcNetwork, type DcNetworkJSON } from '@synod/netns';
import { RangeMap } from '@synod/placement';
import { permissionsFor, subjects, type NatsCreds, type NatsRole, type NatsUser } from '@synod/transport';
import { ChildNode, RotatingLog } from './child-node.js';
import { DC_NAMES, initialPlacement } from './initial-placement.js';

export interface LaunchOptions {
  dataDir: string;
  dcs: number;
  /** Spanservers per DC (default 1): node ids n1…n(dcs × N), DCs round-robin. */
  nodesPerDc?: number;
  splitKeys: string[];
  /**
   * auto: one placement replica per DC (p1, p2, …) when the placement service package can run,
   * else a log line saying why not; off (the default here; `synod up` passes auto): none.
   */
  placementService?: 'auto' | 'off';
  /** Extra flags for every placement replica (e.g. planner thresholds: synod placement --help). */
  placementArgs?: string[];
  /** Why the placement service cannot run (undefined: it can); default placementServiceUnavailable. */
  placementCheck?: () => Promise<string | undefined>;
  cluster: string;
  natsPort?: number;
  /** daemon (default): time masters per DC and a sync daemon in every spanserver; local: fixed ε. */
  truetime?: 'daemon' | 'local';
  syncIntervalMs?: number;
  epsilonMs?: number;
  /** local: ε (ms) of particular nodes by node id (n1, n2, …); the others get epsilonMs. */
  epsilonMsByNode?: Record<string, number>;
  logLevel?: string;
  /**
   * auto (default): every process serves /metrics, /healthz and /readyz on a free loopback port
   * (--metrics-port), listed in cluster.json under `metrics`; off: none (docs/metrics.md).
   */
  metrics?: 'auto' | 'off';
  /**
   * none (default): nats-server admits anyone. users: one NATS user per process with a random
   * password and the subject permissions of its role, files under `<data-dir>/creds/` (mode
   * 0600), plus `operator`, `client` and `gateway` credentials for tools (docs/transport.md "Credentials").
   */
  natsAuth?: 'none' | 'users';
  /**
   * Each DC in its own network namespace with its own nats-server, the servers joined by routes,
   * so that `synod chaos partition --network` is a real network fault (docs/netns.md). Needs root.
   */
  netns?: boolean;
  /** Flags for node itself in every spanserver (a profiler: `--cpu-prof`, `--cpu-prof-dir=…`; bench:vs-etcd --cpu-prof). */
  spanserverNodeFlags?: string[];
  say?: (s: string) => void;
  /**
   * Aborting it (e.g. on SIGTERM) during start-up stops whatever was started already and makes
   * launchCluster reject with LaunchAbortedError.
   */
  signal?: AbortSignal;
}

/** launchCluster was aborted through its signal; everything it had started is stopped. */
export class LaunchAbortedError extends Error {
  constructor() {
    super('start-up interrupted; every process started so far was stopped');
    this.name = 'LaunchAbortedError';
  }
}

export interface ClusterFile {
  natsUrl: string;
  cluster: string;
  /** The placement.json the cluster started from. */
  placement: string;
  /** The placement service's replicas, when it runs (absent in files of older clusters). */
  placementNodes?: Array<{ id: string; dc: string }>;
  /** Each process's metrics and probe endpoint by process name (n1, tm-dc-a, p1, …), when served. */
  metrics?: Record<string, string>;
  /** With `natsAuth: users`: the directory of credentials files (`<user>.json`). */
  creds?: string;
  /** With `--netns`: each DC's own nats-server (natsUrl is the first DC's). */
  natsUrls?: Record<string, string>;
  /** With `--netns`: the network (DcNetwork.toJSON()), for `synod chaos --network`. */
  network?: DcNetworkJSON;
}

/**
 * `n` distinct free loopback ports: all are bound at once (so distinct), then released for the
 * children to bind. Another process could take one in between; the child then fails to start
 * and says so (EADDRINUSE), like any launch failure.
 */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => resolve(srv));
    })),
  );
  const ports = servers.map((srv) => (srv.address() as AddressInfo).port);
  await Promise.all(servers.map((srv) => new Promise((r) => srv.close(r))));
  return ports;
}

/** Credentials `synod up` writes besides one per process: for itself and the chaos tool, for clients, for a gateway. */
export const TOOL_CREDENTIALS: ReadonlyArray<{ user: string; role: NatsRole }> = [
  { user: 'operator', role: 'operator' },
  { user: 'client', role: 'client' },
  { user: 'gateway', role: 'client' },
];

/**
 * Generates a fresh random password per user (every launch: no secret outlives its cluster) and
 * writes each credential to `<dir>/<user>.json`, mode 0600 in a 0700 directory; returns the
 * server's users. `processes` are nodes: their user name is their node id.
 */
export function writeCredentials(dir: string, cluster: string, processes: Array<{ id: string; serves?: string[] }>): NatsUser[] {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const users: NatsUser[] = [];
  const entries = [...processes.map((p) => ({ user: p.id, role: 'node' as NatsRole, serves: p.serves ?? [] })), ...TOOL_CREDENTIALS.map((t) => ({ ...t, serves: [] }))];
  for (const e of entries) {
    const password = randomBytes(24).toString('hex');
    const creds: NatsCreds = { user: e.user, password, role: e.role, cluster, ...(e.role === 'node' ? { nodeId: e.user } : {}) };
    const file = join(dir, `${e.user}.json`);
    writeFileSync(file, JSON.stringify(creds, null, 2) + '\n', { mode: 0o600 });
    // The mode given to writeFileSync applies only when it creates the file.
    chmodSync(file, 0o600);
    users.push({ user: e.user, password, permissions: permissionsFor(cluster, e.role, e.user, e.serves) });
  }
  return users;
}

export interface LaunchedCluster {
  /** The (first DC's, with netns) nats-server. */
  nats: NatsServerHandle;
  /** Every nats-server: one, or one per DC with netns. */
  natsServers: NatsServerHandle[];
  /** With netns: the DCs' network. */
  network?: DcNetwork;
  nodes: ChildNode[];
  masters: ChildNode[];
  /** The placement service's replicas (empty when it does not run). */
  placement: ChildNode[];
  rangeMap: RangeMap;
  info: ClusterFile;
  /** Where every child's stderr log is appended: `<data-dir>/logs/<name>.log`. */
  logDir: string;
  spawnNode(index: number): ChildNode;
  /** Stops every process and removes `<data-dir>/cluster.json`. */
  stop(): Promise<void>;
}

/**
 * Why the placement service cannot run in this checkout, or undefined when it can: its package
 * is loaded the way `synod placement` loads it.
 */
export async function placementServiceUnavailable(): Promise<string | undefined> {
  try {
    const mod = (await import('@synod/placement-service')) as { runPlacement?: unknown };
    return typeof mod.runPlacement === 'function' ? undefined : '@synod/placement-service exports no runPlacement';
  } catch (err) {
    return `@synod/placement-service cannot be loaded (${(err instanceof Error ? err.message : String(err)).split('\n')[0]})`;
  }
}

/** Starts nats-server and one spanserver per DC as child processes, data under one directory. */
export async function launchCluster(opts: LaunchOptions): Promise<LaunchedCluster> {
  const say = opts.say ?? (() => undefined);
  if (opts.dcs < 1 || opts.dcs > DC_NAMES.length) throw new SynodError('INVALID_ARGUMENT', `--dcs must be 1..${DC_NAMES.length}`);
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const placementFile = join(dataDir, 'placement.json');
  let rangeMap: RangeMap;
  if (existsSync(placementFile)) {
    // Data on disk belongs to this map: reuse it rather than silently re-cutting the key space.
    const parsed = RangeMap.safeParse(JSON.parse(readFileSync(placementFile, 'utf8')));
    if (!parsed.ok) throw new SynodError('INVALID_ARGUMENT', `${placementFile}: ${parsed.error}`);
    rangeMap = parsed.map;
    say(`reusing ${placementFile} (${rangeMap.all().length} splits, ${rangeMap.nodes().length} nodes)`);
  } else {
    // Written as built (with each split's leaderDc and generation, which the placement service
    // reads); spanservers read it through RangeMap, which keeps what routing needs.
    const initial = initialPlacement(opts.dcs, opts.nodesPerDc ?? 1, opts.splitKeys);
    rangeMap = RangeMap.parse(initial);
    writeFileSync(placementFile, JSON.stringify(initial, null, 2) + '\n');
  }
  const logDir = join(dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const clusterFile = join(dataDir, 'cluster.json');
  const signal = opts.signal;
  // Everything started so far, so that a failure or an abort at any step stops exactly that.
  let nats: NatsServerHandle | undefined;
  const natsServers: NatsServerHandle[] = [];
  let network: DcNetwork | undefined;
  const natsUrlOf = new Map<string, string>();
  const masters: ChildNode[] = [];
  const children: ChildNode[] = [];
  const placement: ChildNode[] = [];
  let natsLog: RotatingLog | undefined;
  const natsLogs: RotatingLog[] = [];
  const stop = async () => {
    await Promise.all([...placement, ...children].map((c) => c.stop()));
    await Promise.all(masters.map((m) => m.stop()));
    await Promise.all(natsServers.map((n) => n.stop()));
    await natsLog?.close();
    await Promise.all(natsLogs.map((l) => l.close()));
    // After every process in it has stopped; destroy() kills any that did not.
    if (network) await network.destroy().catch((err: Error) => say(`network       NOT fully removed: ${err.message}`));
    // Only the file this launch wrote: a later cluster may have written its own since.
    try {
      if (existsSync(clusterFile) && nats && (JSON.parse(readFileSync(clusterFile, 'utf8')) as ClusterFile).natsUrl === nats.url) rmSync(clusterFile, { force: true });
    } catch {
      /* unreadable: not ours to judge */
    }
  };
  const aborted = new Promise<never>((_, reject) => {
    if (!signal) return;
    const fail = () => reject(new LaunchAbortedError());
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
  aborted.catch(() => undefined);
  /** Waits for `p` unless the launch is aborted first. */
  const step = <T>(p: Promise<T>): Promise<T> => Promise.race([p, aborted]);
  const checkAborted = () => {
    if (signal?.aborted) throw new LaunchAbortedError();
  };
  const truetime = opts.truetime ?? 'daemon';
  const dcs = [...new Set(rangeMap.nodes().map((n) => n.dc))];
  // Tolerating one lying master takes three; with fewer DCs every master must be believed.
  const maxLiars = dcs.length >= 3 ? 1 : 0;
  const syncIntervalMs = String(opts.syncIntervalMs ?? 5_000);
  let common: string[] = [];
  // A process keeps its metrics port across restarts (spawnNode), so cluster.json stays true.
  const metricsPorts = new Map<string, number>();
  const metricsArgs = (name: string) => {
    const port = metricsPorts.get(name);
    return port === undefined ? [] : ['--metrics-port', String(port)];
  };
  
  const credsDir = (opts.natsAuth ?? 'none') === 'users' ? join(dataDir, 'creds') : undefined;
  // Every child runs as the NATS user named like it (docs/transport.md "Credentials").
  const credsArgs = (name: string) => (credsDir ? ['--nats-creds', join(credsDir, `${name}.json`)] : []);
  /** With netns the child runs in its DC's namespace, talks to its DC's server and serves metrics on the DC's address. */
  const spawnChild = (name: string, dc: string, args: string[], nodeFlags: readonly string[] = []) => {
    const here = network ? ['--nats-url', natsUrlOf.get(dc)!, ...(metricsPorts.has(name) ? ['--metrics-host', network.ipOf(dc)] : [])] : [];
    return ChildNode.spawn(name, [...args, ...metricsArgs(name), ...common, ...here, ...credsArgs(name)], process.env, join(logDir, `${name}.log`), network ? network.wrap(dc, []) : [], nodeFlags);
  };
  const spawnNode = (i: number) => {
    const n = rangeMap.nodes()[i]!;
    const time =
      truetime === 'daemon'
        ? ['--truetime', 'daemon', '--master-dcs', dcs.join(','), '--max-liars', String(maxLiars), '--sync-interval-ms', syncIntervalMs]
        : ['--truetime', 'local', '--epsilon-ms', String(opts.epsilonMsByNode?.[n.id] ?? opts.epsilonMs ?? 1)];
    return spawnChild(n.id, n.dc, ['spanserver', '--node-id', n.id, '--dc', n.dc, '--data-dir', join(dataDir, n.id), '--placement', placementFile, ...time], opts.spanserverNodeFlags);
  };
  try {
    checkAborted();
    const log = (natsLog = new RotatingLog(join(logDir, 'nats-server.log')));
    // startNatsServer is short and bounded; on an abort meanwhile its server is stopped below.
    const subj = subjects(opts.cluster);
    const authorization = credsDir
      ? {
          users: writeCredentials(credsDir, opts.cluster, [
            ...rangeMap.nodes().map((n) => ({ id: n.id })),
            ...(truetime === 'daemon' ? dcs.map((dc) => ({ id: `tm-${dc}`, serves: [subj.timemaster(dc)] })) : []),
            // As many placement replicas as DCs may start (p1…); a user that never connects is harmless.
            ...dcs.map((_, i) => ({ id: `p${i + 1}`, serves: [subj.placement] })),
          ]),
        }
      : undefined;
    if (opts.netns) {
      network = await DcNetwork.create({ dcs, tag: 'sy' });
      say(`network       ${network.name}: ${network.subnet}, host ${network.hostIp}, ${network.dcs.map((d) => `${d.dc} ${d.ip} (netns ${d.ns})`).join(', ')}`);
      checkAborted();
      // Routes listen only on the private bridge, but anyone on the host reaches it: they get a user of their own.
      const routeAuth = { user: 'route', password: randomBytes(24).toString('hex') };
      const port = opts.natsPort || 4222;
      for (const dc of dcs) {
        const dcLog = new RotatingLog(join(logDir, `nats-server-${dc}.log`));
        natsLogs.push(dcLog);
        const srv = await step(
          startNatsServer({
            host: network.ipOf(dc),
            port,
            spawnPrefix: network.wrap(dc, []),
            ...(authorization ? { authorization } : {}),
            cluster: { name: opts.cluster, host: network.ipOf(dc), port: 6222, routes: dcs.filter((d) => d !== dc).map((d) => `${network!.ipOf(d)}:6222`), authorization: routeAuth },
            onLog: (line) => dcLog.write(line),
          }),
        );
        natsServers.push(srv);
        natsUrlOf.set(dc, srv.url);
        say(`nats-server   ${srv.url} in ${dc} (pid ${srv.pid}), routes to the other DCs' servers on :6222`);
      }
      nats = natsServers[0]!;
    } else {
      nats = await startNatsServer({ ...(opts.natsPort ? { port: opts.natsPort } : {}), ...(authorization ? { authorization } : {}), onLog: (line) => log.write(line) });
      natsServers.push(nats);
      say(`nats-server   ${nats.url} (pid ${nats.pid})`);
    }
    checkAborted();
    common = ['--nats-url', nats.url, '--cluster', opts.cluster, '--log-level', opts.logLevel ?? 'warn'];
    if ((opts.metrics ?? 'auto') === 'auto') {
      const names = [...(truetime === 'daemon' ? dcs.map((dc) => `tm-${dc}`) : []), ...rangeMap.nodes().map((n) => n.id), ...dcs.map((_, i) => `p${i + 1}`)];
      const ports = await freePorts(names.length);
      names.forEach((name, i) => metricsPorts.set(name, ports[i]!));
    }
    // One time master per DC, as in Spanner a mix of kinds: GPS-like references, and in the
    // second DC an atomic-clock-like drifting master that syncs from the references.
    if (truetime === 'daemon')
      masters.push(
        ...dcs.map((dc, i) => {
          const drifting = i === 1 && dcs.length >= 3;
          const kind = drifting ? ['--kind', 'drifting', '--reference-dcs', dcs.filter((d) => d !== dc).join(','), '--sync-interval-ms', syncIntervalMs] : ['--kind', 'reference'];
          return spawnChild(`tm-${dc}`, dc, ['timemaster', '--node-id', `tm-${dc}`, '--dc', dc, ...kind]);
        }),
      );
    await step(Promise.all(masters.map((m) => m.waitReady(30_000))));
    masters.forEach((m, i) => say(`time master   ${m.name} in ${dcs[i]} (pid ${m.proc.pid})`));
    checkAborted();
    children.push(...rangeMap.nodes().map((_, i) => spawnNode(i)));
    await step(Promise.all(children.map((c) => c.waitReady(30_000))));
    checkAborted();
    if ((opts.placementService ?? 'off') === 'auto') {
      const why = await step((opts.placementCheck ?? placementServiceUnavailable)());
      if (why) say(`placement     not started: ${why}; clients route by ${placementFile} alone`);
      else {
        const ids = dcs.map((_, i) => `p${i + 1}`);
        placement.push(...dcs.map((dc, i) => spawnChild(ids[i]!, dc, ['placement', '--node-id', ids[i]!, '--dc', dc, '--data-dir', join(dataDir, ids[i]!), '--peers', ids.join(','), '--initial-map', placementFile, ...(opts.placementArgs ?? [])])));
        // A placement service that does not come up leaves a cluster that works by the static map.
        const ready = await step(Promise.all(placement.map((p) => p.waitReady(30_000).then(() => undefined, (err: Error) => err.message.split('\n')[0]))));
        checkAborted();
        const failed = ready.filter((r) => r !== undefined);
        if (failed.length > 0) {
          say(`placement     not started: ${failed.join('; ')}; clients route by ${placementFile} alone`);
          await Promise.all(placement.splice(0).map((p) => p.stop()));
        }
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  rangeMap.nodes().forEach((n, i) => say(`spanserver    ${n.id} in ${n.dc} (pid ${children[i]!.proc.pid}), data ${join(dataDir, n.id)}`));
  const placementNodes = placement.map((p, i) => ({ id: p.name, dc: dcs[i]! }));
  placementNodes.forEach((p, i) => say(`placement     ${p.id} in ${p.dc} (pid ${placement[i]!.proc.pid}), data ${join(dataDir, p.id)}`));
  say(`logs          ${logDir}/<name>.log`);
  const running = new Set([...masters, ...children, ...placement].map((c) => c.name));
  const dcOf = new Map<string, string>([...masters.map((m, i) => [m.name, dcs[i]!] as const), ...rangeMap.nodes().map((n) => [n.id, n.dc] as const), ...placement.map((p, i) => [p.name, dcs[i]!] as const)]);
  const metricsHost = (name: string) => (network ? network.ipOf(dcOf.get(name)!) : '127.0.0.1');
  const metrics = Object.fromEntries([...metricsPorts].filter(([name]) => running.has(name)).map(([name, port]) => [name, `http://${metricsHost(name)}:${port}`]));
  if (Object.keys(metrics).length > 0) say(`metrics       http://${network ? '<dc address>' : '127.0.0.1'}:<port>/metrics, /healthz, /readyz per process (ports in ${clusterFile})`);
  if (credsDir) say(`credentials   ${credsDir}/<user>.json (mode 0600): one per process, operator, client, gateway`);
  const info: ClusterFile = { natsUrl: nats.url, cluster: opts.cluster, placement: placementFile, ...(placementNodes.length ? { placementNodes } : {}), ...(Object.keys(metrics).length ? { metrics } : {}), ...(credsDir ? { creds: credsDir } : {}), ...(network ? { natsUrls: Object.fromEntries(natsUrlOf), network: network.toJSON() } : {}) };
  writeFileSync(clusterFile, JSON.stringify(info, null, 2) + '\n');
  say(`cluster file  ${clusterFile} (other synod commands find the cluster through it)`);
  return { nats, natsServers, ...(network ? { network } : {}), nodes: children, masters, placement, rangeMap, info, logDir, spawnNode, stop };
}
