/**
 * The synod side of `bench:vs-etcd`: a cluster as `synod up` starts it by default (3 DCs, splits
 * cut at g,p, time masters and the sync daemon, placement service, NATS users, LMDB with fsync),
 * one SynodClient per loop in its DC, where reads were served (per-node /metrics), and the parts
 * the put floor is built from.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { MessageBody } from '@synod/codec';
import { collectStatus, launchCluster, waitForLeaders, type LaunchedCluster } from '@synod/cli';
import { SynodClient } from '@synod/client';
import { openStorage } from '@synod/storage';
import { connectBus, SharedConnection, type Bus } from '@synod/transport';
import { parseCounters } from '../node-load.js';
import type { Adapter } from './driver.js';
import { counterOf, LatencyHistogram, valueWithCounter } from './report.js';

export const SYNOD_DCS = ['dc-a', 'dc-b', 'dc-c'] as const;
/** Bound of the bounded-staleness reads (as bench:kv). */
export const STALENESS_MS = 10_000;
const CLUSTER = 'vsetcd';

export interface SynodCluster {
  cluster: LaunchedCluster;
  /** An operator bus (may ask node.status, publish anywhere in the cluster). */
  control: Bus;
  /** nats-server, time masters, spanservers, placement replicas. */
  pids: Array<{ name: string; pid: number }>;
  dataDir: string;
  stop(): Promise<void>;
}

type NodeStatus = MessageBody<'node.status.reply'>;

