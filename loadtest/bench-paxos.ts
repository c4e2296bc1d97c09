/**
 * Committed commands/s and commit latency of one Paxos group of three replicas with real LMDB
 * and fsync: first in one process over the in-memory bus, then as three processes over a real
 * nats-server; each with and without batching, under a bounded number of concurrent clients.
 *
 *   npm run bench:paxos -- [--seconds 5] [--clients 64] [--only memory|nats] [--etcd]
 *
 * --etcd also runs etcd's own `etcdctl check perf --load=xl` on a local 3-member etcd cluster
 * in the same run (Debian packages etcd-server and etcd-client) and prints the ratio.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ChildNode } from '@synod/cli';
import { booleanFlag, loadConfig } from '@synod/config';
import { startNatsServer } from '@synod/natsd';
import { PaxosHost, monotonicMicros } from '@synod/paxos-host';
import { openStorage, type Storage } from '@synod/storage';
import { Bus, MemoryHub, connectBus } from '@synod/transport';
import { etcdCheckPerf } from './etcd-reference.js';
import { closedLoop, formatRow, opsPerSec, type RunResult } from './stats.js';

const cfg = loadConfig(
  z.object({
    seconds: z.coerce.number().positive().max(120).default(5),
    clients: z.coerce.number().int().min(1).max(4096).default(64),
    only: z.enum(['memory', 'nats', 'both']).default('both'),
    etcd: booleanFlag.default(false),
  }),
  { argv: process.argv.slice(2), env: {} },
);

const PEERS = ['n1', 'n2', 'n3'];
const MODES = {
  batched: { maxBatch: 512, maxEntriesPerMessage: 64 },
  unbatched: { maxBatch: 1, maxEntriesPerMessage: 1 },
} as const;
type Mode = keyof typeof MODES;
const payload = { op: 'put', key: 'k', value: 'x'.repeat(64) };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let appliedCount = 0;
let leaseReads: RunResult | undefined;
let logReads: RunResult | undefined;

async function inMemory(mode: Mode): Promise<RunResult> {
  const dir = mkdtempSync(join(os.tmpdir(), 'synod-bench-paxos-'));
  const hub = new MemoryHub();
  const nodes: Array<{ bus: Bus; storage: Storage; host: PaxosHost }> = [];
  try {
    for (const id of PEERS) {
      const bus = new Bus(hub.wire(), { nodeId: id, dc: `dc-${id}` });
      await bus.start();
      const storage = openStorage({ path: join(dir, id), fsync: true });
      const host = new PaxosHost({ bus, storage });
      await host.addGroup({ config: { group: 'g1', self: id, peers: PEERS, heartbeatIntervalUs: 100_000, electionTimeoutUs: 1_000_000, ...MODES[mode] }, apply: (e) => (appliedCount += e.commands.length) });
      nodes.push({ bus, storage, host });
    }
    let leader: PaxosHost | undefined;
    for (let i = 0; i < 500 && !leader; i++) {
      leader = nodes.find((n) => n.host.replica('g1')!.isLeader())?.host;
      if (!leader) await sleep(10);
    }
    if (!leader) throw new Error('no leader elected');
    let seq = 0;
    const op = () => leader!.propose('g1', [{ id: `b:${++seq}`, payload }], 10_000);
    await closedLoop('warmup', cfg.clients, 1, op);
    const writes = await closedLoop(`in-process, ${mode}`, cfg.clients, cfg.seconds, op);
    if (mode === 'batched') {
      // Reads of the replicated state: under the leader's lease, served locally; without it,
      // linearized by putting a read marker through the log and waiting for it to apply.
      const replica = leader.replica('g1')!;
      let served = 0;
      const leaseRead = async () => {
        // One event-loop turn per read, as a served request would take; heartbeats keep flowing.
        await new Promise((r) => setImmediate(r));
        if (!replica.canServeLocalRead(monotonicMicros())) throw new Error('leader lost its lease during the read benchmark');
        served += appliedCount;
      };
      leaseReads = await closedLoop('reads under lease', cfg.clients, cfg.seconds, leaseRead);
      logReads = await closedLoop('reads through the log', cfg.clients, cfg.seconds, () => leader!.propose('g1', [{ id: `r:${++seq}`, payload: { op: 'read', key: 'k' } }], 10_000));
      void served;
    }
    return writes;
  } finally {
    for (const n of nodes) {
      await n.host.close();
      await n.bus.close();
      await n.storage.close();
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

async function overNats(mode: Mode): Promise<RunResult> {
  const dir = mkdtempSync(join(os.tmpdir(), 'synod-bench-paxos-'));
  const nats = await startNatsServer();
  const children = PEERS.map((id, i) =>
    ChildNode.spawn(id, [
      'paxos-node', '--node-id', id, '--dc', `dc-${'abc'[i]}`, '--peers', PEERS.join(','), '--data-dir', join(dir, id), '--nats-url', nats.url,
      '--max-batch', String(MODES[mode].maxBatch), '--max-entries-per-message', String(MODES[mode].maxEntriesPerMessage), '--log-level', 'warn',
    ]),
  );
  const client = await connectBus(nats.url, { nodeId: 'bench-client', dc: 'dc-a' });
  try {
    await Promise.all(children.map((c) => c.waitReady()));
    let leader: string | undefined;
    for (let i = 0; i < 500 && !leader; i++) {
      const st = await Promise.all(children.map((c) => c.call<{ isLeader: boolean }>({ op: 'status' })));
      leader = PEERS[st.findIndex((s) => s.isLeader)];
      if (!leader) await sleep(10);
    }
    if (!leader) throw new Error('no leader elected');
    let seq = 0;
    const op = () => client.request(leader!, 'paxos.propose', { cmds: [{ id: `b:${++seq}`, payload }], timeoutMs: 10_000 }, { group: 'g1', timeoutMs: 15_000 });
    await closedLoop('warmup', cfg.clients, 1, op);
    return await closedLoop(`3 processes + NATS, ${mode}`, cfg.clients, cfg.seconds, op);
  } finally {
    await client.close();
    await Promise.all(children.map((c) => c.stop()));
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`paxos bench: one group of 3 replicas, LMDB with fsync, ${cfg.clients} concurrent clients × 1 command each in flight, ${cfg.seconds}s per run`);
console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}`);
const all: RunResult[] = [];
for (const mode of ['batched', 'unbatched'] as Mode[]) {
  const results: RunResult[] = [];
  if (cfg.only !== 'nats') results.push(await inMemory(mode));
  if (cfg.only !== 'memory') results.push(await overNats(mode));
  for (const r of results) console.log(formatRow(r).replace('req/s', 'cmd/s'));
  all.push(...results);
}
if (leaseReads && logReads) {
  console.log(formatRow(leaseReads).replace('req/s', 'rd/s '));
  console.log(formatRow(logReads).replace('req/s', 'rd/s '));
  console.log(`ratio lease reads / log reads: ${(opsPerSec(leaseReads) / opsPerSec(logReads)).toFixed(1)}×`);
}
if (cfg.etcd) {
  console.log('running etcdctl check perf --load=xl against a local 3-member etcd cluster (about a minute)…');
  const etcd = await etcdCheckPerf('xl');
  if (!etcd) console.log('etcd not installed (apt-get install -y etcd-server etcd-client); skipped');
  else {
    console.log(`etcd 3-member, check perf --load=xl: ${etcd.writesPerSec} writes/s (${etcd.verdict})`);
    const natsBatched = all.find((r) => r.label.includes('NATS, batched'));
    if (natsBatched) console.log(`ratio synod (3 processes + NATS, batched) / etcd: ${(opsPerSec(natsBatched) / etcd.writesPerSec).toFixed(2)}`);
  }
}
