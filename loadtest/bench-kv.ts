/**
 * Transaction and read throughput and latency of a local 3-DC cluster (three spanserver
 * processes, LMDB with fsync, one nats-server), in two parts:
 *
 *   single   single-split writes, strong and stale reads, and the share of write latency spent in
 *            commit wait, at several TrueTime uncertainties side by side;
 *   xsplit   commits that write 1, 2 and 3 splits (2 and 3: two-phase commit) side by side in
 *            one cluster, with a simulated inter-DC latency (chaos latency on every link between
 *            two DCs) and every split led from the client's DC, in alternating rounds; each
 *            multi-split row is compared with the single-split one against one quorum round
 *            trip (leader → nearest follower → leader = 2 × the one-way latency).
 *
 *   npm run bench:kv -- [--seconds 5] [--clients 32] [--epsilons daemon,1,10]
 *                       [--latency-ms 10] [--xsplit-epsilon 1] [--xsplit-clients 1,32] [--rounds 2]
 *                       [--same-key] [--parts single,xsplit]
 *
 * The cross-split part runs at each of --xsplit-clients concurrencies (1: the protocol's latency;
 * 32: throughput, latency under load). Each transaction writes a fresh key in each split it
 * touches; --same-key makes every worker rewrite its own keys instead (then a transaction waits
 * for its predecessor's decision to be applied at the participants, see docs/benchmarks.md).
 *
 * `daemon` runs with time masters and the sync daemon (ε as it comes); a number runs every
 * spanserver on its host clock with that fixed ε in ms, to show what commit wait costs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { collectStatus, launchCluster, waitForLeaders, type LaunchedCluster } from '@synod/cli';
import { SynodClient } from '@synod/client';
import { booleanFlag, loadConfig } from '@synod/config';
import { chaos, connectBus, type Bus } from '@synod/transport';
import { closedLoop, formatRow, mergeRuns, opsPerSec, type RunResult } from './stats.js';
import { machineLine } from './machine.js';

const cfg = loadConfig(
  z.object({
    seconds: z.coerce.number().positive().max(120).default(5),
    clients: z.coerce.number().int().min(1).max(1024).default(32),
    epsilons: z.string().default('daemon,1,10'),
    latencyMs: z.coerce.number().min(0).max(200).default(10),
    xsplitEpsilon: z.coerce.number().positive().max(100).default(1),
    rounds: z.coerce.number().int().min(1).max(10).default(2),
    xsplitClients: z.string().default('1,32'),
    sameKey: booleanFlag.default(false),
    parts: z
      .string()
      .default('single,xsplit')
      .transform((x) => x.split(',').filter(Boolean))
      .pipe(z.array(z.enum(['single', 'xsplit'])).min(1)),
  }),
  { argv: process.argv.slice(2).map((a) => (a === '--same-key' ? '--same-key=true' : a)), env: {} },
);

interface Row {
  epsilon: string;
  writes: RunResult;
  commitWaitShare: number;
  strong: RunResult;
  stale: RunResult;
}

async function measure(epsilon: string): Promise<Row> {
  const dir = mkdtempSync(join(os.tmpdir(), 'synod-bench-kv-'));
  const time = epsilon === 'daemon' ? { truetime: 'daemon' as const } : { truetime: 'local' as const, epsilonMs: Number(epsilon) };
  const label = epsilon === 'daemon' ? 'ε from daemon' : `ε=${epsilon} ms`;
  const cluster = await launchCluster({ dataDir: dir, dcs: 3, splitKeys: ['g', 'p'], cluster: 'bench', ...time });
  const bus = await connectBus(cluster.info.natsUrl, { nodeId: 'bench-client', dc: 'dc-a', cluster: 'bench' });
  try {
    await waitForLeaders(bus, cluster);
    const client = new SynodClient(bus, cluster.rangeMap, { timeoutMs: 10_000 });
    // Every key in split s1 ('' .. 'g'), one key per client loop so writers never conflict.
    let n = 0;
    let commitWaitUs = 0;
    let commits = 0;
    const write = async (w: number) => {
      const k = `bench/${w}`;
      n++;
      const r = await client.transaction(async (tx) => tx.put(k, n));
      commitWaitUs += r.commitWaitUs;
      commits++;
    };
    await closedLoop('warmup', cfg.clients, 1, write);
    commitWaitUs = 0;
    commits = 0;
    const writes = await closedLoop(`writes, ${label}`, cfg.clients, cfg.seconds, write);
    const meanLatencyUs = (writes.seconds * 1e6 * cfg.clients) / writes.ops;
    const commitWaitShare = commits > 0 ? commitWaitUs / commits / meanLatencyUs : 0;
    let r = 0;
    const strong = await closedLoop(`strong reads, ${label}`, cfg.clients, cfg.seconds, () => client.read([`bench/${r++ % cfg.clients}`]));
    const stale = await closedLoop(`stale reads (≤10 s), ${label}`, cfg.clients, cfg.seconds, () => client.read([`bench/${r++ % cfg.clients}`], { maxStalenessMs: 10_000 }));
    return { epsilon, writes, commitWaitShare, strong, stale };
  } finally {
    await bus.close();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const DCS = ['dc-a', 'dc-b', 'dc-c'];
/** Progress on stderr, so that a long run shows where it is. */
const progress = (s: string) => process.stderr.write(`  … ${s}\n`);

