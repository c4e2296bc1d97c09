import { describe, expect, it } from 'vitest';
import type { Ballot } from './ballot.js';
import type { AcceptedMsg, PaxosMessage } from './messages.js';
import type { Snapshot } from './output.js';
import { Replica } from './replica.js';
import { baseConfig, cmd, Harness, testRng } from './testing/harness.js';
import type { Value } from './value.js';

/**
 * The assertions of replica.ts (see README "Invariants"), each tripped on purpose by poking the
 * replica's private state, or replacing one of its private methods, through a cast.
 */
const ids = ['a', 'b', 'c'];
const b = (round: number, node: string): Ballot => ({ round, node });
const batch = (...cmdIds: string[]): Value => ({ kind: 'batch', cmds: cmdIds.map((id) => cmd(id)) });
const accept = (slot: number, ballot: Ballot): PaxosMessage => ({
  type: 'accept',
  group: 'g',
  from: 'a',
  ballot,
  entries: [{ slot, value: batch(`k:${slot}`) }],
  chosenUpTo: 0,
  sentAtUs: 0,
});

describe('(a) applied ≤ chosen prefix ≤ next slot', () => {
  it('(a) applied ≤ chosen prefix ≤ next slot: tripped by poking applied past the chosen prefix', () => {
    const r = new Replica(baseConfig('b', ids), testRng());
    const internals = r as unknown as { applied: number; chosenPrefix: number; chosen: Map<number, Value> };
    internals.chosen.set(0, batch('x'));
    internals.chosenPrefix = 1;
    internals.applied = 2; // corrupted: ahead of the chosen prefix
    const heartbeat: PaxosMessage = { type: 'heartbeat', group: 'g', from: 'a', ballot: b(1, 'a'), chosenUpTo: 0, sentAtUs: 0 };
    expect(() => r.step(heartbeat, 1)).toThrow(/applied ≤ chosen prefix ≤ next slot/);
  });
});

describe('(b) the pipelining window bound', () => {
  it('holds while the window is full', () => {
    const h = new Harness(ids, { window: 2 });
    h.elect('a');
    h.drop = () => true; // nothing is acknowledged: the window stays full
    h.propose('a', [cmd('c:1')]);
    h.propose('a', [cmd('c:2')]);
    h.propose('a', [cmd('c:3')]);
    expect(h.get('a').chosenUpTo()).toBe(0);
  });

  it('trips when a leader has more than window slots assigned beyond the chosen prefix', () => {
    const h = new Harness(ids, { window: 2 });
    h.elect('a');
    h.drop = () => true;
    h.propose('a', [cmd('c:1')]);
    // Poke: the leader assigned a third slot (as if room() were wrong).
    (h.get('a') as unknown as { nextSlot: number }).nextSlot = 3;
    expect(() => h.tick('a')).toThrow(/a leader assigns slots only within the window/);
  });
});

describe('(c) a leader sends Accepts only at its promised ballot', () => {
  it('trips when the leader has promised a higher ballot (it missed stepping down)', () => {
    const h = new Harness(ids);
    h.elect('a');
    // Poke: a's acceptor promised b's higher ballot, but a still leads at its own.
    (h.get('a') as unknown as { promised: Ballot }).promised = b(99, 'b');
    expect(() => h.propose('a', [cmd('c:1')])).toThrow(/a leader sends Accepts only at its promised ballot/);
  });
});

describe('(d) every Promise or Accepted sent is covered by a persist', () => {
  it('trips when an Accepted goes out for an entry that was not handed to persist', () => {
    const r = new Replica(baseConfig('b', ids), testRng());
    // Replace the private accept step by one that forgets the persist.
    const internals = r as unknown as { accept(slot: number, ballot: Ballot, value: Value): void; log: Map<number, unknown> };
    internals.accept = function (this: typeof internals, slot, ballot, value) {
      this.log.set(slot, { ballot, value });
    };
    expect(() => r.step(accept(0, b(1, 'a')), 1)).toThrow(/every promise or accepted sent is covered by a persist/);
  });

  it('trips when a Promise goes out for a ballot that was not handed to persist', () => {
    const r = new Replica(baseConfig('b', ids), testRng());
    const internals = r as unknown as { setPromised(x: Ballot): void; promised: Ballot };
    internals.setPromised = function (this: typeof internals, x) {
      this.promised = x; // forgets out.persist.promised
    };
    const prepare: PaxosMessage = { type: 'prepare', group: 'g', from: 'a', ballot: b(1, 'a'), fromSlot: 0 };
    expect(() => r.step(prepare, 1)).toThrow(/every promise or accepted sent is covered by a persist/);
  });

  it('covers an Accepted by the persist of an earlier Ready', () => {
    const r = new Replica(baseConfig('b', ids), testRng());
    expect(r.step(accept(0, b(1, 'a')), 1).persist?.accepted).toHaveLength(1);
    const again = r.step(accept(0, b(1, 'a')), 2); // a resend: persisted again, and covered anyway
    expect(again.send.map((o) => o.msg.type)).toEqual(['accepted']);
  });

  it('exempts slots below the compaction point: they are chosen, acked without persisting', () => {
    const snapshot: Snapshot = { upTo: 5, data: null, dedupe: { clients: [], other: [] }, configs: [{ fromSlot: 0, peers: ids, q1: 2, q2: 2 }] };
    const r = new Replica(baseConfig('b', ids), testRng(), { durable: { promised: b(1, 'a'), accepted: [], snapshot } });
    const out = r.step(accept(2, b(1, 'a')), 1);
    expect(out.persist?.accepted).toBeUndefined();
    expect((out.send[0]?.msg as AcceptedMsg).slots).toEqual([2]);
  });
});

describe('(e) voters are released only after the lease ended', () => {
  it('tripped by a handOff that skips the step-down', () => {
    const h = new Harness(ids);
    h.elect('a');
    h.now += 20_000;
    h.tick('a');
    h.deliverAll();
    const a = h.get('a');
    expect(a.hasLease(h.now)).toBe(true);
    // Replace stepDown for this one call: the leader would keep leading and its lease.
    (a as unknown as { stepDown: () => void }).stepDown = () => undefined;
    expect(() => a.transferLeadership('b', h.now)).toThrow(/releases its voters only after its lease ended/);
  });
});
