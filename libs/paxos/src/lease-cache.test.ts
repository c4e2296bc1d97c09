import { describe, expect, it } from 'vitest';
import type { PaxosMessage } from './messages.js';
import type { Ready } from './output.js';
import type { Replica } from './replica.js';
import { Harness, cmd, testRng } from './testing/harness.js';

/**
 * `leaseValidUntil` (and `canServeLocalRead`, `hasLease`, `leaseInterval` through it) answers
 * from the lease end the last mutator's finish() computed instead of recomputing it. Exact only
 * if nothing the lease end depends on changes outside a mutator: checked here against a fresh
 * computation after every input of every replica, through elections, losses, an isolated
 * replica, a leader transfer, a reconfiguration and a leader's death.
 */
const fresh = (r: Replica, nowUs: number): number | null => {
  const end = (r as unknown as { leaseEnd(): number | null }).leaseEnd();
  return end !== null && nowUs < end ? end : null;
};

class CheckingHarness extends Harness {
  checks = 0;
  leased = 0;
  override absorb(node: string, ready: Ready): Ready {
    const r = this.get(node);
    // Before the lease end, at it, and past it: the comparison with `now` must stay the caller's.
    for (const dt of [0, 1, 50_000, 400_000, 2_000_000]) {
      const at = this.now + dt;
      expect(r.leaseValidUntil(at)).toBe(fresh(r, at));
      this.checks++;
    }
    if (r.leaseValidUntil(this.now) !== null) this.leased++;
    return super.absorb(node, ready);
  }
}

function run(seed: number): CheckingHarness {
  const ids = ['a', 'b', 'c', 'd'];
  const h = new CheckingHarness(ids, { heartbeatIntervalUs: 10_000, electionTimeoutUs: 105_000 });
  const loss = testRng(seed * 7919);
  let isolated: string | null = null;
  let dead: string | null = null;
  h.drop = (to: string, msg: PaxosMessage) => to === dead || msg.from === dead || to === isolated || msg.from === isolated || loss.next() < 0.15;
  const leader = () => [...h.replicas.values()].find((r) => r.isLeader() && r.config.self !== dead);
  let next = 0;
  for (let step = 1; step <= 2_500; step++) {
    h.now = step * 1_000;
    if (step === 300) isolated = 'b';
    if (step === 800) isolated = null;
    if (step === 1_000) {
      const l = leader();
      const to = ids.find((id) => id !== l?.config.self && id !== dead);
      if (l && to) h.absorb(l.config.self, l.transferLeadership(to, h.now));
    }
    if (step === 1_400) {
      const l = leader();
      if (l) h.absorb(l.config.self, l.reconfigure({ peers: ['a', 'b', 'c'] }, h.now));
    }
    if (step === 1_800) dead = leader()?.config.self ?? null;
    for (const id of ids) {
      if (id === dead) continue;
      const r = h.get(id);
      if (h.now >= r.nextTickUs()) h.tick(id);
      if (r.isLeader() && step % 25 === 0) h.propose(id, [cmd(`c${next++}`)]);
    }
    h.deliverAll();
  }
  return h;
}

describe('the settled lease end', () => {
  for (const seed of [1, 2, 3]) {
    it(`equals a fresh computation after every input (seed ${seed})`, () => {
      const h = run(seed);
      expect(h.checks).toBeGreaterThan(10_000);
      // Leases were held for much of the run, so the comparisons covered real lease ends.
      expect(h.leased).toBeGreaterThan(1_000);
    });
  }
});
