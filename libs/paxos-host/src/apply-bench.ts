// One Paxos group of three PaxosHosts in this process (in-memory bus, real LMDB with fsync) whose
// state machine writes every applied entry durably the way the spanserver does
// (Storage.applyEntry: versions, outcomes, applied record, header): `--clients` closed-loop
// clients propose one single-key put each. Prints committed commands/s, this process's CPU µs
// per command (three replicas and lmdb's threads) and fsyncs per command per replica.
// Run: npx tsx libs/paxos-host/src/apply-bench.ts [--seconds 8] [--clients 32]
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { appliedRecordOf } from '@synod/paxos';
import { openStorage, type Storage } from '@synod/storage';
import { Bus, MemoryHub } from '@synod/transport';
import { PaxosHost } from './paxos-host.js';

const args = process.argv.slice(2);
const flag = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const seconds = flag('seconds', 8);
const clients = flag('clients', 32);
const PEERS = ['n1', 'n2', 'n3'];

async function main(): Promise<void> {
  const dir = mkdtempSync(join(os.tmpdir(), 'synod-apply-bench-'));
  const hub = new MemoryHub();
  const nodes: Array<{ id: string; bus: Bus; storage: Storage; host: PaxosHost }> = [];
  try {
    for (const id of PEERS) {
      const bus = new Bus(hub.wire(), { nodeId: id, dc: `dc-${id}` });
      await bus.start();
      const storage = openStorage({ path: join(dir, id), fsync: true });
      const host = new PaxosHost({ bus, storage });
      let maxTs = 0;
      const retained: string[] = [];
      await host.addGroup({
        config: { group: 's3', self: id, peers: PEERS, heartbeatIntervalUs: 100_000, electionTimeoutUs: 1_000_000, maxBatch: 512, maxEntriesPerMessage: 64 },
        apply: (e) => {
          const versions = e.commands.map((c) => {
            const p = c.payload as { key: string; value: string; ts: number };
            maxTs = Math.max(maxTs, p.ts);
            return { key: p.key, ts: p.ts, value: p.value };
          });
          const put = e.commands.map((c) => [c.id, { committed: true as const, ts: (c.payload as { ts: number }).ts, slot: e.slot, at: maxTs }] as const);
          for (const [cid] of put) retained.push(cid);
          const forget = retained.length > 1000 ? retained.splice(0, retained.length - 1000) : [];
          void storage
            .applyEntry('s3', e.slot + 1, versions, { record: appliedRecordOf(e), header: { maxAppliedTs: maxTs, lastCommitTs: maxTs }, outcomes: { put, forget } })
            .catch((err: unknown) => {
              console.error('apply write failed', err);
              process.exit(70);
            });
        },
      });
      nodes.push({ id, bus, storage, host });
    }
    // Wait for a leader.
    const deadline = performance.now() + 20_000;
    let leader: (typeof nodes)[number] | undefined;
    while (!leader) {
      if (performance.now() > deadline) throw new Error('no leader within 20 s');
      await new Promise((r) => setTimeout(r, 20));
      leader = nodes.find((n) => n.host.replica('s3')?.isLeader());
    }
    let next = 0;
    let running = true;
    let done = 0;
    const client = async (c: number) => {
      while (running) {
        const n = next++;
        await leader.host.propose('s3', [{ id: `c${c}-${n}`, payload: { key: `v/${String(n % 10_000).padStart(6, '0')}`, value: 'x'.repeat(64), ts: 1_000_000 + n } }]);
        done++;
      }
    };
    const loops = Array.from({ length: clients }, (_, c) => client(c));
    await new Promise((r) => setTimeout(r, 1500)); // warm-up
    const f0 = nodes.map((n) => n.storage.fsyncCount());
    const d0 = done;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const cpu = process.cpuUsage(c0);
    const cmds = done - d0;
    const elapsed = (performance.now() - t0) / 1000;
    const fsyncs = nodes.map((n, i) => `${n.id}${n === leader ? ' (leader)' : ''} ${((n.storage.fsyncCount() - f0[i]!) / cmds).toFixed(3)}`);
    running = false;
    await Promise.all(loops);
    console.log(`${clients} clients: ${(cmds / elapsed).toFixed(0)} cmd/s, CPU ${((cpu.user + cpu.system) / cmds).toFixed(0)} µs/cmd (user ${(cpu.user / cmds).toFixed(0)}, sys ${(cpu.system / cmds).toFixed(0)}), fsyncs/cmd ${fsyncs.join(', ')}`);
  } finally {
    for (const n of nodes) await n.host.close();
    for (const n of nodes) await n.storage.close();
    for (const n of nodes) await n.bus.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
