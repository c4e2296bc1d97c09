/**
 * Many splits per process (docs/benchmarks.md, "Many splits per process"): what idle splits
 * cost, what spreading writes over splits gains, and how late the event loop runs under writes
 * with version GC collecting. One local 3-DC cluster per split count (one spanserver per DC, so
 * every process hosts a replica of every split), LMDB with fsync, fixed ε (--truetime local),
 * no placement service (the split count stays fixed).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { launchCluster, type LaunchedCluster } from '@synod/cli';
import { SynodClient } from '@synod/client';
import { SynodError } from '@synod/codec';
import { booleanFlag, loadConfig } from '@synod/config';
import { connectBus, type Bus } from '@synod/transport';
import { procCpuSeconds, ratesBetween, readNode, type NodeRates, type NodeReading } from './node-load.js';
import { useCompiledChildren } from './compiled-children.js';
import { closedLoop, formatRow, mergeRuns, openLoop, opsPerSec, type OpenLoopResult, type RunResult } from './stats.js';
import { machineLine } from './machine.js';

const HELP = `npm run bench:splits -- [options]

One process hosting many idle splits, writes spread over splits, and event-loop delay under
writes with version GC running. For each split count a local 3-DC cluster (one spanserver per
DC: every process hosts a replica of every split), LMDB with fsync, ε fixed at 1 ms, no
placement service.

  --splits <n,n,…>        split counts for the idle rows, default 1,64,512 (each 1..1024)
  --elect-s <s>           how long to wait for every split to elect a leader; the run goes on
                          with the splits that did (and says how many), default 90
  --settle-s <s>          after every split has a leader (and leaders are spread), default 3
  --quiesce-after-ms <ms> the spanservers' --quiesce-after-ms (docs/spanserver.md, "Quiescent
                          splits"), default 2000 as theirs; 0: off. When on, the idle window starts
                          once every process reports every split quiet (or --quiet-wait-s passed)
  --quiet-wait-s <s>      longest wait for every split to go quiet before the idle window, default 30
  --window-s <s>          idle measurement window, default 12
  --write-splits <n>      splits the write load spreads over, default 64 (that cluster runs the
                          write and event-loop parts; launched on its own if not in --splits)
  --clients <n>           closed-loop writers (one-key transactions), default 64
  --write-s <s>           each write run, default 6; --rounds alternating rounds of spread and
                          all-on-one-split runs, default 2, after a 3 s warm-up of each
  --loop-s <s>            each event-loop window under writes, at least; stretched so that a
                          version GC pass falls inside it (see --gc-interval-s), default 15. Two
                          windows: writes started at a fixed rate (--loop-rate), which the goal is
                          judged on, then --clients closed-loop writers saturating the machine
  --loop-rate <txn/s>     the first window's rate, one-key transactions spread over the splits,
                          default 300 (about 5 a second per split: a light load, at which the three
                          spanservers leave part of the two cores free); 0: half the spread
                          throughput measured just before
  --gc-retention-s <s>    the spanservers' --gc-retention-s (so GC has versions to drop), default 2
  --gc-interval-s <s>     how often the spanservers run version GC (main.ts: every 60 s, no flag),
                          used to place the event-loop window over a pass, default 60
  --json <file>           also write every figure as JSON
  --from-source           run the spanservers from the TypeScript sources (tsx) instead of the
                          compiled CLI bundle that \`synod up\` runs (rebuilt first, about a second)
  --node-flags=<flags>    flags for node itself in every spanserver, space-separated (e.g.
                          --node-flags=--single-threaded-gc: V8 GC without helper threads)
  --cpu-prof <dir>        profile every spanserver (node --cpu-prof): one .cpuprofile per process
                          in <dir>/<splits>-splits/, written when it exits; progress names each
                          node's pid and each window's start and end on the monotonic clock the
                          profiles use (µs), for loadtest/cpuprofile-stalls.mjs --from-us/--to-us
  --help                  this text

Progress goes to stderr, results to stdout. Every process and temporary directory is removed at
the end, on failure and on Ctrl-C.`;

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(HELP);
  process.exit(0);
}

const cfg = loadConfig(
  z.object({
    splits: z
      .string()
      .default('1,64,512')
      .transform((s) => s.split(',').filter(Boolean).map(Number))
      .pipe(z.array(z.number().int().min(1).max(1024)).min(1).max(8)),
    electS: z.coerce.number().positive().max(600).default(90),
    settleS: z.coerce.number().min(0).max(60).default(3),
    quiesceAfterMs: z.coerce.number().int().min(0).max(600_000).default(2_000),
    quietWaitS: z.coerce.number().min(0).max(600).default(30),
    rounds: z.coerce.number().int().min(1).max(10).default(2),
    windowS: z.coerce.number().positive().max(120).default(12),
    writeSplits: z.coerce.number().int().min(2).max(1024).default(64),
    clients: z.coerce.number().int().min(1).max(512).default(64),
    writeS: z.coerce.number().positive().max(120).default(6),
    loopS: z.coerce.number().positive().max(300).default(15),
    loopRate: z.coerce.number().min(0).max(100_000).default(300),
    gcRetentionS: z.coerce.number().positive().max(3600).default(2),
    gcIntervalS: z.coerce.number().positive().max(600).default(60),
    json: z.string().min(1).optional(),
    fromSource: booleanFlag.default(false),
    cpuProf: z.string().min(1).transform((d) => resolve(d)).optional(),
    nodeFlags: z
      .string()
      .default('')
      .transform((s) => s.split(' ').filter(Boolean))
      .pipe(z.array(z.string().regex(/^--[a-z0-9-]+(=[^\s]*)?$/, 'a node flag (--name or --name=value)')).max(16)),
  }),
  { argv: process.argv.slice(2), env: {} },
);

const progress = (s: string) => process.stderr.write(`  … ${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const DCS = ['dc-a', 'dc-b', 'dc-c'];
/** CLOCK_MONOTONIC in µs: the clock of a .cpuprofile's startTime and endTime (Linux). */
const monoUs = () => Number(process.hrtime.bigint() / 1000n);
/** The event-loop goal of the issue: no stall of 20 ms or more. */
const LOOP_MAX_GOAL_MS = 20;

