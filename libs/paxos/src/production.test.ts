import { describe, expect, it } from 'vitest';
import { Dedupe, MAX_ABOVE } from './dedupe.js';
import type { PaxosMessage } from './messages.js';
import type { Snapshot } from './output.js';
import { Replica } from './replica.js';
import { baseConfig, cmd, Harness, testRng, outbound } from './testing/harness.js';

const ids = ['a', 'b', 'c'];

describe('leader leases', () => {
  it('the leader holds a lease timed from send, shrunk by the drift bound, and serves local reads', () => {
    const h = new Harness(ids, { maxDriftPpm: 100_000, leaseDurationUs: 100_000 });
    h.elect('a');
    const a = h.get('a');
    const sentAt = h.now; // election, heartbeats and acks all happen at this instant in the harness
    const until = a.leaseValidUntil(h.now);
    expect(until).toBe(sentAt + Math.floor((100_000 * 900_000) / 1_100_000) - 2);
    expect(a.hasLease(until! - 1)).toBe(true);
    expect(a.hasLease(until!)).toBe(false);
    expect(a.canServeLocalRead(h.now)).toBe(true);
    expect(a.leaseInterval(h.now)).toEqual({ startUs: sentAt, endUs: until });
    expect(h.get('b').hasLease(h.now)).toBe(false);
    expect(h.get('b').canServeLocalRead(h.now)).toBe(false);
  });

  it('an acceptor that voted promises nobody else until its vote has expired on its clock', () => {
    const h = new Harness(ids, { leaseDurationUs: 50_000, features: { leaderStickiness: false } });
    h.elect('a');
    const prepare: PaxosMessage = { type: 'prepare', group: 'g', from: 'c', ballot: { round: 9, node: 'c' }, fromSlot: 0 };
    expect(h.get('b').step(prepare, h.now + 49_999).send).toEqual([]);
    const later = h.get('b').step(prepare, h.now + 50_000);
    expect(later.send.map((o) => o.msg.type)).toEqual(['promise']);
  });

  it('a restarted acceptor honors a vote for its promised ballot for one lease duration', () => {
    const durable = { promised: { round: 1, node: 'a' }, accepted: [] };
    const r = new Replica(baseConfig('b', ids, { leaseDurationUs: 50_000 }), testRng(), { nowUs: 1_000, durable });
    const prepare: PaxosMessage = { type: 'prepare', group: 'g', from: 'c', ballot: { round: 2, node: 'c' }, fromSlot: 0 };
    expect(r.step(prepare, 50_999).send).toEqual([]);
    // A lower ballot still gets a Nack: that promises nothing.
    const low: PaxosMessage = { ...prepare, ballot: { round: 0, node: 'c' } };
    expect(r.step(low, 50_999).send.map((o) => o.msg.type)).toEqual(['nack']);
    expect(r.step(prepare, 51_000).send.map((o) => o.msg.type)).toEqual(['promise']);
    // The node it may have voted for can move on to a newer ballot at once.
    const again = new Replica(baseConfig('b', ids, { leaseDurationUs: 50_000 }), testRng(), { nowUs: 1_000, durable });
    const fromA: PaxosMessage = { ...prepare, from: 'a', ballot: { round: 3, node: 'a' } };
    expect(again.step(fromA, 1_001).send.map((o) => o.msg.type)).toEqual(['promise']);
  });

  it('check-quorum: a leader that hears from no quorum steps down after the election timeout', () => {
    const h = new Harness(ids);
    h.elect('a');
    h.drop = (to) => to === 'a'; // a can send, but hears nothing back
    for (let t = 0; t < 15; t++) {
      h.now += 10_000;
      h.tick('a');
      h.deliverAll();
    }
    expect(h.get('a').isLeader()).toBe(false);
    const sticky = new Harness(ids, { features: { checkQuorum: false } });
    sticky.elect('a');
    sticky.drop = (to) => to === 'a';
    for (let t = 0; t < 15; t++) {
      sticky.now += 10_000;
      sticky.tick('a');
      sticky.deliverAll();
    }
    expect(sticky.get('a').isLeader()).toBe(true);
    expect(sticky.get('a').hasLease(sticky.now)).toBe(false); // but its lease has run out
  });
});

