import { describe, expect, it } from 'vitest';
import type { ReplicaConfig } from './config.js';
import type { PaxosMessage } from './messages.js';
import { baseConfig, cmd, Harness, testRng, outbound } from './testing/harness.js';
import { Replica } from './replica.js';

const ids = ['a', 'b', 'c'];

function leaderA(extra: Partial<ReplicaConfig> = {}): Harness {
  const h = new Harness(ids, extra);
  h.elect('a');
  h.propose('a', [cmd('x:1')]);
  h.deliverAll();
  h.now += 20_000;
  h.tick('a');
  h.deliverAll();
  expect(h.get('a').hasLease(h.now)).toBe(true);
  return h;
}

const sent = (h: Harness, from: number, type: PaxosMessage['type']) =>
  h.readies.slice(from).flatMap((r) => outbound(r.ready).filter((o) => o.msg.type === type));

/** Moves the clock 20 ms and ticks the leader. */
function tick(h: Harness): void {
  h.now += 20_000;
  h.tick('a');
  h.deliverAll();
}

/** Ticks the leader every 20 ms until `done` (at most `max` ticks); returns the ticks taken. */
function tickUntil(h: Harness, done: () => boolean, max = 20): number {
  for (let i = 1; i <= max; i++) {
    h.now += 20_000;
    h.tick('a');
    h.deliverAll();
    if (done()) return i;
  }
  throw new Error('condition not reached');
}

/**
 * Starts a transfer to b and ticks the leader until its lease has drained, keeping every message
 * in the harness's inbox for the test to deliver; returns the Ready that handed over.
 */
function drainThenHandOver(h: Harness) {
  expect(h.absorb('a', h.get('a').transferLeadership('b', h.now)).transferResult?.status).toBe('started');
  for (let i = 0; i < 20; i++) {
    h.now += 20_000;
    const r = h.tick('a');
    if (r.send.some((o) => o.msg.type === 'timeoutNow')) return r;
    h.deliverAll();
  }
  throw new Error('no hand-over');
}

