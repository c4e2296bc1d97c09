import { describe, expect, it } from 'vitest';
import { Harness, cmd, testRng, outbound } from './testing/harness.js';
import type { PaxosMessage } from './messages.js';

/**
 * A shell hosting many groups ticks a replica only once `nextTickUs()` has come (PaxosHost).
 * That is only sound if the skipped ticks would have done nothing: the same seeded run, ticking
 * every replica at every step or only when due, must send the same messages and apply the same
 * entries, through elections, losses, a partitioned replica catching up, and a leader's death.
 */
function run(seed: number, skip: boolean): { trace: string[]; leaderSkips: number } {
  let leaderSkips = 0;
  const ids = ['a', 'b', 'c'];
  const h = new Harness(ids, { heartbeatIntervalUs: 10_000, electionTimeoutUs: 105_000 }); // off the heartbeat grid
  const loss = testRng(seed * 7919);
  let isolated: string | null = null;
  let dead: string | null = null;
  h.drop = (to: string, msg: PaxosMessage) => to === dead || msg.from === dead || to === isolated || msg.from === isolated || loss.next() < 0.2;
  const trace: string[] = [];
  const record = (node: string) => {
    const last = h.readies[h.readies.length - 1];
    if (last?.node === node) for (const o of outbound(last.ready)) trace.push(`${h.now} ${node}->${o.to} ${o.msg.type}`);
  };
  let next = 0;
  for (let step = 1; step <= 3_400; step++) {
    h.now = step * 1_000;
    // b is cut off for a while (it falls behind and catches up), then the first leader dies.
    if (step === 400) isolated = 'b';
    if (step === 1_200) isolated = null;
    if (step === 1_800) dead = [...h.replicas.values()].find((r) => r.isLeader())?.config.self ?? null;
    // The next leader, idle, is cut off: check-quorum deposes it at the same instant either way.
    if (step === 2_400) isolated = [...h.replicas.values()].find((r) => r.isLeader() && r.config.self !== dead)?.config.self ?? null;
    if (step === 2_800) isolated = null;
    for (const id of ids) {
      if (id === dead) continue;
      const r = h.get(id);
      if (!skip || h.now >= r.nextTickUs()) {
        h.tick(id);
        record(id);
      } else if (r.isLeader()) leaderSkips++;
      // Proposals arrive whether or not the leader was due: between them it idles.
      if (r.isLeader() && step % 40 === 0 && (step < 2_300 || step > 2_800)) {
        h.propose(id, [cmd(`c${next++}`)]);
        record(id);
      }
    }
    const before = h.readies.length;
    h.deliverAll();
    for (const { node, ready } of h.readies.slice(before)) for (const o of outbound(ready)) trace.push(`${h.now} ${node}->${o.to} ${o.msg.type}`);
  }
  for (const id of ids) trace.push(`${id} applied ${h.appliedCommandIds(id).join(',')}`);
  return { trace, leaderSkips };
}

describe('ticking only when due (nextTickUs)', () => {
  for (const seed of [1, 2, 3]) {
    it(`changes nothing a replica sends or applies (seed ${seed})`, () => {
      const every = run(seed, false).trace;
      const { trace: due, leaderSkips } = run(seed, true);
      expect(leaderSkips).toBeGreaterThan(1_000); // an idle leader was left alone between beats
      // The scenario exercised what skipping could break: elections after a death and a catch-up.
      expect(every.filter((l) => l.endsWith(' prepare') || l.endsWith(' preVote')).length).toBeGreaterThan(0);
      expect(every.filter((l) => l.includes('catchup')).length).toBeGreaterThan(0);
      expect(due).toEqual(every);
    });
  }
});
