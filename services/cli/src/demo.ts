import { z } from 'zod';
import { SynodError } from '@synod/codec';
import { loadConfig, nodeIdentity } from '@synod/config';
import { startNatsServer } from '@synod/natsd';
import { bankDemo } from './demo-bank.js';
import { replicationDemo } from './demo-replication.js';
import { transportDemo } from './demo-transport.js';

export const DEMO_HELP = `synod demo — the local 3-DC demo (what \`npm start\` runs)

Parts (run in this order; --parts picks them):
  transport    one probe node per DC (dc-a, dc-b, dc-c) as separate processes; prints the
               round-trip matrix while it partitions dc-a, heals, and adds 40 ms one-way latency
  bank         a 3-DC cluster of spanservers (LMDB with fsync), three splits, under a bank
               workload whose accounts are spread over every split: most transfers are
               cross-split read-write transactions (two-phase commit), with read-only audits of
               every balance at one timestamp; partitions the DC leading the most splits, heals,
               checks the total and that no acknowledged transfer was lost, and prints how many
               transfers crossed splits
  replication  one bare Paxos group (synod paxos-node per DC) under a retrying client workload
               and a leader-DC partition; checks every replica applied the same log
Stops every process at the end (and on Ctrl-C). Exits non-zero if a check fails.

Not in it yet: the placement service (splits do not move or split).

Options:
  --parts <list>                       default transport,bank
  --workers <n>                        concurrent client workers, default 16 (bank: 8)
  --phase-seconds <s>                  length of each healthy/partitioned/healed phase, default 4
  --data-dir <path>                    keep the LMDB files here (default: a temp dir, removed)
  --cluster <name>                     subject prefix, default synod`;

const options = z.object({
  cluster: nodeIdentity.cluster,
  parts: z
    .string()
    .default('transport,bank')
    .transform((s) => s.split(',').filter(Boolean))
    .pipe(z.array(z.enum(['transport', 'bank', 'replication'])).min(1)),
  workers: z.coerce.number().int().min(1).max(256).optional(),
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
    if (opts.parts.includes('transport')) await transportDemo(nats, opts.cluster, say);
    if (opts.parts.includes('bank')) {
      const ok = await bankDemo({ workers: opts.workers ?? 8, phaseSeconds: opts.phaseSeconds, dataDir: opts.dataDir, cluster: `${opts.cluster}-bank` }, say);
      if (!ok) throw new SynodError('INTERNAL', 'bank check failed');
    }
    if (opts.parts.includes('replication')) {
      const ok = await replicationDemo(nats, `${opts.cluster}-repl`, { workers: opts.workers ?? 16, phaseSeconds: opts.phaseSeconds, dataDir: opts.dataDir }, say);
      if (!ok) throw new SynodError('INTERNAL', 'replication check failed');
    }
    say('\ndemo done; all processes stopped.');
  } finally {
    await nats.stop();
  }
}
