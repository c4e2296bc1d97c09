/**
 * Issue "placement service" must-show: the bank workload runs while the bank's split is cut in
 * two (placement.admin split, executed by the placement service through a log entry of the
 * split's own group) and then one half's replica is moved to another node of the same DC
 * (placement.admin move: learner, snapshot catch-up, reconfiguration, drop). Real processes:
 * nats-server, 2 spanservers per DC, one placement replica per DC (docs/placement.md).
 *
 * Checks: money is conserved in every read-only snapshot (the bank's strong audits and
 * bounded-staleness audits), no acknowledged transfer is lost (each one's journal key is there
 * after), transfers keep being acknowledged after both operations (the clients follow the new
 * map: they route by a cached map and refresh it on KEY_OUT_OF_RANGE), and the moved replica
 * serves the half's accounts with the same values as the leader at one timestamp.
 *
 * The planner's own cuts and rebalancing are switched off (thresholds out of reach) so that the
 * two operations are exactly the ones asked for.
 */
import { expect, it } from 'vitest';
import { SynodClient } from '@synod/client';
import type { MessageBody } from '@synod/codec';
import { Bank, fetchPlacementMap, sendAdmin, type PlacementMap } from '@synod/cli';
import { connectBus } from '@synod/transport';
import { anyExited, sleep, useTestCluster } from './helpers.js';

const cluster = useTestCluster({
  truetime: 'local',
  epsilonMs: 2,
  nodesPerDc: 2,
  placementService: 'auto',
  placementArgs: ['--max-split-writes-per-sec', '1000000', '--balance-slack', '1000'],
});

