import { describe, expect, it } from 'vitest';
import { Harness, cmd, testRng } from './testing/harness.js';
import type { PaxosMessage } from './messages.js';

/**
 * A shell hosting many groups ticks a replica only once `nextTickUs()` has come (PaxosHost).
 * That is only sound if the skipped ticks would have done nothing: the same seeded run, ticking
 * every replica at every step or only when due, must send the same messages and apply the same
 * entries, through elections, losses, a partitioned replica catching up, and a leader's death.
 */
function run(seed: number, skip: boolean): string[] {
  const ids = ['a', 'b', 'c'];
  const h = new Harness(ids, { heartbeatIntervalUs: 10_000, electionTimeoutUs: 100_000 });
  const loss = testRng(seed * 7919);
  let isolated: string | null = null;
  let dead: string | null = null;
  h.drop = (to: string, msg: PaxosMessage) => to === dead || msg.from === dead || to === isolated || msg.from === isolated || loss.next() < 0.05;
  const trace: string[] = [];
  const record = (node: string) => {
    const last = h.readies[h.readies.length - 1];
    if (last?.node === node) for (const o of last.ready.send) trace.push(`${h.now} ${node}->${o.to} ${o.msg.type}`);
  };
  let next = 0;
  for (let step = 1; step <= 3_000; step++) {
    h.now = step * 1_000;
    // b is cut off for a while (it falls behind and catches up), then the first leader dies.
    if (step === 400) isolated = 'b';
    if (step === 1_200) isolated = null;
    if (step === 1_800) dead = [...h.replicas.values()].find((r) => r.isLeader())?.config.self ?? null;
    for (const id of ids) {
      if (id === dead) continue;
      const r = h.get(id);
      if (skip && h.now < r.nextTickUs()) continue;
      h.tick(id);
      record(id);
      if (r.isLeader() && step % 5 === 0) {
        h.propose(id, [cmd(`c${next++}`)]);
        record(id);
      }
    }
    const before = h.readies.length;
    h.deliverAll();
    for (const { node, ready } of h.readies.slice(before)) for (const o of ready.send) trace.push(`${h.now} ${node}->${o.to} ${o.msg.type}`);
  }
  for (const id of ids) trace.push(`${id} applied ${h.appliedCommandIds(id).join(',')}`);
  return trace;
}

describe('ticking only when due (nextTickUs)', () => {
  for (const seed of [1, 2, 3]) {
    it(`changes nothing a replica sends or applies (seed ${seed})`, () => {
      const every = run(seed, false);
      const due = run(seed, true);
      // The scenario exercised what skipping could break: elections after a death and a catch-up.
      expect(every.filter((l) => l.endsWith(' prepare') || l.endsWith(' preVote')).length).toBeGreaterThan(0);
      expect(every.filter((l) => l.includes('catchup')).length).toBeGreaterThan(0);
      expect(due).toEqual(every);
    });
  }
});
