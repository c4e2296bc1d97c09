/**
 * synod next to etcd on this machine, one system after the other, through one TypeScript
 * closed-loop driver (issue 21): put, strong get, bounded-staleness get and a two-key
 * read-modify-write, at several client counts, plus etcd's own `etcdctl check perf`.
 *
 *   npm run bench:vs-etcd -- --help
 */
import { mkdirSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import inspector from 'node:inspector';
import os from 'node:os';
import path from 'node:path';
import { ensureEtcd, etcdctlCheckPerf, startEtcdCluster, type CheckPerfResult, type EtcdCluster } from './vs-etcd/etcd-cluster.js';
import { ETCD_STM_RETRIES, etcdAdapter, etcdRangesServed } from './vs-etcd/etcd-adapter.js';
import { forEachLimited, opFor, runClosedLoop, WORKLOADS, type Adapter, type KeySpace, type LoopResult, type Workload } from './vs-etcd/driver.js';
import { useCompiledChildren } from './compiled-children.js';
import { cpuTable, cpuUsPerOp, markdownTable, parseIntList, ratio, valueWithCounter, type Cell, type TableRow } from './vs-etcd/report.js';
import { DcConnections, layout, measureFloor, preloadSynod, sampleEpsilon, snapshotReadsServed, STALENESS_MS, startSynodCluster, SYNOD_DCS, type SynodConnections, synodAdapter, synodKey, type FloorParts, type SynodCluster } from './vs-etcd/synod-cluster.js';
import { machineLine } from './machine.js';

const HELP = `bench:vs-etcd — synod next to etcd 3.4 on this machine, one after the other, one driver

  npm run bench:vs-etcd -- [flags]

  --seconds <s>        measured seconds per (workload, clients), default 5 (plus 1 s warm-up, not counted)
  --clients <n,n>      closed loops, spread round-robin over the 3 DCs / members, default 1,32,128
  --workloads <w,w>    of ${WORKLOADS.join(',')}, default all
  --system <s>         etcd | synod | both (default both)
  --keys <n>           keys preloaded for reads and rmw2, default 10000
  --check-perf <load>  etcdctl check perf --load (s, m, l, xl; default xl; none: skip)
  --out <file>         also write every measurement as JSON
  --quick              --seconds 1 --clients 1,8 --keys 1000 --check-perf s (unless given)
  --cpu-prof <dir>     profile every spanserver (node --cpu-prof): one .cpuprofile per process in <dir>
                       when the cluster stops (open in Chrome DevTools or speedscope); costs throughput
  --synod-connections <per-dc|per-client>
                       per-dc (default): the SynodClients of one DC share one NATS connection
                       (SharedConnection), as the etcd3 clients here share one HTTP/2 connection
                       per member (grpc-js pools subchannels by target; the run prints the sockets
                       the driver holds); per-client: each SynodClient has its own NATS connection,
                       as separate processes would (what runs before this flag measured)
  --driver-cpu-prof <dir>  profile this driver process (node:inspector) over each measured window only:
                       one driver-<system>-<workload>-<clients>.cpuprofile per run in <dir>; the
                       profiler's own cost shows in the driver CPU per op of those runs
  --synod-from <bundle|source>
                       bundle (default): synod's processes run the compiled CLI, as \`synod up\` does
                       (rebuilt from these sources first); source: main.ts through tsx
  --help               this

etcd: three members on loopback (etcd-server, etcd-client from Debian; installed with apt-get when
missing and root), fsync on, the etcd3 npm client. synod: a cluster as \`synod up\` starts it by
default, fsync on, SynodClient. 64-byte values. Server CPU per op: utime+stime from /proc of the
etcd members, or of synod's spanservers, time masters, placement replicas and nats-server.`;

interface Flags {
  seconds: number;
  clients: number[];
  workloads: Workload[];
  system: 'etcd' | 'synod' | 'both';
  keys: number;
  checkPerf: string;
  out?: string;
  cpuProfDir?: string;
  driverCpuProfDir?: string;
  synodConnections: SynodConnections;
  synodFrom: 'bundle' | 'source';
}

function parseFlags(argv: string[]): Flags {
  const given = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') {
      console.log(HELP);
      process.exit(0);
    }
    if (a === '--quick') {
      given.set('quick', 'true');
      continue;
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unexpected argument ${a} (see --help)`);
    const v = m[2] ?? argv[++i];
    if (v === undefined) throw new Error(`--${m[1]} needs a value`);
    given.set(m[1]!, v);
  }
  const known = new Set(['quick', 'seconds', 'clients', 'workloads', 'system', 'keys', 'check-perf', 'out', 'cpu-prof', 'driver-cpu-prof', 'synod-connections', 'synod-from']);
  for (const k of given.keys()) if (!known.has(k)) throw new Error(`unknown flag --${k} (see --help)`);
  const quick = given.has('quick');
  const seconds = Number(given.get('seconds') ?? (quick ? 1 : 5));
  if (!(seconds > 0 && seconds <= 300)) throw new Error('--seconds must be in (0, 300]');
  const workloads = (given.get('workloads') ?? WORKLOADS.join(',')).split(',').filter(Boolean);
  for (const w of workloads) if (!(WORKLOADS as readonly string[]).includes(w)) throw new Error(`unknown workload ${w} (of ${WORKLOADS.join(', ')})`);
  const system = given.get('system') ?? 'both';
  if (system !== 'etcd' && system !== 'synod' && system !== 'both') throw new Error('--system is etcd, synod or both');
  const keys = Number(given.get('keys') ?? (quick ? 1000 : 10_000));
  if (!Number.isInteger(keys) || keys < 2 || keys > 1_000_000) throw new Error('--keys must be an integer 2..1000000');
  const out = given.get('out');
  const cpuProfDir = given.get('cpu-prof');
  const driverCpuProfDir = given.get('driver-cpu-prof');
  const synodConnections = given.get('synod-connections') ?? 'per-dc';
  if (synodConnections !== 'per-client' && synodConnections !== 'per-dc') throw new Error('--synod-connections is per-client or per-dc');
  const synodFrom = given.get('synod-from') ?? 'bundle';
  if (synodFrom !== 'bundle' && synodFrom !== 'source') throw new Error('--synod-from is bundle or source');
  return {
    seconds,
    clients: parseIntList(given.get('clients') ?? (quick ? '1,8' : '1,32,128'), 512),
    workloads: workloads as Workload[],
    system,
    keys,
    checkPerf: given.get('check-perf') ?? (quick ? 's' : 'xl'),
    synodConnections,
    synodFrom,
    ...(out ? { out } : {}),
    ...(cpuProfDir ? { cpuProfDir: path.resolve(cpuProfDir) } : {}),
    ...(driverCpuProfDir ? { driverCpuProfDir: path.resolve(driverCpuProfDir) } : {}),
  };
}

const flags = parseFlags(process.argv.slice(2));
const say = (s: string) => console.log(s);
const progress = (s: string) => process.stderr.write(`  … ${s}\n`);
const WARMUP_S = 1;

interface Measurement {
  system: 'synod' | 'etcd';
  workload: Workload;
  clients: number;
  ops: number;
  seconds: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  errors: number;
  retries: number;
  errorSamples: string[];
  serverCpuSeconds: number;
  cpuUsPerOp: number;
  /** This driver process's CPU over the window (process.cpuUsage), and per op. */
  driverCpuSeconds: number;
  driverCpuUsPerOp: number;
  /** Server CPU per op (µs) by process name, over the window. */
  cpuUsPerOpByProcess: Record<string, number>;
  /** Read requests each server answered over the window (synod kv.snapshot ok per spanserver; etcd ranges per member). */
  servedBy?: Record<string, number | undefined>;
}

const results: Measurement[] = [];
const cleanups: Array<() => Promise<void>> = [];
const abort = new AbortController();
let interrupted = false;
const onSignal = (sig: NodeJS.Signals) => {
  if (interrupted) return;
  interrupted = true;
  process.stderr.write(`\n${sig}: stopping every process this bench started\n`);
  abort.abort();
  const hard = setTimeout(() => process.exit(130), 20_000);
  void runCleanups().finally(() => {
    clearTimeout(hard);
    process.exit(130);
  });
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

async function runCleanups(): Promise<void> {
  while (cleanups.length > 0) await cleanups.pop()!().catch((err) => process.stderr.write(`cleanup: ${String(err)}\n`));
}

const diff = (a: Record<string, number | undefined>, b: Record<string, number | undefined>) =>
  Object.fromEntries(Object.keys(b).map((k) => [k, a[k] !== undefined && b[k] !== undefined ? b[k]! - a[k]! : undefined]));

function record(system: 'synod' | 'etcd', workload: Workload, clients: number, r: LoopResult, procNames: string[], servedBy?: Record<string, number | undefined>): Measurement {
  const m: Measurement = {
    system,
    workload,
    clients,
    ops: r.ops,
    seconds: r.seconds,
    opsPerSec: r.ops / r.seconds,
    p50Ms: r.latency.percentile(50),
    p99Ms: r.latency.percentile(99),
    maxMs: r.latency.maxMs,
    errors: r.errors,
    retries: r.retries,
    errorSamples: r.errorSamples,
    serverCpuSeconds: r.serverCpuSeconds,
    cpuUsPerOp: cpuUsPerOp(0, r.serverCpuSeconds, r.ops),
    driverCpuSeconds: r.driverCpuSeconds,
    driverCpuUsPerOp: cpuUsPerOp(0, r.driverCpuSeconds, r.ops),
    cpuUsPerOpByProcess: Object.fromEntries(procNames.map((n, i) => [n, cpuUsPerOp(0, r.serverCpuByPid[i]!, r.ops)])),
    ...(servedBy ? { servedBy } : {}),
  };
  results.push(m);
  const served = servedBy ? `   served by ${Object.entries(servedBy).map(([k, v]) => `${k}:${v ?? '?'}`).join(' ')}` : '';
  say(
    `${system.padEnd(5)} ${workload.padEnd(10)} ${String(clients).padStart(4)} clients  ${m.opsPerSec.toFixed(0).padStart(7)} ops/s  p50 ${m.p50Ms.toFixed(2).padStart(7)} ms  p99 ${m.p99Ms.toFixed(2).padStart(7)} ms  ` +
      `CPU ${Number.isFinite(m.cpuUsPerOp) ? m.cpuUsPerOp.toFixed(0) : '—'} µs/op (driver ${Number.isFinite(m.driverCpuUsPerOp) ? m.driverCpuUsPerOp.toFixed(0) : '—'})  errors ${m.errors}  retries ${m.retries}${served}`,
  );
  say(`      server CPU µs/op by process: ${Object.entries(m.cpuUsPerOpByProcess).map(([n, v]) => `${n} ${Number.isFinite(v) ? v.toFixed(0) : '—'}`).join(', ')}`);
  if (m.errorSamples.length > 0) say(`      first errors: ${m.errorSamples.join(' | ')}`);
  return m;
}

/** Every workload at every client count on one system; `servedBy` reads where reads were served (before/after). */
async function runAll(
  system: 'synod' | 'etcd',
  adapters: Adapter[],
  keys: KeySpace,
  procs: Array<{ name: string; pid: number }>,
  servedBy: () => Promise<Record<string, number | undefined>>,
  /** Started as a run's measured window opens; what it returns is awaited once the run ends. */
  duringWindow?: (workload: Workload, clients: number) => (() => Promise<void>) | undefined,
): Promise<void> {
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (const workload of flags.workloads)
    for (const clients of flags.clients) {
      if (interrupted) return;
      progress(`${system} ${workload} ${clients} clients`);
      const reads = workload === 'strong-get' || workload === 'stale-get';
      // Read as the measured window opens (while the loops run) and after it ends: warm-up excluded.
      let beforeP: Promise<Record<string, number | undefined>> | undefined;
      const profiler = flags.driverCpuProfDir ? new DriverProfiler() : undefined;
      let windowEnd: (() => Promise<void>) | undefined;
      const r = await runClosedLoop(adapters, clients, WARMUP_S, flags.seconds, opFor(workload, keys, rand), procs.map((p) => p.pid), () => {
        profiler?.start();
        if (reads) beforeP = servedBy();
        windowEnd = duringWindow?.(workload, clients);
      });
      await windowEnd?.();
      if (profiler) say(`      driver profile: ${await profiler.stop(path.join(flags.driverCpuProfDir!, `driver-${system}-${workload}-${clients}.cpuprofile`))}`);
      const before = beforeP ? await beforeP : undefined;
      const after = reads ? await servedBy() : undefined;
      record(system, workload, clients, r, procs.map((p) => p.name), before && after ? diff(before, after) : undefined);
    }
}

/** Sockets this process holds open now (/proc/self/fd): how many connections the clients really use. */
function openSockets(): number {
  try {
    return readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:');
      } catch {
        return false;
      }
    }).length;
  } catch {
    return NaN;
  }
}

/** A V8 CPU profile of this process over one measured window (node:inspector, in-process). */
class DriverProfiler {
  private readonly session = new inspector.Session();
  private started: Promise<void> | undefined;

  private post(method: string, params?: object): Promise<unknown> {
    return new Promise((resolve, reject) => this.session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))));
  }

  start(): void {
    this.session.connect();
    this.started = this.post('Profiler.enable').then(() => this.post('Profiler.start')).then(() => undefined);
  }

  async stop(file: string): Promise<string> {
    if (!this.started) return 'not started';
    await this.started;
    const { profile } = (await this.post('Profiler.stop')) as { profile: unknown };
    this.session.disconnect();
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(profile));
    return file;
  }
}

const maxClients = Math.max(...flags.clients);
let checkPerf: CheckPerfResult | undefined;
let floor: FloorParts | undefined;
const settings: Record<string, unknown> = {};

try {
  say(`bench:vs-etcd: ${flags.workloads.join(', ')} at ${flags.clients.join(', ')} clients, ${flags.seconds} s each (+${WARMUP_S} s warm-up), 64-byte values, ${flags.keys} keys preloaded`);
  say(machineLine());
  if (flags.system !== 'synod') {
    ensureEtcd(say);
    say('\n-- etcd: 3 members on loopback, fsync on (etcd default), etcd3 client per loop on one member (round-robin), no simulated latency --');
    const etcd: EtcdCluster = await startEtcdCluster();
    cleanups.push(() => etcd.stop());
    say(`  members ${etcd.members.map((m) => `${m.name} ${m.url} (pid ${m.pid})`).join(', ')}, data in ${etcd.dataDir}`);
    const adapters = Array.from({ length: maxClients }, (_, w) => etcdAdapter(etcd.members[w % etcd.members.length]!));
    cleanups.push(async () => void (await Promise.all(adapters.map((a) => a.close()))));
    const keys: KeySpace = { key: (i) => `v/${String(i).padStart(6, '0')}`, size: flags.keys };
    progress(`preloading ${flags.keys} keys into etcd`);
    await forEachLimited(flags.keys, 32, async (i) => void (await adapters[i % adapters.length]!.put(keys.key(i), valueWithCounter(0))));
    settings.etcd = { version: '3.4 (Debian)', members: 3, fsync: true, simulatedLatencyMs: 0, strongGet: 'linearizable range', staleGet: 'serializable range (member-local)', rmw2: `etcd3 STM, Serializable isolation, ≤ ${ETCD_STM_RETRIES} retries` };
    // grpc-js opens a client's connection on its first call: count after the preload.
    say(`  sockets open in the driver with ${maxClients} etcd3 clients: ${openSockets()} (grpc-js shares one HTTP/2 connection per member among clients with the same target and options)`);
    await runAll('etcd', adapters, keys, etcd.members.filter((m) => m.pid).map((m) => ({ name: m.name, pid: m.pid! })), () => etcdRangesServed(etcd.members));
    await runCleanups();
    if (flags.checkPerf !== 'none' && !interrupted) {
      // On a fresh cluster, as `etcdctl check perf` expects.
      const fresh = await startEtcdCluster();
      cleanups.push(() => fresh.stop());
      progress(`etcdctl check perf --load=${flags.checkPerf}`);
      checkPerf = etcdctlCheckPerf(fresh, flags.checkPerf);
      await runCleanups();
      say(`etcdctl check perf --load=${flags.checkPerf}: ${checkPerf.writesPerSec} writes/s, ${checkPerf.verdict}`);
    }
  }
  if (flags.system !== 'etcd' && !interrupted) {
    say('\n-- synod: `synod up` defaults (3 DCs, splits g,p, TrueTime daemon + time masters, placement service, NATS users) but no cuts by load (placement --max-split-writes-per-sec 1e9), measured once leaders sit in their preferred DCs; LMDB fsync on, SynodClient per loop in its DC (round-robin), no simulated latency --');
    if (flags.synodFrom === 'bundle') useCompiledChildren((m) => say(`  ${m}`));
    const synod: SynodCluster = await startSynodCluster(say, abort.signal, flags.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${flags.cpuProfDir}`] : []);
    cleanups.push(() => synod.stop());
    say(`  server processes for CPU: ${synod.pids.map((p) => `${p.name}(${p.pid})`).join(' ')}`);
    progress(`preloading ${flags.keys} keys into synod`);
    await preloadSynod(synod, flags.keys);
    const lay = await layout(synod);
    say(`  bench keys in split ${lay.split}, led by ${lay.leader ?? '?'}; ε (ms) ${Object.entries(lay.epsilonMs).map(([n, e]) => `${n}=${e.toFixed(2)}`).join(' ')}`);
    settings.synod = { dcs: 3, truetime: 'daemon', epsilonMs: lay.epsilonMs, fsync: true, simulatedLatencyMs: 0, split: lay.split, leader: lay.leader, staleness: `bounded, ≤ ${STALENESS_MS} ms`, rmw2: 'read-write transaction, two keys in one split' };
    const adapters: Adapter[] = [];
    const shared = flags.synodConnections === 'per-dc' ? new DcConnections(synod) : undefined;
    if (shared) cleanups.push(() => shared.close());
    cleanups.push(async () => void (await Promise.all(adapters.map((a) => a.close()))));
    for (let w = 0; w < maxClients; w++) adapters.push(await synodAdapter(synod, w, shared));
    settings.synod = { ...(settings.synod as object), connections: flags.synodConnections };
    say(`  NATS connections of the driver's ${maxClients} SynodClients: ${flags.synodConnections === 'per-dc' ? `one per DC (${SYNOD_DCS.length}, shared)` : `one per client (${maxClients})`}; sockets open in the driver: ${openSockets()}`);
    // The floor's ε: the split leader's, averaged over the 1-client put's measured window (ε is a
    // sawtooth over the sync interval; one reading can be a millisecond off what the run saw).
    let putEpsilon: { meanMs: number; samples: number } | undefined;
    await runAll('synod', adapters, { key: synodKey, size: flags.keys }, synod.pids, () => snapshotReadsServed(synod), (workload, clients) => {
      if (workload !== 'put' || clients !== 1 || !lay.leader) return undefined;
      const sampler = sampleEpsilon(synod, lay.leader);
      return async () => void (putEpsilon = await sampler.stop());
    });
    if (!interrupted) {
      progress('measuring the floor parts: bus round trip, LMDB fsync, ε');
      const epsilonMs = putEpsilon && putEpsilon.samples > 0 ? putEpsilon.meanMs : lay.leader ? (lay.epsilonMs[lay.leader] ?? NaN) : NaN;
      if (putEpsilon) say(`  split leader's ε over the 1-client put window: mean ${putEpsilon.meanMs.toFixed(3)} ms of ${putEpsilon.samples} readings (before the runs: ${lay.leader ? (lay.epsilonMs[lay.leader]?.toFixed(3) ?? '?') : '?'} ms)`);
      floor = await measureFloor(synod, epsilonMs);
    }
    await runCleanups();
  }
} finally {
  await runCleanups();
}

