import { describe, expect, it } from 'vitest';
import type { ReplicaConfig } from './config.js';
import type { PaxosMessage } from './messages.js';
import { baseConfig, cmd, Harness, testRng } from './testing/harness.js';
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
  h.readies.slice(from).flatMap((r) => r.ready.send.filter((o) => o.msg.type === type));

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
    // b comes back: it catches up from the next heartbeat, says so in the one after, and the
    // leader hands over.
    h.drop = () => false;
    h.now += 20_000;
    h.tick('a');
    h.deliverAll();
    expect(sent(h, start, 'timeoutNow')).toEqual([]);
    h.now += 20_000;
    h.tick('a');
    h.deliverAll();
    expect(sent(h, start, 'timeoutNow').map((o) => o.to)).toEqual(['b']);
    expect(h.get('b').isLeader()).toBe(true);
    expect(h.get('a').isLeader()).toBe(false);
    expect(h.get('b').appliedUpTo()).toBe(2); // x:1 and the batch x:2,x:3
    expect(h.get('a').leaderHint()).toBe('b');
  });

  it('gives up after an election timeout and leads on', () => {
    const h = leaderA();
    h.drop = (to) => to === 'b'; // b never catches up
    h.propose('a', [cmd('x:2')]);
    h.deliverAll();
    expect(h.absorb('a', h.get('a').transferLeadership('b', h.now)).transferResult?.status).toBe('started');
    expect(h.propose('a', [cmd('x:3')]).proposalResults?.[0]?.status).toBe('not_leader');
    for (let i = 0; i < 6; i++) {
      h.now += 20_000;
      h.tick('a');
      h.deliverAll();
    }
    expect(h.get('a').transferTarget()).toBe(null);
    expect(h.get('a').isLeader()).toBe(true);
    expect(h.propose('a', [cmd('x:4')]).proposalResults?.[0]?.status).toBe('queued');
    h.deliverAll();
    expect(h.appliedCommandIds('a')).toContain('x:4');
  });

  it('ends the lease before timeoutNow leaves, and the released voters let the target win at once', () => {
    const h = leaderA();
    // a is gone right after it hands over: b needs c's promise, which c's lease vote for a
    // would withhold for a whole lease unless a released it.
    h.drop = (to, m) => to === 'a' && m.type !== 'accepted' && m.type !== 'heartbeatAck';
    const r = h.absorb('a', h.get('a').transferLeadership('b', h.now));
    expect(r.send.map((o) => `${o.to}:${o.msg.type}`).sort()).toEqual(['b:timeoutNow', 'c:leaseRelease']);
    // In the Ready that carries timeoutNow the old leader already holds no lease and serves no read.
    expect(h.get('a').leaseValidUntil(h.now)).toBe(null);
    expect(h.get('a').canServeLocalRead(h.now)).toBe(false);
    expect(r.leadership?.isLeader).toBe(false);
    expect(h.get('a').propose([cmd('late')], h.now).proposalResults).toEqual([{ ids: ['late'], status: 'not_leader', leaderHint: 'b' }]);
    h.deliverAll(); // no time passes
    expect(h.get('b').isLeader()).toBe(true);
    // Without the release, c keeps its vote for a and b cannot win in that time.
    const h2 = leaderA();
    h2.drop = (to, m) => (to === 'a' && m.type !== 'accepted' && m.type !== 'heartbeatAck') || m.type === 'leaseRelease';
    h2.absorb('a', h2.get('a').transferLeadership('b', h2.now));
    h2.deliverAll();
    expect(h2.get('b').isLeader()).toBe(false);
  });

  it('a heartbeat of the released ballot still on its way revives neither vote nor stickiness', () => {
    const h = leaderA();
    h.now += 20_000;
    const late = h.tick('a').send.find((o) => o.to === 'c' && o.msg.type === 'heartbeat')!;
    h.inbox.length = 0;
    h.drop = (to, m) => to === 'a' && m.type !== 'accepted' && m.type !== 'heartbeatAck';
    h.absorb('a', h.get('a').transferLeadership('b', h.now));
    expect(h.inbox.map((o) => `${o.to}:${o.msg.type}`)).toEqual(['c:leaseRelease', 'b:timeoutNow']);
    h.inbox.splice(1, 0, late); // c gets the release, then the old heartbeat, then b's Prepare
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
