/**
 * Single-split write and read-only throughput and latency of a local 3-DC cluster (three
 * spanserver processes, LMDB with fsync, one nats-server), and the share of write latency spent
 * in commit wait, at two TrueTime uncertainties side by side.
 *
 *   npm run bench:kv -- [--seconds 5] [--clients 32] [--epsilons daemon,1,5]
 *
 * `daemon` runs with time masters and the sync daemon (ε as it comes); a number runs every
 * spanserver on its host clock with that fixed ε in ms, to show what commit wait costs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { launchCluster, waitForLeaders } from '@synod/cli';
import { SynodClient } from '@synod/client';
import { loadConfig } from '@synod/config';
import { connectBus } from '@synod/transport';
import { closedLoop, formatRow, opsPerSec, type RunResult } from './stats.js';

const cfg = loadConfig(
  z.object({
    seconds: z.coerce.number().positive().max(120).default(5),
    clients: z.coerce.number().int().min(1).max(1024).default(32),
    epsilons: z.string().default('daemon,1,10'),
  }),
  { argv: process.argv.slice(2), env: {} },
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
    const write = async () => {
      const k = `bench/${n++ % cfg.clients}`;
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

console.log(`kv bench: 3 spanserver processes (dc-a, dc-b, dc-c), LMDB with fsync, one split, ${cfg.clients} closed-loop clients in dc-a, ${cfg.seconds}s per run`);
console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}`);
for (const eps of cfg.epsilons.split(',').filter(Boolean)) {
  const row = await measure(eps);
  console.log(formatRow(row.writes).replace('req/s', 'txn/s'));
  console.log(`  commit wait beyond replication: ${(row.commitWaitShare * 100).toFixed(1)}% of mean write latency (${((row.writes.seconds * 1e3 * cfg.clients) / row.writes.ops).toFixed(2)} ms)`);
  console.log(formatRow(row.strong).replace('req/s', 'rd/s '));
  console.log(formatRow(row.stale).replace('req/s', 'rd/s '));
  void opsPerSec;
}