/** Cut keys for `n` splits: split i covers [k<i>, k<i+1>) (split 0 from ''), keys sort as numbers do. */
const cutKeys = (n: number) => Array.from({ length: n - 1 }, (_, i) => `k${String(i + 1).padStart(4, '0')}`);
/** A key of split i (0-based) written by worker w. */
const keyIn = (i: number, w: number) => `k${String(i).padStart(4, '0')}/w${w}`;

// What a Ctrl-C or a failure has to stop and remove.
const live = new Set<{ cluster?: LaunchedCluster; dir: string; buses: Bus[] }>();
async function cleanUp(): Promise<void> {
  for (const r of [...live]) {
    live.delete(r);
    for (const b of r.buses) await b.close().catch(() => undefined);
    await r.cluster?.stop().catch(() => undefined);
    rmSync(r.dir, { recursive: true, force: true });
  }
}
// A signal during a launch aborts it: launchCluster then stops what it had started and rejects.
const launchAbort = new AbortController();
let launching: Promise<unknown> = Promise.resolve();
let interrupted = false;
for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const)
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    progress(`${sig}: stopping every process and removing temporary directories`);
    launchAbort.abort();
    // The launch was just aborted, so its rejection is expected; cleanUp runs either way.
    void launching
      .catch(() => undefined)
      .then(cleanUp)
      .finally(() => process.exit(code));
  });

/**
 * Moves each split's leadership to the node of its preferred DC (initialPlacement: split i led
 * from DC i mod 3, as `synod up` writes it) with leader transfers, a few at a time; bounded in
 * rounds and time. Returns the number of leaders each node ends with.
 */