/** Which DC leads each split, as the leaders report it (undefined: none reported). */
async function leaderDcs(bus: Bus, cluster: LaunchedCluster): Promise<Record<string, string | undefined>> {
  const rows = await collectStatus(bus, cluster.rangeMap.nodes());
  return Object.fromEntries(cluster.rangeMap.all().map((s) => [s.id, rows.find((r) => r.status?.groups.some((g) => g.id === s.id && g.isLeader))?.dc]));
}

/**
 * Moves every split's leadership to `target` (there is no transfer command). For each other DC X
 * that leads a split: X's messages to `target` are dropped and 85% of those to the third DC, so
 * X's leaderships lapse one by one and `target`, which hears nothing from X, campaigns first and
 * wins them; links restored once X leads nothing. (A plain partition of X would not do: the
 * third DC wins as often as `target`.) Bounded.
 */
async function colocateLeaders(bus: Bus, cluster: LaunchedCluster, target: string): Promise<string[]> {
  const steps: string[] = [];
  const nodes = cluster.rangeMap.nodes();
  /** How many splits `dc`'s node leads (its own status, 300 ms at most; -1 when it does not answer). */
  const ledBy = async (dc: string) => {
    try {
      const r = await bus.request(nodes.find((n) => n.dc === dc)!.id, 'node.status', {}, { timeoutMs: 300 });
      return (r.body as { groups: Array<{ isLeader: boolean }> }).groups.filter((g) => g.isLeader).length;
    } catch {
      return -1;
    }
  };
  for (let nudge = 0; nudge < 8; nudge++) {
    const led = await leaderDcs(bus, cluster);
    steps.push(Object.entries(led).map(([s, dc]) => `${s}@${dc ?? '—'}`).join(' '));
    if (Object.values(led).every((dc) => dc === target)) return steps;
    const x = Object.values(led).find((dc) => dc && dc !== target);
    if (!x) {
      await new Promise((r) => setTimeout(r, 500)); // an election is under way
      continue;
    }
    let state = chaos.partition(bus.chaos, [x], [target], true);
    for (const third of DCS.filter((d) => d !== target && d !== x)) state = chaos.loss(state, x, third, 0.85);
    await bus.publishChaos(state);
    const deadline = Date.now() + 8_000;
    while (Date.now() < deadline && (await ledBy(x)) !== 0) await new Promise((r) => setTimeout(r, 100));
    await bus.publishChaos(chaos.heal(bus.chaos));
    await new Promise((r) => setTimeout(r, 1_000));
  }
  throw new Error(`could not move every split's leader to ${target}: ${steps.join(' -> ')}`);
}

interface XsplitRow {
  clients: number;
  splits: number;
  run: RunResult;
  /** Transactions that took more than one attempt (aborted and retried). */
  retried: number;
}

