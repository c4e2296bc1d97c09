import { describe, expect, it } from 'vitest';
import type { ReplicaConfig } from './config.js';
import { Replica } from './replica.js';
import { baseConfig, cmd, Harness, testRng, outbound } from './testing/harness.js';

const voters = ['a', 'b', 'c'];
const all = ['a', 'b', 'c', 'd'];

/** Voters a, b, c and a spare d that is no member yet; a leads. */
function groupWithSpare(extra: Partial<ReplicaConfig> = {}): Harness {
  const h = new Harness(all);
  for (const id of all) h.replicas.set(id, new Replica(baseConfig(id, voters, { window: 4, ...extra }), testRng(all.indexOf(id) + 1)));
  h.elect('a');
  return h;
}

/** Runs `n` rounds: one proposal, delivery, a heartbeat round, and the snapshots the replicas asked for. */
function rounds(h: Harness, n: number, prefix: string): void {
  for (let i = 0; i < n; i++) {
    h.propose('a', [cmd(`${prefix}:${i}`)]);
    h.deliverAll();
    settle(h);
  }
}

const snapshotsDone = new WeakMap<Harness, Set<string>>();
function settle(h: Harness): void {
  h.now += 20_000;
  for (const id of all) h.tick(id);
  h.deliverAll();
  // Answer every takeSnapshot with an (opaque) state: the harness has no state machine.
  const done = snapshotsDone.get(h) ?? new Set<string>();
  snapshotsDone.set(h, done);
  for (const id of all) {
    for (const e of h.applied.get(id) ?? []) {
      const key = `${id}@${e.slot}`;
      if (!e.takeSnapshot || done.has(key)) continue;
      done.add(key);
      h.absorb(id, h.get(id).snapshotTaken(e.slot + 1, { upTo: e.slot + 1 }, h.now));
    }
  }
  h.deliverAll();
}

/** Adds d as a learner and runs until the configuration governs. */
function addLearner(h: Harness): void {
  const r = h.absorb('a', h.get('a').reconfigure({ peers: voters, learners: ['d'] }, h.now));
  expect(r.reconfigureResult?.status).toBe('queued');
  h.deliverAll();
  rounds(h, 6, 'fill');
}

