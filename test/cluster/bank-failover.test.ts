/**
 * Issue "spanserver" must-show: a concurrent single-split bank workload over real processes
 * while the split leader's process is SIGKILLed and later restarted.
 */
import { expect, it } from 'vitest';
import { Bank } from '@synod/cli';
import type { SynodClient } from '@synod/client';
import { sleep, useTestCluster } from './helpers.js';

/** Stated bound: election timeout (0.5–1 s randomized) + the new leader's barrier entry + client backoff. */
const FAILOVER_BOUND_MS = 5_000;

const cluster = useTestCluster();

it('conserves money, loses no acknowledged transfer, fails over in bound, and keeps follower reads up', async () => {
  const tc = cluster();
  const writer = await tc.client('dc-a', 'writer');
  const bank = new Bank(writer, { accounts: 10, initial: 100, workers: 4, journal: true });
  await bank.setup();
  const split = tc.cluster.rangeMap.splitFor(bank.keys[0]!).id;
  const leaderIdx = await tc.leaderOf(split);
  const dcs = tc.cluster.rangeMap.nodes().map((n) => n.dc);
  const killedDc = dcs[leaderIdx]!;

  // Read-only auditors in every other DC, each served by the replica in its own DC.
  const followerAudits: Record<string, { ok: number; failed: number; bad: number; beforeSetup: number }> = {};
  let auditing = true;
  const auditors = await Promise.all(
    dcs
      .filter((dc) => dc !== killedDc)
      .map(async (dc) => {
        const c: SynodClient = await tc.client(dc, `auditor-${dc}`);
        const stats = (followerAudits[dc] = { ok: 0, failed: 0, bad: 0, beforeSetup: 0 });
        // Wrapped so that awaiting the setup does not wait for the loop itself.
        return {
          loop: (async () => {
            while (auditing) {
              try {
                const { values, ts } = await c.read(bank.keys, { maxStalenessMs: 10_000 });
                const sum = bank.keys.reduce((s, k) => s + Number(values.get(k)), 0);
                stats.ok++;
                // Below the set-up's commit (bounded staleness may read there) no account exists yet: all or nothing.
                if (ts < bank.setupTs && values.size === 0) stats.beforeSetup++;
                else if (sum !== bank.total) stats.bad++;
              } catch {
                stats.failed++;
              }
              await sleep(20);
            }
          })(),
        };
      }),
  );

  bank.start();
  await sleep(1_500);
  const before = bank.stats.transfers;
  expect(before).toBeGreaterThan(0);

  const victim = tc.cluster.nodes[leaderIdx]!;
  victim.proc.kill('SIGKILL');
  const killedAt = Date.now();
  const acknowledgedAtKill = bank.acknowledged.length;
  await victim.exited;
  let failoverMs = -1;
  while (Date.now() - killedAt < 15_000) {
    if (bank.acknowledged.slice(acknowledgedAtKill).some((t) => t.ts > killedAt * 1000)) {
      failoverMs = Date.now() - killedAt;
      break;
    }
    await sleep(20);
  }
  expect(failoverMs, 'a new leader commits transfers').toBeGreaterThan(0);
  expect(failoverMs).toBeLessThan(FAILOVER_BOUND_MS);

  await sleep(1_000);
  tc.cluster.nodes[leaderIdx] = tc.cluster.spawnNode(leaderIdx);
  await tc.cluster.nodes[leaderIdx]!.waitReady(30_000);
  await sleep(1_500);
  await bank.stop();
  auditing = false;
  await Promise.all(auditors.map((a) => a.loop));

  // Every snapshot the workload's own auditor took summed to the total.
  expect(bank.stats.audits).toBeGreaterThan(0);
  expect(bank.stats.badAudits).toBe(0);
  const final = await bank.audit();
  expect(final.sum).toBe(bank.total);

  // No acknowledged transfer is lost: each one's journal entry is in the final state.
  const { rows } = await writer.scan(bank.journalPrefix, `${bank.journalPrefix}\uffff`, { limit: 10_000 });
  const journal = new Set(rows.map((r) => r.key.slice(bank.journalPrefix.length)));
  const lost = bank.acknowledged.filter((t) => !journal.has(t.id));
  expect(lost).toEqual([]);

  // Followers in the other DCs served read-only transactions throughout, all consistent.
  for (const [dc, s] of Object.entries(followerAudits)) {
    expect(s.ok, dc).toBeGreaterThan(10);
    expect(s.failed, dc).toBe(0);
    expect(s.bad, dc).toBe(0);
  }

  // The restarted replica caught up with the log.
  let restartedSafe = 0;
  for (let i = 0; i < 100 && restartedSafe < final.ts; i++) {
    const st = await tc.cluster.nodes[leaderIdx]!.call<{ groups: Array<{ id: string; tSafe: number }> }>({ op: 'status' });
    restartedSafe = st.groups.find((g) => g.id === split)!.tSafe;
    if (restartedSafe < final.ts) await sleep(50);
  }
  expect(restartedSafe).toBeGreaterThanOrEqual(final.ts);
  console.log(
    `failover ${failoverMs} ms; ${bank.stats.transfers} transfers (${bank.acknowledged.length} acknowledged, all journaled), ${bank.stats.audits} strong audits, follower audits ${JSON.stringify(followerAudits)}`,
  );
}, 120_000);