export async function startSynodCluster(say: (s: string) => void, signal?: AbortSignal, spanserverNodeFlags: string[] = []): Promise<SynodCluster> {
  const dataDir = mkdtempSync(join(os.tmpdir(), 'synod-vsetcd-'));
  let cluster: LaunchedCluster | undefined;
  let control: Bus | undefined;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await control?.close().catch(() => undefined);
    await cluster?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    // `synod up` defaults (services/cli/src/up.ts): dcs 3, split keys g,p, truetime daemon with a
    // 5 s sync interval, placement service auto, NATS users, log level warn; storage fsyncs.
    // One deviation: the placement service does not cut splits by load (its threshold raised out
    // of reach). etcd keeps one key space; a cut in the middle of a run would measure the cut.
    cluster = await launchCluster({ dataDir, dcs: 3, splitKeys: ['g', 'p'], cluster: CLUSTER, placementService: 'auto', placementArgs: [...NO_LOAD_CUTS], truetime: 'daemon', natsAuth: 'users', logLevel: 'warn', spanserverNodeFlags, say: (s) => say(`  ${s}`), ...(signal ? { signal } : {}) });
    control = await connectBus(cluster.info.natsUrl, { nodeId: 'vsetcd-control', dc: 'dc-a', cluster: CLUSTER, natsCreds: credsFile(cluster, 'operator') });
    await waitForLeaders(control, cluster, 60_000);
    // The placement service moves each split's leader to its preferred DC soon after start-up:
    // measure only once it has (a move in a run stalls its loops).
    say(`  leaders in their preferred DCs after ${await waitForPreferredLeaders(control, cluster, 60_000)} ms`);
    const pids = [
      { name: 'nats-server', pid: cluster.nats.pid },
      ...[...cluster.masters, ...cluster.nodes, ...cluster.placement].map((c) => ({ name: c.name, pid: c.proc.pid! })),
    ];
    return { cluster, control, pids, dataDir, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

const credsFile = (cluster: LaunchedCluster, user: string) => join(cluster.info.creds!, `${user}.json`);

/** Placement flags of the bench's cluster: no cuts by load (docs/benchmarks.md, "synod vs etcd"). */
export const NO_LOAD_CUTS = ['--max-split-writes-per-sec', '1000000000'] as const;

/**
 * Waits (bounded) until every split is led by a node in its preferred DC (`leaderDc` of the
 * placement file the cluster started from), twice in a row 500 ms apart; returns how long it took.
 */
async function waitForPreferredLeaders(control: Bus, cluster: LaunchedCluster, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  const preferred = new Map((JSON.parse(readFileSync(cluster.info.placement, 'utf8')) as { splits: Array<{ id: string; leaderDc?: string }> }).splits.map((x) => [x.id, x.leaderDc]));
  const dcOf = new Map(cluster.rangeMap.nodes().map((n) => [n.id, n.dc]));
  let settledOnce = false;
  while (Date.now() - t0 < timeoutMs) {
    const rows = await collectStatus(control, cluster.rangeMap.nodes());
    const leaders = new Map(rows.flatMap((r) => (r.status?.groups ?? []).filter((g) => g.isLeader).map((g) => [g.id, r.node] as const)));
    const settled = [...preferred].every(([split, dc]) => dc === undefined || dcOf.get(leaders.get(split) ?? '') === dc);
    if (settled && settledOnce) return Date.now() - t0;
    settledOnce = settled;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`bench:vs-etcd: the splits' leaders did not reach their preferred DCs within ${timeoutMs} ms`);
}

/** Keys `v/<n>`: all in the last split ('p' … end), so rmw2's two keys are always in one split. */
export const synodKey = (i: number) => `v/${String(i).padStart(6, '0')}`;

/**
 * How the bench's SynodClients reach NATS: `per-client`, one connection each (as 128 separate
 * processes would); `per-dc`, the clients of one DC share one connection (SharedConnection), as
 * the etcd3 clients share one HTTP/2 connection per member (grpc-js pools subchannels by target).
 */
export type SynodConnections = 'per-dc' | 'per-client';

/** One SharedConnection per DC, opened on first use; `close` closes them all. */
export class DcConnections {
  private readonly byDc = new Map<string, Promise<SharedConnection>>();
  constructor(private readonly c: SynodCluster) {}

  get(dc: string): Promise<SharedConnection> {
    let conn = this.byDc.get(dc);
    if (!conn) this.byDc.set(dc, (conn = SharedConnection.connect(this.c.cluster.info.natsUrl, { cluster: CLUSTER, natsCreds: credsFile(this.c.cluster, 'client'), name: `vsetcd-${dc}` })));
    return conn;
  }

  async close(): Promise<void> {
    await Promise.all([...this.byDc.values()].map(async (p) => (await p).close()));
  }
}

export async function synodAdapter(c: SynodCluster, w: number, shared?: DcConnections): Promise<Adapter> {
  const dc = SYNOD_DCS[w % SYNOD_DCS.length]!;
  const nodeId = `vsetcd-client-${w}`;
  const bus = shared ? await (await shared.get(dc)).bus({ nodeId, dc }) : await connectBus(c.cluster.info.natsUrl, { nodeId, dc, cluster: CLUSTER, natsCreds: credsFile(c.cluster, 'client') });
  const client = new SynodClient(bus, c.cluster.rangeMap, { timeoutMs: 10_000 });
  return {
    at: dc,
    async put(key, value) {
      return (await client.transaction(async (tx) => tx.put(key, value))).attempts - 1;
    },
    async strongGet(key) {
      await client.get(key);
      return 0;
    },
    async staleGet(key) {
      await client.get(key, { maxStalenessMs: STALENESS_MS });
      return 0;
    },
    async rmw2(keyA, keyB) {
      const r = await client.transaction(async (tx) => {
        // Both reads at once, as etcd's side reads both keys of its STM at once.
        const [a, b] = await Promise.all([tx.get(keyA), tx.get(keyB)]);
        tx.put(keyA, valueWithCounter(counterOf(a) + 1));
        tx.put(keyB, valueWithCounter(counterOf(b) + 1));
      });
      return r.attempts - 1;
    },
    async close() {
      await bus.close();
    },
  };
}

/** Writes keys 0..n-1 (64-byte values) in transactions of 100 keys. */
export async function preloadSynod(a: SynodCluster, n: number): Promise<void> {
  const bus = await connectBus(a.cluster.info.natsUrl, { nodeId: 'vsetcd-preload', dc: 'dc-a', cluster: CLUSTER, natsCreds: credsFile(a.cluster, 'client') });
  try {
    const client = new SynodClient(bus, a.cluster.rangeMap, { timeoutMs: 10_000 });
    const first = a.cluster.rangeMap.splitFor(synodKey(0)).id;
    if (a.cluster.rangeMap.splitFor(synodKey(n + 1024)).id !== first) throw new Error('the bench keys are not all in one split');
    for (let i = 0; i < n; i += 100)
      await client.transaction(async (tx) => {
        for (let k = i; k < Math.min(n, i + 100); k++) tx.put(synodKey(k), valueWithCounter(0));
      });
  } finally {
    await bus.close();
  }
}

export async function nodeStatuses(c: SynodCluster): Promise<Array<{ node: string; dc: string; status?: NodeStatus }>> {
  return collectStatus(c.control, c.cluster.rangeMap.nodes());
}

/**
 * Samples `node`'s ε (ms, from node.status) every `everyMs` until stopped; `stop()` resolves to
 * the mean. ε follows a sawtooth over the daemon's sync interval (5 s by `synod up` default), so
 * one reading before a run can be a millisecond off the ε the run's commit waits saw.
 */
export function sampleEpsilon(c: SynodCluster, node: string, everyMs = 200): { stop(): Promise<{ meanMs: number; samples: number }> } {
  const values: number[] = [];
  const target = c.cluster.rangeMap.nodes().filter((n) => n.id === node);
  let stopped = false;
  const loop = (async () => {
    for (let i = 0; i < 10_000 && !stopped; i++) {
      const [row] = await collectStatus(c.control, target);
      if (row?.status) values.push(row.status.tt.epsilonUs / 1000);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { meanMs: values.length > 0 ? values.reduce((a, b) => a + b, 0) / values.length : NaN, samples: values.length };
    },
  };
}

/** The node leading the split that holds the bench keys, and every node's ε (ms). */
export async function layout(c: SynodCluster): Promise<{ split: string; leader?: string; epsilonMs: Record<string, number> }> {
  const split = c.cluster.rangeMap.splitFor(synodKey(0)).id;
  const rows = await nodeStatuses(c);
  const leader = rows.find((r) => r.status?.groups.some((g) => g.id === split && g.isLeader))?.node;
  const epsilonMs = Object.fromEntries(rows.filter((r) => r.status).map((r) => [r.node, r.status!.tt.epsilonUs / 1000]));
  return { split, ...(leader ? { leader } : {}), epsilonMs };
}

/**
 * Read-only (kv.snapshot) requests each spanserver has answered ok, from its /metrics:
 * `synod_read_latency_seconds_count{kind="kv.snapshot",outcome="ok"}` (the spanserver's read
 * histogram, docs/metrics.md). Strong and bounded-staleness reads are both kv.snapshot; during a
 * workload that sends only one kind, the difference of two readings counts that kind where served.
 */
export async function snapshotReadsServed(c: SynodCluster): Promise<Record<string, number | undefined>> {
  const out: Record<string, number | undefined> = {};
  for (const n of c.cluster.rangeMap.nodes()) {
    const url = c.cluster.info.metrics?.[n.id];
    if (!url) {
      out[n.id] = undefined;
      continue;
    }
    try {
      const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
      const counters = parseCounters(text, ['synod_read_latency_seconds_count']);
      out[n.id] = [...counters].filter(([k]) => k.includes('kind="kv.snapshot"') && k.includes('outcome="ok"')).reduce((s, [, v]) => s + v, 0);
    } catch {
      out[n.id] = undefined;
    }
  }
  return out;
}

export interface FloorParts {
  /** Bus request/reply round trip between two Bus instances over the cluster's nats-server, p50 ms. */
  busRttMs: number;
  /**
   * One fsync'd LMDB commit through @synod/storage (a Paxos persist on the LMDB path: the issue's
   * "raw LMDB fsync"; the spanserver acknowledges from its write-ahead log, which is faster), p50 ms.
   */
  fsyncMs: number;
  /** ε of the split leader's TrueTime (node.status), ms. */
  epsilonMs: number;
  floorMs: number;
  formula: string;
}

/**
 * The parts a 1-client put cannot be faster than, measured apart (each bounded: `samples` ops or
 * `maxMs`, whichever first). A single-split put is one kv.commit to the split leader:
 *   client → leader → client                       1 bus round trip
 *   leader → follower accept, fsync'd → leader    1 bus round trip + 1 fsync (the leader's own
 *                                                  accept fsync runs alongside: paxos.md,
 *                                                  "Accepts before the leader's fsync")
 *   leader applies (chosen); its fsync is not waited for (transactions.md rule 8)
 *   commit wait: TT.after(ts), ts ≈ now.latest    ≈ 2ε from assignment, running alongside the
 *                                                  replication (rule 8)
 * floor = 2 × rtt + max(fsync, 2ε).
 */
export async function measureFloor(c: SynodCluster, epsilonMs: number, samples = 300, maxMs = 5_000): Promise<FloorParts> {
  const url = c.cluster.info.natsUrl;
  const echo = await connectBus(url, { nodeId: 'vsetcd-echo', dc: 'dc-b', cluster: CLUSTER, natsCreds: credsFile(c.cluster, 'operator') });
  const pinger = await connectBus(url, { nodeId: 'vsetcd-ping', dc: 'dc-a', cluster: CLUSTER, natsCreds: credsFile(c.cluster, 'operator') });
  const rtt = new LatencyHistogram();
  try {
    echo.on('ping', (env) => ({ kind: 'pong', body: { nonce: env.body.nonce } }));
    const deadline = performance.now() + maxMs;
    for (let i = 0; i < samples + 20 && performance.now() < deadline; i++) {
      const t = performance.now();
      await pinger.request('vsetcd-echo', 'ping', { nonce: i }, { timeoutMs: 5_000 });
      if (i >= 20) rtt.record(performance.now() - t);
    }
  } finally {
    await pinger.close();
    await echo.close();
  }
  const dir = mkdtempSync(join(os.tmpdir(), 'synod-vsetcd-fsync-'));
  const fsync = new LatencyHistogram();
  const storage = openStorage({ path: dir, fsync: true, wal: false });
  try {
    const store = storage.paxos('floor');
    const deadline = performance.now() + maxMs;
    for (let slot = 0; slot < samples + 10 && performance.now() < deadline; slot++) {
      const t = performance.now();
      await store.persist({ accepted: [{ slot, ballot: { round: 1, node: 'n1' }, value: { kind: 'batch', cmds: [{ id: `c${slot}`, payload: { key: synodKey(slot), value: valueWithCounter(slot) } }] } }] });
      if (slot >= 10) fsync.record(performance.now() - t);
    }
  } finally {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const busRttMs = rtt.percentile(50);
  const fsyncMs = fsync.percentile(50);
  return { busRttMs, fsyncMs, epsilonMs, floorMs: 2 * busRttMs + Math.max(fsyncMs, 2 * epsilonMs), formula: 'floor = 2 × bus rtt + max(fsync, 2ε)' };
}