describe('snapshots and compaction', () => {
  it('asks for a snapshot every interval, compacts, and a lagging replica gets it in chunks', () => {
    const h = new Harness(ids, { snapshotIntervalEntries: 4, snapshotChunkChars: 20, maxBatch: 1 });
    h.elect('a');
    h.drop = (to) => to === 'c'; // c misses everything
    for (let i = 1; i <= 10; i++) {
      h.propose('a', [cmd(`x:${i}`)]);
      h.deliverAll();
    }
    // The shell answers every takeSnapshot with its state: here, the ids applied so far.
    const a = h.get('a');
    const marked = h.applied.get('a')!.filter((e) => e.takeSnapshot);
    expect(marked.map((e) => e.slot)).toEqual([3]);
    const snapReady = a.snapshotTaken(4, { state: 'after 4' }, h.now);
    expect(snapReady.persist?.snapshot?.upTo).toBe(4);
    expect(snapReady.persist?.truncateBelow).toBe(4);
    expect(a.snapshotUpTo()).toBe(4);
    expect(a.footprint().log).toBeLessThanOrEqual(7);
    // c comes back: it catches up by snapshot (several chunks) and then the tail.
    h.drop = () => false;
    for (let t = 0; t < 20; t++) {
      h.now += 20_000;
      h.tick('a');
      h.tick('c');
      h.deliverAll();
    }
    const c = h.get('c');
    expect(c.appliedUpTo()).toBe(a.appliedUpTo());
    const installs = h.readies.filter((r) => r.node === 'c' && r.ready.installSnapshot);
    expect(installs).toHaveLength(1);
    expect(installs[0]!.ready.installSnapshot).toEqual({ upTo: 4, data: { state: 'after 4' } });
    // Several chunks, several runs of snapshotChunksPerRequest (4) each: c asked again after each run.
    const chunks = h.readies.filter((r) => r.node === 'a').flatMap((r) => outbound(r.ready)).filter((o) => o.to === 'c' && o.msg.type === 'snapshotChunk');
    const requests = h.readies.filter((r) => r.node === 'c').flatMap((r) => r.ready.send).filter((o) => o.msg.type === 'snapshotRequest');
    expect(chunks.length).toBeGreaterThan(4);
    expect(requests.length).toBeGreaterThanOrEqual(Math.ceil(chunks.length / 4) - 1);
    // c applied only the tail: slots 4.. after the snapshot
    expect(h.applied.get('c')!.map((e) => e.slot)).toEqual([4, 5, 6, 7, 8, 9]);
    expect(c.isApplied('x:1')).toBe(true); // dedupe state came with the snapshot
  });

  it('restart = snapshot + tail', () => {
    const snap: Snapshot = {
      upTo: 5,
      data: 'sm',
      dedupe: { clients: [['x', 5, []]], other: [] },
      configs: [{ fromSlot: 0, peers: ids, q1: 2, q2: 2 }],
    };
    const ballot = { round: 1, node: 'a' };
    const r = new Replica(baseConfig('b', ids), testRng(), {
      durable: {
        promised: ballot,
        snapshot: snap,
        accepted: [3, 4, 5, 6].map((slot) => ({ slot, ballot, value: { kind: 'batch' as const, cmds: [cmd(`x:${slot + 1}`)] } })),
      },
    });
    expect(r.appliedUpTo()).toBe(5);
    expect(r.footprint().log).toBe(2); // entries below the snapshot are ignored
    const out = r.step({ type: 'heartbeat', group: 'g', from: 'a', ballot, chosenUpTo: 7, sentAtUs: 0 }, 1);
    expect(out.apply.map((e) => e.slot)).toEqual([5, 6]);
    expect(out.apply[0]!.commands.map((c) => c.id)).toEqual(['x:6']);
  });

  it('a candidate behind an acceptor compaction point does not lead: it fetches the snapshot', () => {
    const r = new Replica(baseConfig('c', ids, { features: { preVote: false } }), testRng(), { nowUs: 0 });
    r.tick(1_000_000);
    expect(r.getRole()).toBe('candidate');
    const out = r.step(
      { type: 'promise', group: 'g', from: 'a', ballot: r.ownBallot(), fromSlot: 0, accepted: [], chosenUpTo: 9, snapshotUpTo: 8 },
      1_000_001,
    );
    expect(r.getRole()).toBe('follower');
    expect(out.send.map((o) => o.msg.type)).toEqual(['catchupRequest']);
  });

  it('the dedupe state stays bounded for clients with consecutive seqs', () => {
    const d = new Dedupe();
    for (let i = 1; i <= 10_000; i++) d.add(`c:${i}`);
    expect(d.size()).toBe(1);
    expect(d.has('c:1')).toBe(true);
    expect(d.has('c:10001')).toBe(false);
    d.add('c:10003');
    expect(d.has('c:10002')).toBe(false);
    expect(d.size()).toBe(2);
    for (let i = 20_000; i < 20_000 + MAX_ABOVE + 1; i++) d.add(`c:${i}`);
    expect(d.size()).toBe(1); // the gap below was given up
    expect(new Dedupe(d.export()).export()).toEqual(d.export());
  });
});

