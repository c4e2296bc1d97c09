import { z } from 'zod';
import { SynodClient } from '@synod/client';
import { SynodError } from '@synod/codec';
import { loadConfig, nodeIdentity } from '@synod/config';
import { connectBus, type Bus } from '@synod/transport';
import { Bank } from './bank.js';
import { launchCluster, type LaunchedCluster } from './cluster-launch.js';
import { collectStatus, renderStatus } from './client-commands.js';

export const UP_HELP = `synod up — run a local cluster: nats-server and one spanserver per DC, as child processes

Options:
  --data-dir <dir>       where every process keeps its data, default .synod
  --dcs <n>              datacenters (one spanserver each), default 3
  --split-keys <k,k>     where to cut the key space into splits, default g,p (3 splits)
  --nats-port <port>     default: a free port
  --truetime <daemon|local>  daemon (default): a time master per DC and a sync daemon in every
                         spanserver; local: each spanserver uses its host clock ± --epsilon-ms
  --sync-interval-ms <ms>  how often spanservers sync with the masters, default 5000
  --epsilon-ms <ms>      ε of the local stand-in, default 1
  --workload <none|bank> run a workload against it, default none
  --duration <s>         stop after this long (0: run until Ctrl-C), default 0
  --cluster <name>       subject prefix, default synod

Prints where everything is and the cluster's state every few seconds; Ctrl-C stops everything
cleanly. Other commands (status, put, get, scan, txn, chaos) find the cluster through
<data-dir>/cluster.json.`;

const options = z.object({
  dataDir: z.string().default('.synod'),
  dcs: z.coerce.number().int().min(1).max(5).default(3),
  splitKeys: z.string().default('g,p'),
  natsPort: z.coerce.number().int().min(0).max(65535).default(0),
  epsilonMs: z.coerce.number().positive().default(1),
  truetime: z.enum(['daemon', 'local']).default('daemon'),
  syncIntervalMs: z.coerce.number().int().positive().default(5_000),
  workload: z.enum(['none', 'bank']).default('none'),
  duration: z.coerce.number().nonnegative().default(0),
  cluster: nodeIdentity.cluster,
});

const say = (s: string) => process.stdout.write(s + '\n');

/** Waits until every split has a leader that answers; returns how long it took. */
export async function waitForLeaders(bus: Bus, cluster: LaunchedCluster, timeoutMs = 20_000): Promise<number> {
  const t0 = Date.now();
  const splits = cluster.rangeMap.all().map((s) => s.id);
  while (Date.now() - t0 < timeoutMs) {
    const rows = await collectStatus(bus, cluster.rangeMap.nodes());
    const led = new Set(rows.flatMap((r) => r.status?.groups.filter((g) => g.isLeader && g.tSafe > 0).map((g) => g.id) ?? []));
    if (splits.every((s) => led.has(s))) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new SynodError('UNAVAILABLE', `not every split elected a leader within ${timeoutMs} ms`);
}

export async function runUp(argv: string[]): Promise<void> {
  const opts = loadConfig(options, { argv });
  const cluster = await launchCluster({ dataDir: opts.dataDir, dcs: opts.dcs, splitKeys: opts.splitKeys.split(',').filter(Boolean), cluster: opts.cluster, natsPort: opts.natsPort, epsilonMs: opts.epsilonMs, truetime: opts.truetime, syncIntervalMs: opts.syncIntervalMs, say });
  const bus = await connectBus(cluster.info.natsUrl, { nodeId: `up-${process.pid}`, dc: cluster.rangeMap.nodes()[0]!.dc, cluster: opts.cluster });
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping…');
    await bank?.stop().catch(() => undefined);
    await bus.close();
    await cluster.stop();
    say('all processes stopped.');
    process.exit(code);
  };
  process.once('SIGINT', () => void stop(130));
  process.once('SIGTERM', () => void stop(143));
  let bank: Bank | undefined;
  try {
    const ms = await waitForLeaders(bus, cluster);
    say(`every split has a leader (${ms} ms)\n`);
    say(renderStatus(await collectStatus(bus, cluster.rangeMap.nodes())));
    if (opts.workload === 'bank') {
      bank = new Bank(new SynodClient(bus, cluster.rangeMap), { accounts: 20, initial: 1000, workers: 8 });
      await bank.setup();
      bank.start();
      say(`\nbank workload: 20 accounts × 1000, 8 workers transferring, an auditor summing every balance in read-only snapshots`);
    }
    const started = Date.now();
    let lastTransfers = 0;
    for (let tick = 1; opts.duration === 0 || Date.now() - started < opts.duration * 1000; tick++) {
      await new Promise((r) => setTimeout(r, 1000));
      if (bank) {
        const s = bank.stats;
        say(`t=${String(tick).padStart(3)}s  transfers ${s.transfers} (+${s.transfers - lastTransfers}/s)  audits ${s.audits} (bad ${s.badAudits})  retries ${s.retries}  failed ${s.failed}`);
        lastTransfers = s.transfers;
      }
      if (tick % 5 === 0) say(renderStatus(await collectStatus(bus, cluster.rangeMap.nodes())));
    }
    if (bank) {
      await bank.stop();
      const { sum } = await bank.audit();
      say(`\nfinal audit: total ${sum} (expected ${bank.total}); ${bank.stats.transfers} transfers, ${bank.stats.audits} snapshot audits, ${bank.stats.badAudits} bad`);
      if (sum !== bank.total || bank.stats.badAudits > 0) throw new SynodError('INTERNAL', 'bank invariant violated');
    }
    await stop(0);
  } catch (err) {
    say(`error: ${err instanceof Error ? err.message : String(err)}`);
    await stop(1);
  }
}
