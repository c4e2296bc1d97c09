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
 * The transactional part of the demo: a 3-DC cluster of spanservers, a bank workload whose
 * accounts are spread over all three splits (so most transfers are cross-split read-write
 * transactions, committed by two-phase commit) with read-only audits of every balance at one
 * timestamp, the DC leading the most splits partitioned away and healed. Ends with a final audit
 * of the total, a check that every acknowledged transfer is in the journal, and how many
 * transfers crossed splits.
 */
export async function bankDemo(opts: BankDemoOptions, say: (s: string) => void): Promise<boolean> {
  say('\n== the transactional cluster: bank transfers across three splits and three DCs under a partition ==');
  const dir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'synod-demo-bank-'));
  const cluster = await launchCluster({ dataDir: dir, dcs: 3, splitKeys: ['g', 'p'], cluster: opts.cluster, say: (s) => say(`  ${s}`) });
  const buses = [];
  let closeGateway = async () => {};
  try {
    const control = await connectBus(cluster.info.natsUrl, { nodeId: 'demo-control', dc: 'control', cluster: opts.cluster });
    buses.push(control);
    await waitForLeaders(control, cluster);
    // The live picture (docs/picture.md) on a free loopback port, from outside the three DCs.
    const pictureBus = await connectBus(cluster.info.natsUrl, { nodeId: 'demo-picture', dc: 'control', cluster: opts.cluster });
    buses.push(pictureBus);
    const { addPicture, buildGateway } = await import('@synod/gateway');
    const pictureClient = new SynodClient(pictureBus, cluster.rangeMap, { timeoutMs: 2_000 });
    const gateway = buildGateway({ client: pictureClient, insecure: true, probeEveryMs: 0 });
    closeGateway = () => gateway.close();
    addPicture(gateway, pictureClient);
    say(`  picture: ${await gateway.app.listen({ host: '127.0.0.1', port: 0 })}/  (live while this part runs)`);
    // The clients sit outside the three DCs, so partitioning a DC does not also cut them off.
    const writerBus = await connectBus(cluster.info.natsUrl, { nodeId: 'demo-writer', dc: 'clients', cluster: opts.cluster });
    buses.push(writerBus);
    const bank = new Bank(new SynodClient(writerBus, cluster.rangeMap, { timeoutMs: 2_000 }), { accounts: 21, initial: 1_000, workers: opts.workers, journal: true, spread: 'all' });
    await bank.setup();
    const splits = cluster.rangeMap.all().map((s) => s.id);
    const perSplit = splits.map((id) => `${[...bank.splitOf.values()].filter((s) => s === id).length} in ${id}`).join(', ');
    say(`  ${bank.keys.length} accounts × 1000 spread over every split (${perSplit}: ${bank.keys.slice(0, 3).join(', ')}, …)`);
    say(`  ${opts.workers} workers transfer between random accounts (most cross splits: two-phase commit); an auditor sums all balances in read-only snapshots`);
    say(renderStatus(await collectStatus(control, cluster.rangeMap.nodes())).replace(/^/gm, '  '));
    bank.start();

    /** The leader's DC of every split, as the nodes report it. */
    const leaders = async () => {
      const rows = await collectStatus(control, cluster.rangeMap.nodes());
      return Object.fromEntries(splits.map((id) => [id, rows.find((r) => r.status?.groups.some((g) => g.id === id && g.isLeader))?.dc]));
    };
    const leadersLine = (l: Record<string, string | undefined>) => splits.map((id) => `${id}@${l[id] ?? '—'}`).join(' ');
    let last = 0;
    await runPartitionPhases({
      bus: control,
      // The DC leading the most splits: cutting it off moves every one of them.
      leaderDc: async () => {
        const l = await leaders();
        const counts = new Map<string, number>();
        for (const dc of Object.values(l)) if (dc) counts.set(dc, (counts.get(dc) ?? 0) + 1);
        const [dc, n] = [...counts].sort((a, b) => b[1] - a[1])[0] ?? ['dc-a', 0];
        return { dc, label: `leader of ${n} of ${splits.length} splits` };
      },
      phaseSeconds: opts.phaseSeconds,
      say,
      report: async () => {
        const st = bank.stats;
        const line =
          `transfers ${String(st.transfers).padStart(5)} (+${String(st.transfers - last).padStart(4)}/s, cross-split ${st.crossSplit})  ` +
          `audits ${st.audits} (bad ${st.badAudits})  leaders ${leadersLine(await leaders())}  retries ${st.retries}  failed ${st.failed}`;
        last = st.transfers;
        return line;
      },
    });
    await bank.stop();
    const final = await bank.audit().catch(async (err) => {
      say(renderStatus(await collectStatus(control, cluster.rangeMap.nodes())).replace(/^/gm, '  '));
      throw err;
    });
    const lost = (await bank.lostTransfers()).length;
    const ok = final.sum === bank.total && bank.stats.badAudits === 0 && lost === 0;
    const st = bank.stats;
    const p50 = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!.toFixed(0) : '—');
    const latencies = (cross: boolean) => bank.acknowledged.filter((t) => t.crossSplit === cross).map((t) => t.latencyMs);
    say(`\n  final audit: total ${final.sum} (expected ${bank.total}); ${st.transfers} acknowledged transfers, ${lost} missing from the journal; ${st.audits} snapshot audits, ${st.badAudits} inconsistent`);
    say(
      `  transfers that crossed splits (two-phase commit): ${st.crossSplit} of ${st.transfers} (${st.transfers ? ((100 * st.crossSplit) / st.transfers).toFixed(0) : 0}%); ` +
        `median latency ${p50(latencies(true))} ms across splits, ${p50(latencies(false))} ms within one`,
    );
    say(ok ? '  OK: money conserved in every snapshot, every acknowledged transfer durable' : '  FAILED: an invariant was violated');
    return ok;
  } finally {
    await closeGateway();
    for (const b of buses) await b.close();
    await cluster.stop();
    if (!opts.dataDir) rmSync(dir, { recursive: true, force: true });
  }
}