describe('reconfiguration and flexible quorums', () => {
  it('refuses memberships that break q1 + q2 > n', () => {
    const h = new Harness(ids);
    h.elect('a');
    expect(() => h.get('a').reconfigure({ peers: ['a', 'b', 'c', 'd'], q1: 2, q2: 2 }, h.now)).toThrow(/q1 \+ q2 > n/);
    expect(() => h.get('a').reconfigure({ peers: ['a', 'a'] }, h.now)).toThrow(/duplicate/);
  });

  it('replaces a dead replica: the config chosen at slot i governs from i + window, the new node catches up', () => {
    const all = ['a', 'b', 'c', 'd'];
    const h = new Harness(all);
    // The harness makes every id a member; rebuild with the 3-member config and a spare d.
    for (const id of all) h.replicas.set(id, new Replica(baseConfig(id, ids, { window: 4 }), testRng(all.indexOf(id) + 1)));
    h.elect('a');
    h.drop = (to) => to === 'c'; // c is dead
    h.propose('a', [cmd('x:1')]);
    h.deliverAll();
    const ready = h.absorb('a', h.get('a').reconfigure({ peers: ['a', 'b', 'd'] }, h.now));
    expect(ready.reconfigureResult?.status).toBe('queued');
    expect(h.get('a').reconfigure({ peers: ['a', 'b', 'c'] }, h.now).reconfigureResult?.status).toBe('busy');
    h.deliverAll();
    expect(h.get('a').membershipAt(1).peers).toEqual(ids); // slot 1 holds the config: governs from 5
    expect(h.get('a').membershipAt(5).peers).toEqual(['a', 'b', 'd']);
    for (let i = 2; i <= 8; i++) {
      h.propose('a', [cmd(`x:${i}`)]);
      h.deliverAll();
      h.now += 20_000;
      h.tick('a');
      h.tick('d');
      h.deliverAll();
    }
    // At least the 9 slots proposed (an idle leader's ticks may add no-ops up to the new config).
    expect(h.get('a').appliedUpTo()).toBeGreaterThanOrEqual(9);
    expect(h.get('d').appliedUpTo()).toBe(h.get('a').appliedUpTo());
    expect(h.get('d').isMember()).toBe(true);
    // From slot 5 on, a quorum is 2 of {a, b, d}: b alone dropping out must not stop progress.
    h.drop = (to) => to === 'c' || to === 'b';
    const before = h.get('a').appliedUpTo();
    h.propose('a', [cmd('x:9')]);
    h.deliverAll();
    expect(h.get('a').appliedUpTo()).toBe(before + 1);
  });

  it('flexible quorums: q2 = 2 of 5 chooses with two acceptors, phase 1 needs q1 = 4', () => {
    const five = ['a', 'b', 'c', 'd', 'e'];
    const h = new Harness(five, { q1: 4, q2: 2 });
    h.drop = (to) => to === 'd' || to === 'e';
    h.elect('a');
    expect(h.get('a').isLeader()).toBe(false); // only a, b, c promise
    h.drop = (to) => to === 'e';
    h.elect('a');
    expect(h.get('a').isLeader()).toBe(true);
    h.drop = (to) => to !== 'a' && to !== 'b';
    h.propose('a', [cmd('x:1')]);
    h.deliverAll();
    expect(h.get('a').appliedUpTo()).toBe(1);
  });
});