const find = (s: 'synod' | 'etcd', w: Workload, c: number) => results.find((r) => r.system === s && r.workload === w && r.clients === c);
const cell = (m: Measurement | undefined): Cell | undefined => (m ? { opsPerSec: m.opsPerSec, p50Ms: m.p50Ms, p99Ms: m.p99Ms, cpuUsPerOp: m.cpuUsPerOp, driverCpuUsPerOp: m.driverCpuUsPerOp } : undefined);
const rows: TableRow[] = flags.workloads.flatMap((w) =>
  flags.clients.map((c) => {
    const s = cell(find('synod', w, c));
    const e = cell(find('etcd', w, c));
    return { workload: w, clients: c, ...(s ? { synod: s } : {}), ...(e ? { etcd: e } : {}) };
  }),
);

say('\n-- settings --');
say(`synod: ε from the TrueTime daemon (per node above), fsync on, no simulated latency; etcd: fsync on, no simulated latency; both on loopback, this machine, one after the other`);
say('Stale reads are counted where served: synod per spanserver from synod_read_latency_seconds_count{kind="kv.snapshot",outcome="ok"} on its /metrics; etcd per member from etcd_mvcc_range_total. A client cache cannot count: neither client has one.');
if (checkPerf) say(`etcd's own: etcdctl check perf --load=${flags.checkPerf}: ${checkPerf.writesPerSec} writes/s (${checkPerf.verdict})`);
if (floor) {
  const put1 = find('synod', 'put', 1);
  say(`\n-- put floor at 1 client (${floor.formula}) --`);
  say(`bus rtt p50 ${floor.busRttMs.toFixed(3)} ms (two Bus instances over the cluster's nats-server), LMDB fsync'd commit p50 ${floor.fsyncMs.toFixed(3)} ms (@synod/storage persist), ε ${floor.epsilonMs.toFixed(3)} ms (split leader's TrueTime, mean over the 1-client put window)`);
  say(`floor = 2 × ${floor.busRttMs.toFixed(3)} + max(${floor.fsyncMs.toFixed(3)}, 2 × ${floor.epsilonMs.toFixed(3)}) = ${floor.floorMs.toFixed(3)} ms` + (put1 ? `; synod put p50 at 1 client ${put1.p50Ms.toFixed(3)} ms = ${ratio(put1.p50Ms, floor.floorMs).toFixed(2)} × floor` : ' (no 1-client put run)'));
}
say('\n' + markdownTable(rows));
say('ratio = synod ops/s ÷ etcd ops/s. CPU µs/op = server CPU time (user+system) over the measured window ÷ ops, background work included.');
say('\n' + cpuTable(rows));
say(`driver µs/op = this one driver process's CPU (process.cpuUsage, user+system) over the window ÷ ops: every client of the run lives in it, so on this ${os.cpus().length}-core machine it competes with the servers.`);
if (flags.out) {
  writeFileSync(flags.out, JSON.stringify({ flags, settings, checkPerf: checkPerf ? { writesPerSec: checkPerf.writesPerSec, verdict: checkPerf.verdict, load: flags.checkPerf } : undefined, floor, results, table: rows }, null, 2) + '\n');
  say(`written ${flags.out}`);
}
process.exit(interrupted ? 130 : 0);