async function spreadLeaders(bus: Bus, cluster: LaunchedCluster, budgetMs: number): Promise<Record<string, number>> {
  const nodes = cluster.rangeMap.nodes();
  const splits = cluster.rangeMap.all();
  const want = new Map(splits.map((s, i) => [s.id, nodes.find((n) => n.dc === DCS[i % DCS.length])!.id]));
  const deadline = Date.now() + budgetMs;
  let leaders = new Map<string, string>();
  for (let round = 0; round < 5; round++) {
    leaders = new Map();
    for (const n of nodes) {
      const r = await bus.request(n.id, 'node.status', {}, { timeoutMs: 10_000 });
      for (const g of (r.body as { groups: Array<{ id: string; isLeader: boolean }> }).groups) if (g.isLeader) leaders.set(g.id, n.id);
    }
    const misplaced = splits.filter((s) => leaders.get(s.id) !== want.get(s.id) && leaders.has(s.id));
    if (misplaced.length === 0 || Date.now() > deadline) break;
    progress(`spreading leaders: round ${round + 1}, ${misplaced.length} leader transfers`);
    const queue = [...misplaced];
    const worker = async () => {
      for (let s = queue.shift(); s && Date.now() < deadline; s = queue.shift())
        await bus.request(leaders.get(s.id)!, 'split.transfer', { to: want.get(s.id)! }, { group: s.id, timeoutMs: 8_000 }).catch(() => undefined);
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    await sleep(500);
  }
  return Object.fromEntries(nodes.map((n) => [n.id, [...leaders.values()].filter((x) => x === n.id).length]));
}

/**
 * Waits (bounded) until every split has a leader with a t_safe, polling every node's status once
 * a second; returns how many splits have one when it stops (a slow election is a result too).
 */
async function waitForLeaders(bus: Bus, cluster: LaunchedCluster, timeoutMs: number): Promise<{ led: number; ms: number }> {
  const t0 = Date.now();
  const total = cluster.rangeMap.all().length;
  let led = 0;
  for (let lastSaid = t0; ; ) {
    const seen = new Set<string>();
    await Promise.all(
      cluster.rangeMap.nodes().map(async (n) => {
        try {
          const r = await bus.request(n.id, 'node.status', {}, { timeoutMs: 5_000 });
          for (const g of (r.body as { groups: Array<{ id: string; isLeader: boolean; tSafe: number }> }).groups) if (g.isLeader && g.tSafe > 0) seen.add(g.id);
        } catch {
          /* a node too busy to answer now is asked again next round */
        }
      }),
    );
    led = seen.size;
    if (led === total || Date.now() - t0 > timeoutMs) return { led, ms: Date.now() - t0 };
    if (Date.now() - lastSaid >= 5_000) {
      progress(`${led}/${total} splits have a leader after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      lastSaid = Date.now();
    }
    await sleep(1_000);
  }
}

async function readAll(bus: Bus, cluster: LaunchedCluster, resetEventLoop: boolean): Promise<NodeReading[]> {
  return Promise.all(cluster.rangeMap.nodes().map((n) => readNode(bus, n.id, cluster.info.metrics?.[n.id], resetEventLoop)));
}

/**
 * Waits (bounded by `timeoutMs`) until every node reports all `total` of its groups quiet; polls
 * node.status twice a second (a node-level request: it touches no split). Returns the quiet count
 * per node when it stops.
 */
async function waitForQuiet(bus: Bus, cluster: LaunchedCluster, total: number, timeoutMs: number): Promise<{ quiet: Record<string, number>; ms: number }> {
  const t0 = Date.now();
  for (;;) {
    const quiet: Record<string, number> = {};
    for (const n of cluster.rangeMap.nodes()) {
      try {
        const r = await bus.request(n.id, 'node.status', {}, { timeoutMs: 5_000 });
        quiet[n.id] = (r.body as { quietGroups?: number }).quietGroups ?? 0;
      } catch {
        quiet[n.id] = 0;
      }
    }
    if (Object.values(quiet).every((q) => q === total) || Date.now() - t0 > timeoutMs) return { quiet, ms: Date.now() - t0 };
    await sleep(500);
  }
}

interface IdleRow {
  splits: number;
  /** Splits with a leader when the window began (all of them unless elections were too slow). */
  led: number;
  leaders: Record<string, number>;
  nodes: NodeRates[];
  natsCpuPct?: number;
  /** The machine's 1-minute load average at the end of the window (2 cores: above 2, processes wait for a core). */
  loadAvg: number;
}

interface LoopWindow {
  nodes: NodeRates[];
  writes: RunResult | OpenLoopResult;
  gcSeenOn: string[];
  seconds: number;
  loadAvg: number;
}

interface WritePart {
  spread: RunResult;
  single: RunResult;
  /** Writes started at a fixed rate (the goal's window), then closed-loop writers saturating the machine. */
  paced: LoopWindow;
  saturated: LoopWindow;
}

/** Idle costs of every spanserver over one window, and nats-server's CPU beside them. */
async function measureIdle(bus: Bus, cluster: LaunchedCluster): Promise<{ nodes: NodeRates[]; natsCpuPct?: number; loadAvg: number }> {
  const natsPid = cluster.nats.pid;
  const n0 = procCpuSeconds(natsPid);
  const a = await readAll(bus, cluster, true);
  const t0 = performance.now();
  const m0 = monoUs();
  await sleep(cfg.windowS * 1000);
  if (cfg.cpuProf) progress(`idle window on the monotonic clock: ${m0}..${monoUs()} µs`);
  const b = await readAll(bus, cluster, true);
  const n1 = procCpuSeconds(natsPid);
  const secs = (performance.now() - t0) / 1000;
  return { nodes: a.map((r, i) => ratesBetween(r, b[i]!)), loadAvg: os.loadavg()[0]!, ...(n0 !== undefined && n1 !== undefined ? { natsCpuPct: ((n1 - n0) / secs) * 100 } : {}) };
}

/**
 * Writes spread over every split vs all on one, then the event-loop window: writes over every
 * split until a version GC pass has run (the spanservers collect `gcIntervalS` after they
 * started, with horizon now − gcRetentionS), each spanserver's delay read over that window.
 */
async function measureWrites(bus: Bus, cluster: LaunchedCluster, readyAtMs: number): Promise<WritePart> {
  const splits = cluster.rangeMap.all();
  const client = new SynodClient(bus, cluster.rangeMap, { timeoutMs: 10_000 });
  let n = 0;
  const spreadOp = (w: number) => client.transaction(async (tx) => tx.put(keyIn(w % splits.length, w), ++n));
  const singleOp = (w: number) => client.transaction(async (tx) => tx.put(keyIn(0, w), ++n));
  for (let w = 0; w < Math.min(cfg.clients, splits.length); w++) if (cluster.rangeMap.splitFor(keyIn(w % splits.length, w)).id !== splits[w % splits.length]!.id) throw new Error(`key ${keyIn(w, w)} is not in split ${w}`);
  // Warm-up: every split's leader gets its first writes (its first term entry, leases) out of the way.
  progress(`warm-up: ${cfg.clients} writers over ${splits.length} splits, then on one split`);
  await closedLoop('warmup', cfg.clients, 3, spreadOp);
  await closedLoop('warmup', cfg.clients, 3, singleOp);
  const spreadRuns: RunResult[] = [];
  const singleRuns: RunResult[] = [];
  for (let round = 1; round <= cfg.rounds; round++) {
    spreadRuns.push(await closedLoop(`spread, round ${round}`, cfg.clients, cfg.writeS, spreadOp));
    progress(formatRow(spreadRuns.at(-1)!));
    singleRuns.push(await closedLoop(`one split, round ${round}`, cfg.clients, cfg.writeS, singleOp));
    progress(formatRow(singleRuns.at(-1)!));
  }
  const spread = mergeRuns(`spread over ${splits.length} splits`, spreadRuns);
  const single = mergeRuns('all on 1 split', singleRuns);
  const rate = cfg.loopRate > 0 ? cfg.loopRate : Math.max(1, Math.round(opsPerSec(spread) / 2));
  const paced = await loopWindow(bus, cluster, readyAtMs, client, `${rate} txn/s started on schedule`, (seconds) =>
    openLoop(`paced writes during the event-loop window`, rate, seconds, cfg.clients * 8, (seq) => spreadOp(seq % (cfg.clients * 8))),
  );
  const saturated = await loopWindow(bus, cluster, readyAtMs, client, `${cfg.clients} closed-loop writers`, (seconds) => closedLoop(`saturating writes during the event-loop window`, cfg.clients, seconds, spreadOp));
  return { spread, single, paced, saturated };
}

/**
 * One event-loop window: writes from `drive` over every split until a version GC pass has run
 * (the spanservers collect `gcIntervalS` after they started, with horizon now − gcRetentionS),
 * each spanserver's delay read over that window.
 */
async function loopWindow(bus: Bus, cluster: LaunchedCluster, readyAtMs: number, client: SynodClient, what: string, drive: (seconds: number) => Promise<RunResult>): Promise<LoopWindow> {
  const splits = cluster.rangeMap.all();
  const nextGcMs = readyAtMs + Math.ceil((Date.now() - readyAtMs + 2_000) / (cfg.gcIntervalS * 1000)) * cfg.gcIntervalS * 1000;
  const loopMs = Math.max(cfg.loopS * 1000, nextGcMs + 3_000 - Date.now());
  progress(`event-loop window: ${(loopMs / 1000).toFixed(0)} s of writes over ${splits.length} splits, ${what} (GC retention ${cfg.gcRetentionS} s, next pass expected in ${((nextGcMs - Date.now()) / 1000).toFixed(0)} s)`);
  const oldTs = await client.put(keyIn(0, 0), 'gc-probe');
  const a = await readAll(bus, cluster, true);
  const m0 = monoUs();
  const writes = await drive(loopMs / 1000);
  if (cfg.cpuProf) progress(`event-loop window on the monotonic clock: ${m0}..${monoUs()} µs`);
  const b = await readAll(bus, cluster, true);
  progress(formatRow(writes));
  // GC ran on a node if a read at a timestamp from before the window is now refused there.
  const gcSeenOn: string[] = [];
  for (const node of cluster.rangeMap.nodes())
    try {
      await bus.request(node.id, 'kv.snapshot', { keys: [keyIn(0, 0)], ts: oldTs, waitMs: 2_000 }, { group: splits[0]!.id, timeoutMs: 5_000 });
    } catch (err) {
      if (err instanceof SynodError && err.code === 'SNAPSHOT_TOO_OLD') gcSeenOn.push(node.id);
      else progress(`GC probe on ${node.id}: ${(err as Error).message}`);
    }
  return { nodes: a.map((r, i) => ratesBetween(r, b[i]!)), writes, gcSeenOn, seconds: loopMs / 1000, loadAvg: os.loadavg()[0]! };
}


async function runCluster(splitCount: number, idle: boolean, writes: boolean): Promise<{ idle?: IdleRow; writes?: WritePart }> {
  const dir = mkdtempSync(join(os.tmpdir(), 'synod-bench-splits-'));
  const res: { cluster?: LaunchedCluster; dir: string; buses: Bus[] } = { dir, buses: [] };
  live.add(res);
  try {
    progress(`${splitCount} split(s): starting nats-server and 3 spanservers`);
    // Children inherit the environment: how the retention and quiescence reach them (launchCluster passes no spanserver flags).
    process.env.SYNOD_GC_RETENTION_S = String(cfg.gcRetentionS);
    process.env.SYNOD_QUIESCE_AFTER_MS = String(cfg.quiesceAfterMs);
    const launch = launchCluster({ dataDir: dir, dcs: 3, splitKeys: cutKeys(splitCount), cluster: 'bench', truetime: 'local', epsilonMs: 1, placementService: 'off', signal: launchAbort.signal, spanserverNodeFlags: [...cfg.nodeFlags, ...(cfg.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${join(cfg.cpuProf, `${splitCount}-splits`)}`] : [])] });
    launching = launch;
    const cluster = (res.cluster = await launch);
    if (cfg.cpuProf) progress(`profiling into ${join(cfg.cpuProf, `${splitCount}-splits`)}: ${cluster.nodes.map((n) => `${n.name} pid ${n.proc.pid}`).join(', ')}`);
    const readyAtMs = Date.now();
    const bus = await connectBus(cluster.info.natsUrl, { nodeId: 'bench-client', dc: 'dc-a', cluster: 'bench' });
    res.buses.push(bus);
    const elected = await waitForLeaders(bus, cluster, cfg.electS * 1000);
    progress(`${splitCount} split(s): ${elected.led === splitCount ? 'every split has' : `only ${elected.led}/${splitCount} splits have`} a leader after ${(elected.ms / 1000).toFixed(1)} s`);
    const leaders = await spreadLeaders(bus, cluster, 60_000);
    progress(`leaders per node: ${Object.entries(leaders).map(([n, c]) => `${n} ${c}`).join(', ')}; settling ${cfg.settleS} s`);
    await sleep(cfg.settleS * 1000);
    const out: { idle?: IdleRow; writes?: WritePart } = {};
    if (idle) {
      if (cfg.quiesceAfterMs > 0) {
        // Idle means quiet: the window starts once every split has gone quiet on every process.
        const q = await waitForQuiet(bus, cluster, splitCount, Math.max(cfg.quietWaitS * 1000, cfg.quiesceAfterMs));
        progress(`quiet groups per node after ${(q.ms / 1000).toFixed(1)} s more: ${Object.entries(q.quiet).map(([n, c]) => `${n} ${c}/${splitCount}`).join(', ')}`);
      }
      progress(`${splitCount} split(s): idle window of ${cfg.windowS} s`);
      out.idle = { splits: splitCount, led: elected.led, leaders, ...(await measureIdle(bus, cluster)) };
    }
    if (writes) out.writes = await measureWrites(bus, cluster, readyAtMs);
    return out;
  } finally {
    live.delete(res);
    for (const b of res.buses) await b.close().catch(() => undefined);
    await res.cluster?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (x: number | undefined, w: number, d = 1) => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(d)).padStart(w);
