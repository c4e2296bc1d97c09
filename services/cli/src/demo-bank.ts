import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SynodClient } from '@synod/client';
import { connectBus } from '@synod/transport';
import { Bank } from './bank.js';
import { runPartitionPhases } from './demo-phases.js';
import { launchCluster } from './cluster-launch.js';
import { collectStatus, renderStatus } from './client-commands.js';
import { waitForLeaders } from './up.js';

export interface BankDemoOptions {
  workers: number;
  phaseSeconds: number;
  dataDir?: string | undefined;
  cluster: string;
}

/**
 * The transactional part of the demo: a 3-DC cluster of spanservers, a bank workload of
 * single-split read-write transactions with read-only audits from every DC, the bank split's
 * leader DC partitioned away and healed. Ends with a final audit of the total.
 */
export async function bankDemo(opts: BankDemoOptions, say: (s: string) => void): Promise<boolean> {
  say('\n== the transactional cluster: bank transfers across three DCs under a partition ==');
  const dir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'synod-demo-bank-'));
  const cluster = await launchCluster({ dataDir: dir, dcs: 3, splitKeys: ['g', 'p'], cluster: opts.cluster, say: (s) => say(`  ${s}`) });
  const buses = [];
  try {
    const control = await connectBus(cluster.info.natsUrl, { nodeId: 'demo-control', dc: 'control', cluster: opts.cluster });
    buses.push(control);
    await waitForLeaders(control, cluster);
    // The clients sit outside the three DCs, so partitioning a DC does not also cut them off.
    const writerBus = await connectBus(cluster.info.natsUrl, { nodeId: 'demo-writer', dc: 'clients', cluster: opts.cluster });
    buses.push(writerBus);
    const bank = new Bank(new SynodClient(writerBus, cluster.rangeMap, { timeoutMs: 2_000 }), { accounts: 20, initial: 1_000, workers: opts.workers, journal: true });
    await bank.setup();
    const split = cluster.rangeMap.splitFor(bank.keys[0]!).id;
    say(`  ${bank.keys.length} accounts × 1000 in split ${split}; ${opts.workers} workers transfer, an auditor sums all balances in read-only snapshots`);
    say(renderStatus(await collectStatus(control, cluster.rangeMap.nodes())).replace(/^/gm, '  '));
    bank.start();

    const leaderDc = async () => {
      const rows = await collectStatus(control, cluster.rangeMap.nodes());
      return rows.find((r) => r.status?.groups.some((g) => g.id === split && g.isLeader))?.dc;
    };
    let last = 0;
    await runPartitionPhases({
      bus: control,
      leaderDc: async () => ({ dc: (await leaderDc()) ?? 'dc-a', label: `leader of ${split}` }),
      phaseSeconds: opts.phaseSeconds,
      say,
      report: async () => {
        const st = bank.stats;
        const line =
          `transfers ${String(st.transfers).padStart(5)} (+${String(st.transfers - last).padStart(4)}/s)  ` +
          `audits ${st.audits} (bad ${st.badAudits})  leader ${(await leaderDc()) ?? '—'}  retries ${st.retries}  unknown-outcome ${st.failed}`;
        last = st.transfers;
        return line;
      },
    });
    await bank.stop();
    const final = await bank.audit().catch(async (err) => {
      say(renderStatus(await collectStatus(control, cluster.rangeMap.nodes())).replace(/^/gm, '  '));
      throw err;
    });
    const { rows } = await bank.client.scan(bank.journalPrefix, `${bank.journalPrefix}\uffff`, { limit: 100_000 });
    const journal = new Set(rows.map((r) => r.key.slice(bank.journalPrefix.length)));
    const lost = bank.acknowledged.filter((t) => !journal.has(t.id)).length;
    const ok = final.sum === bank.total && bank.stats.badAudits === 0 && lost === 0;
    say(`\n  final audit: total ${final.sum} (expected ${bank.total}); ${bank.stats.transfers} acknowledged transfers, ${lost} missing from the journal; ${bank.stats.audits} snapshot audits, ${bank.stats.badAudits} inconsistent`);
    say(ok ? '  OK: money conserved in every snapshot, every acknowledged transfer durable' : '  FAILED: an invariant was violated');
    return ok;
  } finally {
    for (const b of buses) await b.close();
    await cluster.stop();
    if (!opts.dataDir) rmSync(dir, { recursive: true, force: true });
  }
}