async function waitForMap(bus: Parameters<typeof fetchPlacementMap>[0], what: string, ok: (m: PlacementMap) => boolean, timeoutMs: number): Promise<PlacementMap> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const m = await fetchPlacementMap(bus, 2_000).catch(() => undefined);
    if (m && ok(m)) return m;
    if (performance.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; map: ${JSON.stringify(m?.map.splits)}; op: ${m?.op}`);
    await sleep(200);
  }
}

it('bank transfers under a cut of their split and a replica move: money conserved, nothing lost, clients follow the map', async () => {
  const tc = cluster();
  const bus = await connectBus(tc.cluster.info.natsUrl, { nodeId: 'split-load-client', dc: 'clients' });
  tc.buses.push(bus);
  const client = new SynodClient(bus, tc.cluster.rangeMap, { timeoutMs: 2_000, outcomeLookupMs: 10_000 });
  await client.refreshMap();
  const bank = new Bank(client, { accounts: 12, initial: 100, workers: 4, journal: true, prefix: 'bank/' });
  await bank.setup();
  const home = client.rangeMap.splitFor('bank/');

  // Bounded-staleness audits beside the bank's strong ones: follower replicas (the moved one too) serve them.
  const stale = { ok: 0, bad: 0, failed: 0, badSums: [] as number[] };
  let auditing = true;
  const staleAudits = (async () => {
    while (auditing) {
      try {
        const { sum, ts } = await bank.audit({ maxStalenessMs: 2_000 });
        if (ts >= bank.setupTs) {
          stale.ok++;
          if (sum !== bank.total) {
            stale.bad++;
            stale.badSums.push(sum);
          }
        }
      } catch {
        stale.failed++;
      }
      await sleep(40);
    }
  })();
  bank.start();
  await sleep(2_000);
  const before = bank.acknowledged.length;

  // 1. Cut the bank's split in the middle of its accounts.
  const cutKey = bank.keys[6]!;
  const t0 = performance.now();
  const cutOp = await sendAdmin(bus, { op: 'split', key: cutKey }, 5_000);
  const afterCut = await waitForMap(bus, `a split starting at ${cutKey}`, (m) => m.map.splits.some((s) => s.start === cutKey), 30_000);
  const upper = afterCut.map.splits.find((s) => s.start === cutKey)!;
  const cutMs = performance.now() - t0;
  console.log(`cut: ${cutOp.description} (op ${cutOp.opId}) in the map after ${cutMs.toFixed(0)} ms: ${home.id} -> ${home.id} + ${upper.id} at generation ${afterCut.map.generation}`);
  // Transfers go on after the cut once the upper half has a leader and clients have the new map:
  // wait for a few (bounded) before moving a replica.
  const atCut = bank.acknowledged.length;
  for (const until = performance.now() + 20_000; bank.acknowledged.length - atCut < 5 && performance.now() < until; ) await sleep(100);
  const afterCutAcks = bank.acknowledged.length;

  // 2. Move one replica of the upper half to the other node of its DC.
  const from = upper.replicas[0]!;
  const dc = afterCut.map.nodes.find((n) => n.id === from)!.dc;
  const to = afterCut.map.nodes.find((n) => n.dc === dc && !upper.replicas.includes(n.id) && !upper.learners.includes(n.id))!.id;
  const t1 = performance.now();
  const moveOp = await sendAdmin(bus, { op: 'move', split: upper.id, from, to }, 5_000);
  const afterMove = await waitForMap(bus, `${upper.id} on ${to} instead of ${from}`, (m) => {
    const s = m.map.splits.find((x) => x.id === upper.id);
    return !!s && s.replicas.includes(to) && !s.replicas.includes(from) && s.learners.length === 0;
  }, 90_000);
  const moveMs = performance.now() - t1;
  console.log(`move: ${moveOp.description} (op ${moveOp.opId}) in the map after ${moveMs.toFixed(0)} ms at generation ${afterMove.map.generation}: ${upper.id} on ${afterMove.map.splits.find((x) => x.id === upper.id)!.replicas.join(',')}`);
  const movedAt = bank.acknowledged.length;
  await sleep(3_000);

  await bank.stop();
  auditing = false;
  await staleAudits;

  // The moved replica has the half's accounts: read them there and at the leader at one timestamp.
  const upperKeys = bank.keys.filter((k) => k >= cutKey);
  const atLeader = await client.read(upperKeys);
  const ts = atLeader.ts;
  let fromMoved: MessageBody<'kv.values'> | undefined;
  for (let i = 0; i < 50 && !fromMoved; i++) {
    fromMoved = await bus
      .request(to, 'kv.snapshot', { keys: upperKeys, ts, waitMs: 2_000 }, { group: upper.id, timeoutMs: 3_000 })
      .then((r) => r.body as MessageBody<'kv.values'>)
      .catch(() => undefined);
    if (!fromMoved) await sleep(200);
  }
  expect(fromMoved, `${to} serves ${upper.id}`).toBeDefined();
  expect(Object.fromEntries(fromMoved!.values.map((v) => [v.key, v.value]))).toEqual(Object.fromEntries(upperKeys.map((k) => [k, atLeader.values.get(k)])));

  const lost = await bank.lostTransfers();
  const s = bank.stats;
  console.log(
    `transfers acknowledged ${bank.acknowledged.length} (before the cut ${before}, after the cut ${afterCutAcks - atCut} before the move, during the move ${movedAt - afterCutAcks}, after the move ${bank.acknowledged.length - movedAt}), failed ${s.failed}, retries ${s.retries}, strong audits ${s.audits} (bad ${s.badAudits}), stale audits ${stale.ok} (bad ${stale.bad}, failed ${stale.failed}), lost ${lost.length}, client map generation ${client.rangeMap.generation}`,
  );
  expect(s.badAudits, 'strong audits that did not sum to the total').toBe(0);
  expect(stale.bad, `bounded-staleness audits that did not sum to the total: ${stale.badSums.join(',')}`).toBe(0);
  expect(s.audits).toBeGreaterThan(10);
  expect(stale.ok).toBeGreaterThan(10);
  expect(lost).toEqual([]);
  // The workload went on through both operations: the clients followed the new map.
  // Clients follow the map after the cut and after the move (a move may hold the half's
  // transfers for the moment its leadership moves, so none need complete during it).
  expect(afterCutAcks - atCut).toBeGreaterThanOrEqual(5);
  expect(bank.acknowledged.length - movedAt).toBeGreaterThan(0);
  expect(client.rangeMap.generation).toBeGreaterThanOrEqual(afterCut.map.generation);
  expect(client.rangeMap.split(upper.id)?.start).toBe(cutKey);
  expect(anyExited(tc)()).toBeUndefined();
}, 240_000);