const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / Math.max(1, xs.length);

function printIdle(rows: IdleRow[]): void {
  const wire = rows.some((r) => r.nodes.some((n) => n.wire));
  console.log(`\n-- idle: ${cfg.windowS} s window per split count, every process hosting a replica of every split; quiesce after ${cfg.quiesceAfterMs > 0 ? `${cfg.quiesceAfterMs} ms` : 'never'} --`);
  console.log(`splits  node  leads  quiet start→end  CPU % of a core  bus in msg/s${wire ? '  wire in/s  wire out/s' : ''}  fsyncs/s  loop p99 ms  loop max ms`);
  for (const r of rows) {
    for (const n of r.nodes)
      console.log(
        `${String(r.splits).padStart(6)}  ${n.node.padEnd(4)}  ${String(n.leads).padStart(5)}  ${(n.quiet ? `${n.quiet.start}→${n.quiet.end}` : '—').padStart(15)}  ${fmt(n.cpuPct, 15)}  ${fmt(n.busInPerSec, 12, 0)}${wire ? `  ${fmt(n.wire?.inPerSec, 9, 0)}  ${fmt(n.wire?.outPerSec, 10, 0)}` : ''}  ${fmt(n.fsyncsPerSec, 8, 2)}  ${fmt(n.loop?.p99Ms, 11, 2)}  ${fmt(n.loop?.maxMs, 11, 2)}`,
      );
    console.log(`${String(r.splits).padStart(6)}  ${r.natsCpuPct !== undefined ? `nats-server CPU ${r.natsCpuPct.toFixed(1)}% of a core; ` : ''}load average ${r.loadAvg.toFixed(1)}`);
    if (r.led < r.splits) console.log(`${String(r.splits).padStart(6)}  only ${r.led} of ${r.splits} splits had elected a leader within ${cfg.electS} s`);
  }
  const base = rows.find((r) => r.splits === 1);
  if (!base) return;
  const avg = (r: IdleRow, f: (n: NodeRates) => number | undefined) => mean(r.nodes.map((n) => f(n) ?? NaN));
  for (const r of rows.filter((x) => x.splits > 1)) {
    const ratio = (f: (n: NodeRates) => number | undefined) => {
      const b = avg(base, f);
      return b > 0 ? `${(avg(r, f) / b).toFixed(1)}×` : `${avg(r, f).toFixed(2)} vs 0`;
    };
    console.log(
      `ratio ${r.splits}/1 (mean per process): CPU ${ratio((n) => n.cpuPct)}, bus in ${ratio((n) => n.busInPerSec)}${wire ? `, wire in ${ratio((n) => n.wire?.inPerSec)}, wire out ${ratio((n) => n.wire?.outPerSec)}` : ''}, fsyncs ${ratio((n) => n.fsyncsPerSec)}`,
    );
  }
  console.log(`goal: idle cost does not grow with the split count beyond one heartbeat stream per peer (ratios near 1×)`);
}

