import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SynodError } from '@synod/codec';
import type { NatsServerHandle } from '@synod/natsd';
import { connectBus, type Bus } from '@synod/transport';
import { ChildNode } from './child-node.js';
import { runPartitionPhases } from './demo-phases.js';

const NODES = [
  { id: 'n1', dc: 'dc-a' },
  { id: 'n2', dc: 'dc-b' },
  { id: 'n3', dc: 'dc-c' },
];

interface Status {
  isLeader: boolean;
  leader: string | null;
  chosenUpTo: number;
  appliedUpTo: number;
  appliedCommands: number;
  digest: string;
  ballot: { round: number; node: string };
}

export interface ReplicationDemoOptions {
  workers: number;
  phaseSeconds: number;
  dataDir?: string | undefined;
}

/**
 * Part 2 of the demo: one Paxos group replicated across three DCs, a client workload that
 * retries with the same command ids, and the leader's DC partitioned away mid-run. Ends by
 * checking that every replica applied the same log and no acknowledged command is missing.
 */
export async function replicationDemo(nats: NatsServerHandle, cluster: string, opts: ReplicationDemoOptions, say: (s: string) => void): Promise<boolean> {
  say('\n== part 2: a Paxos group across three DCs under a partition ==');
  const dir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'synod-demo-'));
  const nodes = NODES.map(({ id, dc }) =>
    ChildNode.spawn(id, ['paxos-node', '--node-id', id, '--dc', dc, '--peers', NODES.map((n) => n.id).join(','), '--data-dir', join(dir, id), '--nats-url', nats.url, '--cluster', cluster, '--log-level', 'warn']),
  );
  let client: Bus | undefined;
  try {
    await Promise.all(nodes.map((n) => n.waitReady()));
    NODES.forEach((n, i) => say(`  replica ${n.id} in ${n.dc} (pid ${nodes[i]!.proc.pid}), LMDB under ${join(dir, n.id)}`));
    client = await connectBus(nats.url, { nodeId: 'demo-client', dc: 'client', cluster });
    const statuses = () => Promise.all(nodes.map((n) => n.call<Status>({ op: 'status' })));
    const findLeader = async () => {
      for (let i = 0; i < 300; i++) {
        // A leader cut off by a partition still believes it leads; the newest ballot is the live one.
        const st = await statuses();
        let at = -1;
        st.forEach((s, i) => {
          if (s.isLeader && (at < 0 || s.ballot.round > st[at]!.ballot.round)) at = i;
        });
        if (at >= 0) return NODES[at]!;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new SynodError('UNAVAILABLE', 'no leader elected within 6 s');
    };
    let leader = await findLeader();
    say(`  leader: ${leader.id} in ${leader.dc}`);

    // The workload: each worker proposes one command at a time, retrying the same id until acknowledged.
    let acked = 0;
    let retries = 0;
    let running = true;
    const ackedIds = new Set<string>();
    const worker = async (w: number) => {
      for (let seq = 1; running; seq++) {
        const id = `w${w}:${seq}`;
        for (let attempt = 0; running; attempt++) {
          try {
            await client!.request(leader.id, 'paxos.propose', { cmds: [{ id, payload: { w, seq } }], timeoutMs: 1_000 }, { group: 'g1', timeoutMs: 1_500 });
            acked++;
            ackedIds.add(id);
            break;
          } catch (err) {
            retries++;
            const hint = err instanceof SynodError ? err.hint?.leader : undefined;
            const hinted = NODES.find((n) => n.id === hint);
            if (hinted) leader = hinted;
            else leader = await findLeader().catch(() => leader);
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      }
    };
    const workers = Array.from({ length: opts.workers }, (_, w) => worker(w));

    let last = 0;
    await runPartitionPhases({
      bus: client,
      leaderDc: async () => ({ dc: leader.dc, label: `leader ${leader.id}` }),
      phaseSeconds: opts.phaseSeconds,
      say,
      report: async () => {
        const st = await statuses();
        const leaders = st.map((x, i) => (x.isLeader ? NODES[i]!.id : null)).filter(Boolean);
        const line =
          `committed ${String(acked).padStart(6)} (+${String(acked - last).padStart(5)}/s)  ` +
          `leader(s) ${leaders.join(',') || 'none'}  applied ${st.map((x) => x.appliedUpTo).join('/')}  client retries ${retries}`;
        last = acked;
        return line;
      },
    });
    running = false;
    await Promise.all(workers);

    // Convergence: every replica applies the same log.
    let st = await statuses();
    for (let i = 0; i < 200 && !(new Set(st.map((x) => x.digest)).size === 1 && st.every((x) => x.appliedUpTo === st[0]!.chosenUpTo)); i++) {
      await new Promise((r) => setTimeout(r, 25));
      st = await statuses();
    }
    const same = new Set(st.map((x) => x.digest)).size === 1;
    // Applied commands count distinct ids (retried ids are skipped as duplicates), so ≥ acknowledged
    // means nothing acknowledged was lost; the excess is commands still in flight when the workload stopped.
    const noneLost = st.every((x) => x.appliedCommands >= ackedIds.size && x.appliedCommands <= ackedIds.size + opts.workers);
    say(`\n  replicas: ${st.map((x, i) => `${NODES[i]!.id} applied ${x.appliedCommands} commands in ${x.appliedUpTo} slots, digest ${x.digest}`).join('\n            ')}`);
    say(`  acknowledged to the client: ${ackedIds.size} distinct commands (${retries} retries of the same ids)`);
    say(same && noneLost ? '  OK: every replica applied the same log; every acknowledged command is in it, retried ids applied once' : '  MISMATCH: replicas diverged or lost an acknowledged command');
    return same && noneLost;
  } finally {
    await client?.close();
    await Promise.all(nodes.map((n) => n.stop()));
    if (!opts.dataDir) rmSync(dir, { recursive: true, force: true });
  }
}