describe('learners', () => {
  it('a learner receives everything, applies the same log, and never campaigns', () => {
    const h = groupWithSpare();
    rounds(h, 2, 'x');
    addLearner(h);
    expect(h.get('a').membership().learners).toEqual(['d']);
    expect(h.get('d').appliedUpTo()).toBe(h.get('a').appliedUpTo());
    expect(h.appliedCommandIds('d')).toEqual(h.appliedCommandIds('a'));
    expect(h.get('d').isMember()).toBe(false);
    // The leader goes silent: d's timer fires again and again, but d never asks for votes.
    h.drop = (to) => to !== 'd';
    const before = h.readies.length;
    for (let i = 0; i < 5; i++) h.tick('d', h.now + 1_000_000);
    const asked = h.readies.slice(before).flatMap((r) => outbound(r.ready)).filter((o) => o.msg.type === 'preVote' || o.msg.type === 'prepare');
    expect(asked).toEqual([]);
    expect(h.get('d').getRole()).toBe('follower');
  });

  it("a learner's accept never completes a phase-2 quorum", () => {
    const h = groupWithSpare();
    addLearner(h);
    const chosen = h.get('a').chosenUpTo();
    // Only the learner hears the leader: a + d would be 2 of 3 if d counted.
    h.drop = (to) => to === 'b' || to === 'c';
    h.propose('a', [cmd('only-learner')]);
    h.deliverAll();
    expect(h.get('d').progress()).toEqual([]);
    expect(h.get('a').progress().find((p) => p.node === 'd')).toEqual({ node: 'd', voter: false, matchSlot: chosen + 1 });
    expect(h.get('a').chosenUpTo()).toBe(chosen);
    // The check can fail: with the learner counted, the same run chooses the slot.
    const broken = groupWithSpare({ brokenForTesting: { learnerCountsInQuorum: true } });
    addLearner(broken);
    const brokenChosen = broken.get('a').chosenUpTo();
    broken.drop = (to) => to === 'b' || to === 'c';
    broken.propose('a', [cmd('only-learner')]);
    broken.deliverAll();
    expect(broken.get('a').chosenUpTo()).toBe(brokenChosen + 1);
  });

  it('a learner added after compaction catches up by snapshot, then can be promoted', () => {
    const h = groupWithSpare({ snapshotIntervalEntries: 4, snapshotChunkChars: 40 });
    rounds(h, 12, 'x');
    expect(h.get('a').snapshotUpTo()).toBeGreaterThan(0);
    h.drop = (to) => to === 'd'; // d hears nothing at first: it must not be promoted
    const r = h.absorb('a', h.get('a').reconfigure({ peers: voters, learners: ['d'] }, h.now));
    expect(r.reconfigureResult?.status).toBe('queued');
    h.deliverAll();
    rounds(h, 8, 'y');
    expect(h.get('a').progress().find((p) => p.node === 'd')?.matchSlot).toBe(0);
    expect(h.get('a').reconfigure({ peers: ['a', 'b', 'd'] }, h.now).reconfigureResult?.status).toBe('behind');
    h.drop = () => false;
    rounds(h, 6, 'z');
    expect(h.readies.some((x) => x.node === 'd' && x.ready.installSnapshot !== undefined)).toBe(true);
    const d = h.get('a').progress().find((p) => p.node === 'd')!;
    expect(d.voter).toBe(false);
    expect(d.matchSlot).toBeGreaterThanOrEqual(h.get('a').chosenUpTo() - 4);
    // Promote d and drop c: an ordinary configuration change.
    const p = h.absorb('a', h.get('a').reconfigure({ peers: ['a', 'b', 'd'] }, h.now));
    expect(p.reconfigureResult?.status).toBe('queued');
    h.deliverAll();
    rounds(h, 6, 'w');
    expect(h.get('d').isMember()).toBe(true);
    expect(h.get('a').progress().map((x) => x.node).sort()).toEqual(['a', 'b', 'd']);
    // c is in neither list now: the leader sends it nothing more (it may still be answered: not
    // knowing it was removed, it pre-votes, which nobody grants).
    const before = h.readies.length;
    rounds(h, 3, 'v');
    expect(h.readies.slice(before).flatMap((x) => outbound(x.ready)).filter((o) => o.to === 'c' && o.msg.type !== 'preVoteReply').map((o) => `${o.msg.from}>c ${o.msg.type}`)).toEqual([]);
    // And c's acks no longer count: b and d alone (with a) choose.
    h.drop = (to) => to === 'b';
    const chosen = h.get('a').chosenUpTo();
    h.propose('a', [cmd('after')]);
    h.deliverAll();
    expect(h.get('a').chosenUpTo()).toBe(chosen + 1);
    expect(h.get('d').appliedUpTo()).toBeGreaterThan(0);
  });

  it('an idle leader fills the window gap with no-ops, so the next change is not busy forever', () => {
    const h = groupWithSpare();
    h.absorb('a', h.get('a').reconfigure({ peers: voters, learners: ['d'] }, h.now));
    h.deliverAll(); // chosen and applied at slot 0; it governs from slot 4, and nothing is proposed
    expect(h.get('a').reconfigure({ peers: voters }, h.now).reconfigureResult?.status).toBe('busy');
    h.now += 20_000;
    h.tick('a');
    h.deliverAll();
    expect(h.get('a').membership().learners).toEqual(['d']);
    expect(h.get('a').chosenValue(3)).toEqual({ kind: 'noop' });
    expect(h.get('a').reconfigure({ peers: voters }, h.now).reconfigureResult?.status).toBe('queued');
  });

  it('refuses a learner that also votes, duplicates and empty ids', () => {
    const h = groupWithSpare();
    expect(() => h.get('a').reconfigure({ peers: voters, learners: ['c'] }, h.now)).toThrow(/both vote and learn/);
    expect(() => h.get('a').reconfigure({ peers: voters, learners: ['d', 'd'] }, h.now)).toThrow(/duplicate learner/);
    expect(() => h.get('a').reconfigure({ peers: voters, learners: [''] }, h.now)).toThrow(/empty learner/);
  });
});