function printWrites(w: WritePart): void {
  console.log(`\n-- writes: ${cfg.clients} closed-loop writers (one-key transactions) in dc-a, ${cfg.rounds} alternating rounds × ${cfg.writeS} s --`);
  console.log(formatRow(w.spread).replace('req/s', 'txn/s'));
  console.log(formatRow(w.single).replace('req/s', 'txn/s'));
  console.log(`ratio spread / one split: ${(opsPerSec(w.spread) / opsPerSec(w.single)).toFixed(2)}`);
  const paced = printLoopWindow(w.paced, `writes started at ${(w.paced.writes as OpenLoopResult).offeredPerSec} txn/s on schedule (--loop-rate)`);
  const saturated = printLoopWindow(w.saturated, `${cfg.clients} closed-loop writers, the machine saturated`);
  console.log(
    `goal: event-loop delay max under ${LOOP_MAX_GOAL_MS} ms on every spanserver under a write load over ${cfg.writeSplits} splits with GC running: ${paced < LOOP_MAX_GOAL_MS ? 'met' : 'NOT met'} at the paced rate (worst max ${paced.toFixed(2)} ms); saturated: worst max ${saturated.toFixed(2)} ms`,
  );
}

/** Prints one event-loop window; returns its worst max (ms). */
function printLoopWindow(l: LoopWindow, what: string): number {
  console.log(`\n-- event-loop delay: ${l.seconds.toFixed(0)} s of writes over ${cfg.writeSplits} splits, ${what}; version GC every ${cfg.gcIntervalS} s with ${cfg.gcRetentionS} s retention --`);
  console.log(formatRow(l.writes).replace('req/s', 'txn/s') + ('shed' in l.writes ? `   (latency from each scheduled start; ${l.writes.shed} shed at ${cfg.clients * 8} in flight)` : ''));
  console.log(`load average at the end: ${l.loadAvg.toFixed(1)} (2 cores: above 2, every process also waits for a core, which shows as event-loop delay)`);
  console.log(`GC collected during the window on: ${l.gcSeenOn.length ? l.gcSeenOn.join(', ') : 'no node (a read from before the window was still served)'}`);
  for (const n of l.nodes) console.log(`${n.node.padEnd(4)} loop p99 ${fmt(n.loop?.p99Ms, 7, 2)} ms   max ${fmt(n.loop?.maxMs, 7, 2)} ms   CPU ${fmt(n.cpuPct, 5)}% of a core   fsyncs/s ${fmt(n.fsyncsPerSec, 7, 0)}`);
  if (l.nodes.some((n) => n.stalls)) {
    console.log(`where the delay went (the main thread's /proc schedstat, sampled every 10 ms): run-queue wait is time it was ready to run but had no core`);
    for (const n of l.nodes) {
      const s = n.stalls;
      if (!s) continue;
      const w = s.worstOwn;
      const split = w ? ` (its ${w.gapMs.toFixed(1)} ms: on a CPU ${w.runMs.toFixed(1)}, run-queue ${w.waitMs.toFixed(1)}, asleep or blocked ${w.asleepMs.toFixed(1)})` : '';
      console.log(`${n.node.padEnd(4)} own stall max ${fmt(s.maxOwnMs, 6, 1)} ms${split}; run-queue wait max ${fmt(s.maxWaitMs, 6, 1)} ms in one sample, ${fmt(s.waitPct, 4, 0)}% of the window`);
    }
  }
  return Math.max(...l.nodes.map((n) => n.loop?.maxMs ?? Infinity));
}