/** 1-, 2- and 3-split commits in alternating rounds on one cluster with inter-DC latency. */
async function measureCrossSplit(concurrencies: number[]): Promise<{ rows: XsplitRow[]; layout: string; steps: string[] }> {
  const dir = mkdtempSync(join(os.tmpdir(), 'synod-bench-xsplit-'));
  const cluster = await launchCluster({ dataDir: dir, dcs: 3, splitKeys: ['g', 'p'], cluster: 'bench', truetime: 'local', epsilonMs: cfg.xsplitEpsilon });
  const control = await connectBus(cluster.info.natsUrl, { nodeId: 'bench-control', dc: 'bench-control', cluster: 'bench' });
  const bus = await connectBus(cluster.info.natsUrl, { nodeId: 'bench-client', dc: 'dc-a', cluster: 'bench' });
  try {
    await waitForLeaders(control, cluster);
    progress('moving every split leader to dc-a');
    const steps = await colocateLeaders(control, cluster, 'dc-a');
    progress(`leaders: ${steps.at(-1)}`);
    // Every link between two DCs (the client's too: it is in dc-a) gets the one-way latency.
    let state = control.chaos;
    for (const a of DCS) for (const b of DCS) if (a !== b) state = chaos.latency(state, a, b, cfg.latencyMs);
    await control.publishChaos(state);
    await new Promise((r) => setTimeout(r, 1_000));
    const client = new SynodClient(bus, cluster.rangeMap, { timeoutMs: 10_000 });
    const splits = cluster.rangeMap.all();
    // A fresh key per transaction in split i: writers never conflict, and no transaction waits for
    // the lock its worker's previous one still holds in a participant until the decision is
    // applied there (which a same-key loop measures: see docs/benchmarks.md).
    const keyIn = (i: number, w: number, seq: number) => {
      const k = `${i === 0 ? '' : `${splits[i]!.start}-`}bench/${w}${cfg.sameKey ? '' : `/${seq}`}`;
      if (cluster.rangeMap.splitFor(k).id !== splits[i]!.id) throw new Error(`${k} is not in ${splits[i]!.id}`);
      return k;
    };
    let retried = 0;
    let n = 0;
    const commit = (count: number) => async (w: number) => {
      const seq = ++n;
      const r = await client.transaction(async (tx) => {
        for (let i = 0; i < count; i++) tx.put(keyIn(i, w, seq), seq);
      });
      if (r.attempts > 1) retried++;
    };
    const counts = [1, 2, 3].filter((c) => c <= splits.length);
    const label = (c: number, clients: number) => `${c === 1 ? '1 split' : `${c} splits (2PC)`}, ${clients} client${clients === 1 ? '' : 's'}`;
    const rows: XsplitRow[] = [];
    for (const clients of concurrencies) {
      for (const c of counts) {
        progress(`warm-up, ${clients} client(s), ${c} split(s)`);
        await closedLoop('warmup', clients, 1, commit(c));
      }
      const runs = new Map<number, RunResult[]>(counts.map((c) => [c, []]));
      const retries = new Map<number, number>(counts.map((c) => [c, 0]));
      for (let round = 0; round < cfg.rounds; round++)
        for (const c of counts) {
          retried = 0;
          const r = await closedLoop(`${c}`, clients, cfg.seconds, commit(c));
          retries.set(c, retries.get(c)! + retried);
          progress(`round ${round + 1}, ${clients} client(s), ${c} split(s): ${formatRow(r)}`);
          runs.get(c)!.push(r);
        }
      for (const c of counts) rows.push({ clients, splits: c, run: mergeRuns(label(c, clients), runs.get(c)!), retried: retries.get(c)! });
    }
    const layout = Object.entries(await leaderDcs(control, cluster))
      .map(([s, dc]) => `${s}@${dc ?? '—'}`)
      .join(' ');
    return { rows, layout, steps };
  } finally {
    await bus.close();
    await control.close();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`kv bench: 3 spanserver processes (dc-a, dc-b, dc-c), LMDB with fsync, ${cfg.clients} closed-loop clients in dc-a, ${cfg.seconds}s per run`);
console.log(machineLine());
if (cfg.parts.includes('single')) {
  console.log('\n-- single-split writes and reads, no added latency --');
  for (const eps of cfg.epsilons.split(',').filter(Boolean)) {
    const row = await measure(eps);
    console.log(formatRow(row.writes).replace('req/s', 'txn/s'));
    console.log(`  commit wait beyond replication: ${(row.commitWaitShare * 100).toFixed(1)}% of mean write latency (${((row.writes.seconds * 1e3 * cfg.clients) / row.writes.ops).toFixed(2)} ms)`);
    console.log(formatRow(row.strong).replace('req/s', 'rd/s '));
    console.log(formatRow(row.stale).replace('req/s', 'rd/s '));
    void opsPerSec;
  }
}
if (cfg.parts.includes('xsplit')) {
  const rttMs = 2 * cfg.latencyMs;
  console.log(
    `\n-- commits across splits: simulated inter-DC latency ${cfg.latencyMs} ms one way (chaos latency on every link between two DCs; quorum round trip ${rttMs} ms), ` +
      `fixed ε = ${cfg.xsplitEpsilon} ms, every split led from dc-a (the client's DC), one put per split written (${cfg.sameKey ? 'each worker rewriting its own keys' : 'a fresh key each time'}), ${cfg.rounds} alternating rounds × ${cfg.seconds}s --`,
  );
  const concurrencies = cfg.xsplitClients.split(',').filter(Boolean).map(Number);
  const { rows, layout, steps } = await measureCrossSplit(concurrencies);
  console.log(`leaders: ${layout} (moved there: ${steps.join(' -> ')})`);
  for (const clients of concurrencies) {
    const single = rows.find((r) => r.clients === clients && r.splits === 1)!;
    for (const r of rows.filter((x) => x.clients === clients)) {
      console.log(`${formatRow(r.run).replace('req/s', 'txn/s')}   retried ${r.retried}`);
      if (r.splits > 1) {
        const d = r.run.p50Ms - single.run.p50Ms;
        console.log(`  p50 − 1-split p50: ${d >= 0 ? '+' : ''}${d.toFixed(3)} ms = ${(d / rttMs).toFixed(2)} quorum round trips (goal ≤ 1: ${d <= rttMs ? 'met' : 'NOT met'})`);
      }
    }
  }
}
