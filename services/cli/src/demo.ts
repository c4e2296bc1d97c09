import { z } from 'zod';
import { SynodError } from '@synod/codec';
import { loadConfig, nodeIdentity } from '@synod/config';
import { startNatsServer } from '@synod/natsd';
import { replicationDemo } from './demo-replication.js';
import { transportDemo } from './demo-transport.js';

export const DEMO_HELP = `synod demo — the local 3-DC demo (what \`npm start\` runs)

Starts a nats-server on a free loopback port, then:
  part 1  one probe node per DC (dc-a, dc-b, dc-c) as separate processes; prints the
          round-trip matrix while it partitions dc-a, heals, and adds 40 ms one-way latency
  part 2  one Paxos group with a replica per DC (separate processes, LMDB with fsync) under a
          client workload; partitions the leader's DC, heals, and checks that every replica
          applied the same log with every acknowledged command exactly once
Stops every process at the end (and on Ctrl-C). Exits non-zero if part 2's check fails.

Transactions, TrueTime and placement are not part of it yet.

Options:
  --part <transport|replication|both>  default both
  --workers <n>                        concurrent client workers in part 2, default 16
  --phase-seconds <s>                  length of each part-2 phase, default 4
  --data-dir <path>                    keep part 2's LMDB files here (default: a temp dir, removed)
  --cluster <name>                     subject prefix, default synod`;

const options = z.object({
  cluster: nodeIdentity.cluster,
  part: z.enum(['transport', 'replication', 'both']).default('both'),
  workers: z.coerce.number().int().min(1).max(256).default(16),
  phaseSeconds: z.coerce.number().int().min(1).max(600).default(4),
  dataDir: z.string().optional(),
});

export async function runDemo(argv: string[]): Promise<void> {
  const opts = loadConfig(options, { argv });
  const say = (s: string) => process.stdout.write(s + '\n');
  say('starting nats-server on loopback…');
  const nats = await startNatsServer();
  say(`  nats-server ${nats.url} (pid ${nats.pid})`);
  process.once('SIGINT', () => void nats.stop().then(() => process.exit(130)));
  try {
    if (opts.part !== 'replication') await transportDemo(nats, opts.cluster, say);
    if (opts.part !== 'transport') {
      const ok = await replicationDemo(nats, `${opts.cluster}-repl`, opts, say);
      if (!ok) throw new SynodError('INTERNAL', 'replication check failed');
    }
    say('\ndemo done; all processes stopped.');
  } finally {
    await nats.stop();
  }
}