const started = Date.now();
if (!cfg.fromSource) useCompiledChildren(progress);
console.log(`splits bench: 3 spanserver processes (dc-a, dc-b, dc-c; ${cfg.fromSource ? 'from source through tsx' : 'the compiled CLI'}), each hosting a replica of every split, LMDB with fsync, ε = 1 ms, one nats-server`);
console.log(machineLine());
try {
  const counts = [...new Set([...cfg.splits, cfg.writeSplits])].sort((a, b) => a - b);
  const idleRows: IdleRow[] = [];
  let writes: WritePart | undefined;
  for (const c of counts) {
    const r = await runCluster(c, cfg.splits.includes(c), c === cfg.writeSplits);
    if (r.idle) idleRows.push(r.idle);
    if (r.writes) writes = r.writes;
  }
  printIdle(idleRows);
  if (writes) printWrites(writes);
  console.log(`\nrun time ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (cfg.json) {
    const strip = (r: RunResult) => ({ label: r.label, ops: r.ops, seconds: r.seconds, opsPerSec: opsPerSec(r), p50Ms: r.p50Ms, p99Ms: r.p99Ms });
    const out = { config: cfg, machine: { cpus: os.cpus().length, node: process.version }, idle: idleRows, writes: writes && { spread: strip(writes.spread), single: strip(writes.single), paced: { ...writes.paced, writes: { ...strip(writes.paced.writes), offeredPerSec: (writes.paced.writes as OpenLoopResult).offeredPerSec, shed: (writes.paced.writes as OpenLoopResult).shed } }, saturated: { ...writes.saturated, writes: strip(writes.saturated.writes) }, goalMaxMs: LOOP_MAX_GOAL_MS } };
    writeFileSync(cfg.json, JSON.stringify(out, null, 2) + '\n');
    console.log(`figures written to ${cfg.json}`);
  }
} catch (err) {
  // After a signal its handler cleans up and exits with the signal's code.
  if (!interrupted) {
    console.error(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    await cleanUp();
    process.exit(1);
  }
}
