/**
 * A spanserver whose clock is stepped beyond its ε stops serving (DESIGN §5) and, since it may
 * not lead either, the other replicas take over its splits; removing the skew brings it back.
 */
import { expect, it } from 'vitest';
import { collectStatus } from '@synod/cli';
import { sleep, useTestCluster } from './helpers.js';

const cluster = useTestCluster({ syncIntervalMs: 500 });

it('a skewed leader stops serving, loses its leadership, writes go on, and it recovers', async () => {
  const tc = cluster();
  const nodes = tc.cluster.rangeMap.nodes();
  const split = tc.cluster.rangeMap.splitFor('clock-key').id;
  const victim = nodes[await tc.leaderOf(split)]!;
  const writer = await tc.client('dc-x', 'skew-writer');
  await writer.put('clock-key', 0);

  await tc.buses[0]!.broadcastChaos('clock.fault', { node: victim.id, skewMs: 300 });
  const statusOf = async (id: string) => (await collectStatus(tc.buses[0]!, nodes)).find((r) => r.node === id)!.status!;
  let stoppedAfterMs = -1;
  const t0 = Date.now();
  while (Date.now() - t0 < 10_000) {
    if (!(await statusOf(victim.id)).tt.serving) {
      stoppedAfterMs = Date.now() - t0;
      break;
    }
    await sleep(50);
  }
  expect(stoppedAfterMs, 'the skewed node stops serving').toBeGreaterThanOrEqual(0);

  // Writes go on: another replica leads the split now.
  for (let i = 1; i <= 5; i++) await writer.put('clock-key', i);
  expect(await writer.get('clock-key')).toBe(5);
  const rows = await collectStatus(tc.buses[0]!, nodes);
  const leaders = rows.filter((r) => r.status?.groups.some((g) => g.id === split && g.isLeader)).map((r) => r.node);
  expect(leaders).not.toContain(victim.id);

  await tc.buses[0]!.broadcastChaos('clock.fault', { node: victim.id, skewMs: 0 });
  let back = false;
  for (let i = 0; i < 200 && !back; i++) {
    back = (await statusOf(victim.id)).tt.serving;
    if (!back) await sleep(50);
  }
  expect(back).toBe(true);
  console.log(`skewed leader ${victim.id} stopped serving after ${stoppedAfterMs} ms (sync interval 500 ms); writes went on elsewhere; it recovered`);
}, 90_000);