describe('leader transfer', () => {
  it('waits until the target holds every assigned slot; meanwhile proposals go to the target', () => {
    const h = leaderA();
    h.drop = (to) => to === 'b'; // b is behind
    h.propose('a', [cmd('x:2'), cmd('x:3')]);
    h.deliverAll();
    const start = h.readies.length;
    const r = h.absorb('a', h.get('a').transferLeadership('b', h.now));
    expect(r.transferResult?.status).toBe('started');
    expect(h.get('a').transferTarget()).toBe('b');
    // No new slot: the client is sent to b.
    const p = h.propose('a', [cmd('x:4')]);
    expect(p.proposalResults).toEqual([{ ids: ['x:4'], status: 'not_leader', leaderHint: 'b' }]);
    h.now += 20_000;
    h.tick('a');
    h.deliverAll();
    expect(sent(h, start, 'timeoutNow')).toEqual([]);
    expect(h.get('a').isLeader()).toBe(true);
    expect(h.get('a').hasLease(h.now)).toBe(true); // still leading: it serves reads until it hands over
    // b comes back and catches up; the lease (no longer extended since the transfer began) runs
    // out; then the leader hands over, not before.
    h.drop = () => false;
    const leaseEnd = h.get('a').leaseValidUntil(h.now)!;
    tickUntil(h, () => sent(h, start, 'timeoutNow').length > 0);
    expect(h.now).toBeGreaterThanOrEqual(leaseEnd);
    expect(sent(h, start, 'timeoutNow').map((o) => o.to)).toEqual(['b']);
    expect(h.get('b').isLeader()).toBe(true);
    expect(h.get('a').isLeader()).toBe(false);
    expect(h.get('b').appliedUpTo()).toBe(2); // x:1 and the batch x:2,x:3
    expect(h.get('a').leaderHint()).toBe('b');
  });

  it('gives up after a lease plus an election timeout and leads on', () => {
    const h = leaderA();
    h.drop = (to, m) => to === 'b' && m.type !== 'heartbeat'; // b never catches up, but answers heartbeats
    h.propose('a', [cmd('x:2')]);
    h.deliverAll();
    expect(h.absorb('a', h.get('a').transferLeadership('b', h.now)).transferResult?.status).toBe('started');
    expect(h.propose('a', [cmd('x:3')]).proposalResults?.[0]?.status).toBe('not_leader');
    const ticks = tickUntil(h, () => h.get('a').transferTarget() === null);
    expect(ticks).toBeGreaterThanOrEqual(10); // a lease (100 ms) plus an election timeout (100 ms)
    expect(h.get('a').isLeader()).toBe(true);
    expect(h.propose('a', [cmd('x:4')]).proposalResults?.[0]?.status).toBe('queued');
    h.deliverAll();
    expect(h.appliedCommandIds('a')).toContain('x:4');
  });

  it('refuses a target it has not heard from within an election timeout, and leads on', () => {
    const h = leaderA();
    h.drop = (to, m) => to === 'b' || m.from === 'b'; // b is cut off
    for (let i = 0; i < 4; i++) tick(h); // 80 ms: still within the 100 ms election timeout
    expect(h.get('a').transferLeadership('b', h.now).transferResult?.status).toBe('started');
    const h2 = leaderA();
    h2.drop = (to, m) => to === 'b' || m.from === 'b';
    for (let i = 0; i < 5; i++) tick(h2);
    expect(h2.absorb('a', h2.get('a').transferLeadership('b', h2.now)).transferResult?.status).toBe('unreachable');
    expect(h2.get('a').transferTarget()).toBe(null);
    expect(h2.propose('a', [cmd('x:2')]).proposalResults?.[0]?.status).toBe('queued');
    h2.deliverAll();
    expect(h2.appliedCommandIds('a')).toContain('x:2');
    // b heard again: the transfer goes ahead.
    h2.drop = () => false;
    tick(h2);
    expect(h2.absorb('a', h2.get('a').transferLeadership('b', h2.now)).transferResult?.status).toBe('started');
  });

  it('gives up as soon as the target has been silent for an election timeout', () => {
    const h = leaderA();
    h.drop = (to) => to === 'b'; // b takes nothing more, and so acks nothing
    h.propose('a', [cmd('x:2')]);
    h.deliverAll();
    const start = h.now;
    expect(h.absorb('a', h.get('a').transferLeadership('b', h.now)).transferResult?.status).toBe('started');
    tickUntil(h, () => h.get('a').transferTarget() === null);
    // b's last ack came just before the transfer: an election timeout (100 ms) after it, not a lease plus one.
    expect(h.now - start).toBeLessThanOrEqual(100_000);
    expect(h.get('a').isLeader()).toBe(true);
    expect(h.propose('a', [cmd('x:3')]).proposalResults?.[0]?.status).toBe('queued');
  });

  it('ends the lease before timeoutNow leaves, and the released voters let the target win at once', () => {
    const h = leaderA();
    // a is gone right after it hands over: b needs c's promise, which c's lease vote for a
    // would withhold for a whole lease unless a released it.
    h.drop = (to, m) => to === 'a' && m.type !== 'accepted' && m.type !== 'heartbeatAck';
    const r = drainThenHandOver(h);
    const handOver = r.send.filter((o) => o.msg.type === 'timeoutNow' || o.msg.type === 'leaseRelease');
    expect(handOver.map((o) => `${o.to}:${o.msg.type}`).sort()).toEqual(['b:timeoutNow', 'c:leaseRelease']);
    // In the Ready that carries timeoutNow the old leader already holds no lease and serves no read.
    expect(h.get('a').leaseValidUntil(h.now)).toBe(null);
    expect(h.get('a').canServeLocalRead(h.now)).toBe(false);
    expect(r.leadership?.isLeader).toBe(false);
    expect(h.get('a').propose([cmd('late')], h.now).proposalResults).toEqual([{ ids: ['late'], status: 'not_leader', leaderHint: 'b' }]);
    h.deliverAll(); // no time passes
    expect(h.get('b').isLeader()).toBe(true);
    // Without the release, c (which heard a's heartbeats during the drain) keeps its vote for a
    // and its stickiness: b cannot win in that time.
    const h2 = leaderA();
    drainThenHandOver(h2);
    h2.drop = (to, m) => (to === 'a' && m.type !== 'accepted' && m.type !== 'heartbeatAck') || m.type === 'leaseRelease';
    h2.inbox.splice(0, h2.inbox.length, ...h2.inbox.filter((o) => o.msg.type !== 'leaseRelease' && o.to !== 'a'));
    h2.deliverAll();
    expect(h2.get('b').isLeader()).toBe(false);
  });

  it('a heartbeat of the released ballot still on its way revives neither vote nor stickiness', () => {
    const h = leaderA();
    h.drop = (to, m) => to === 'a' && m.type !== 'accepted' && m.type !== 'heartbeatAck';
    const r = drainThenHandOver(h);
    // The hand-over tick heartbeats first: that heartbeat to c is the one still on its way.
    const late = r.send.find((o) => o.to === 'c' && o.msg.type === 'heartbeat')!;
    const release = r.send.find((o) => o.msg.type === 'leaseRelease')!;
    const timeoutNow = r.send.find((o) => o.msg.type === 'timeoutNow')!;
    expect([release.to, timeoutNow.to]).toEqual(['c', 'b']);
    h.inbox.length = 0;
    h.inbox.push(release, late, timeoutNow); // c gets the release, then the old heartbeat, then b's Prepare
    h.deliverAll();
    expect(h.get('b').isLeader()).toBe(true);
  });

  it('a release or timeoutNow from anyone but the ballot holder is ignored', () => {
    const h = leaderA();
    const ballot = h.get('a').ownBallot();
    h.absorb('c', h.get('c').step({ type: 'leaseRelease', group: 'g', from: 'b', ballot }, h.now));
    h.absorb('b', h.get('b').step({ type: 'timeoutNow', group: 'g', from: 'c', ballot }, h.now));
    expect(h.get('b').getRole()).toBe('follower');
    // b campaigning on its own is still refused by c, which holds its vote for a.
    h.absorb('b', h.get('b').step({ type: 'timeoutNow', group: 'g', from: 'a', ballot }, h.now));
    expect(h.get('b').getRole()).toBe('candidate');
    h.drop = (to) => to === 'a';
    h.deliverAll();
    expect(h.get('b').isLeader()).toBe(false);
    expect(h.get('a').isLeader()).toBe(true);
  });

  it('answers not_leader, already_leader, not_voter and busy', () => {
    const four = ['a', 'b', 'c', 'd'];
    const h = new Harness(four);
    for (const id of four) h.replicas.set(id, new Replica(baseConfig(id, ids, { window: 2 }), testRng(four.indexOf(id) + 1)));
    h.elect('a');
    h.absorb('a', h.get('a').reconfigure({ peers: ids, learners: ['d'] }, h.now));
    h.deliverAll();
    expect(h.get('b').transferLeadership('c', h.now).transferResult).toEqual({ status: 'not_leader', leaderHint: 'a' });
    expect(h.get('a').transferLeadership('a', h.now).transferResult?.status).toBe('already_leader');
    expect(h.get('a').transferLeadership('d', h.now).transferResult?.status).toBe('not_voter');
    expect(h.get('a').transferLeadership('zz', h.now).transferResult?.status).toBe('not_voter');
    h.drop = (to) => to === 'c';
    h.absorb('a', h.get('a').propose([cmd('y')], h.now));
    expect(h.get('a').transferLeadership('c', h.now).transferResult?.status).toBe('started');
    expect(h.get('a').transferLeadership('b', h.now).transferResult?.status).toBe('busy');
    expect(h.get('a').reconfigure({ peers: ids }, h.now).reconfigureResult?.status).toBe('busy');
  });
});
