import { describe, expect, it } from 'vitest';
import type { ReplicaConfig } from './config.js';
import type { PeerLiveness } from './liveness.js';
import type { PaxosMessage } from './messages.js';
import { Replica } from './replica.js';
import { Harness, baseConfig, cmd, outbound, testRng } from './testing/harness.js';

/**
 * Quiescent groups (docs/paxos.md, "Quiescent groups"): an idle group stops heartbeating once
 * every follower agrees, its lease lapses, and the shell's node-level liveness stands in for the
 * heartbeats; any activity wakes it, and a dead leader's node is still replaced.
 */
const HB = 10_000;
const ELECTION = 100_000;
const QUIESCE = 200_000;

function cluster(extra: Partial<ReplicaConfig> = {}, opts: { rearm?: boolean } = {}) {
  const rearm = opts.rearm ?? true;
  const ids = ['a', 'b', 'c'];
  /** Nodes the others hear from: the shell's beats. A dead node is heard by nobody and hears nothing. */
  const dead = new Set<string>();
  const liveness = (self: string): PeerLiveness => ({ isLive: (node) => !dead.has(node) && !dead.has(self) });
  const h = new Harness(ids, { heartbeatIntervalUs: HB, electionTimeoutUs: ELECTION, quiesceAfterUs: QUIESCE, ...extra }, {}, liveness);
  h.drop = (to: string, msg: PaxosMessage) => dead.has(to) || dead.has(msg.from);
  const sent: Array<{ at: number; from: string; to: string; type: string }> = [];
  /**
   * Runs `us` of time in 1 ms steps, ticking each replica when due (as PaxosHost does: a quiet
   * follower whose leader is heard is only re-armed, unless `rearm` is off) and delivering everything.
   */
  const run = (us: number): void => {
    const end = h.now + us;
    while (h.now < end) {
      h.now += 1_000;
      for (const id of ids) {
        if (dead.has(id)) continue;
        const r = h.get(id);
        if (h.now >= r.nextTickUs() && !(rearm && r.rearmQuiet(h.now))) h.tick(id);
      }
      const before = h.readies.length;
      h.deliverAll();
      void before;
    }
  };
  // Every message any replica sends, from every Ready absorbed.
  const absorb = h.absorb.bind(h);
  h.absorb = (node, ready) => {
    for (const o of outbound(ready)) sent.push({ at: h.now, from: node, to: o.to, type: o.msg.type });
    return absorb(node, ready);
  };
  const sentBetween = (from: number, to: number) => sent.filter((m) => m.at > from && m.at <= to);
  const leader = (): string | undefined => ids.find((id) => !dead.has(id) && h.get(id).isLeader());
  return { h, ids, dead, run, sentBetween, leader };
}

describe('quiescent groups', () => {
  it('an idle group stops sending, and its lease lapses', () => {
    const { h, run, sentBetween } = cluster();
    h.elect('a');
    h.propose('a', [cmd('x')]);
    h.deliverAll();
    run(100_000);
    expect(sentBetween(h.now - 100_000, h.now).length).toBeGreaterThan(10); // awake: heartbeats every 10 ms
    run(QUIESCE + 200_000);
    expect(['a', 'b', 'c'].map((id) => h.get(id).isQuiet())).toEqual([true, true, true]);
    const t = h.now;
    run(1_000_000);
    expect(sentBetween(t, h.now)).toEqual([]);
    expect(h.get('a').isLeader()).toBe(true);
    expect(h.get('a').nextTickUs()).toBe(Number.POSITIVE_INFINITY);
    expect(h.get('a').leaseValidUntil(h.now)).toBeNull();
    expect(h.get('b').leaderHint()).toBe('a');
  });

  it('re-arming a quiet follower leaves it exactly as a tick would (deadlines, and no messages)', () => {
    const runs = [true, false].map((rearm) => {
      const { h, run, sentBetween } = cluster({}, { rearm });
      h.elect('a');
      run(QUIESCE + 200_000);
      const t = h.now;
      const deadlines: number[][] = [];
      for (let i = 0; i < 20; i++) {
        run(ELECTION / 2);
        deadlines.push(['b', 'c'].map((id) => h.get(id).nextTickUs()));
      }
      return { deadlines, sent: sentBetween(t, h.now).length, quiet: ['a', 'b', 'c'].map((id) => h.get(id).isQuiet()) };
    });
    expect(runs[0]).toEqual(runs[1]);
    expect(runs[0]!.sent).toBe(0);
    expect(runs[0]!.quiet).toEqual([true, true, true]);
    // The deadlines moved: the followers were due, and re-armed, several times.
    expect(new Set(runs[0]!.deadlines.map((d) => d[0])).size).toBeGreaterThan(3);
  });

  it('rearmQuiet declines (changing nothing) unless a quiet follower is due and hears its leader', () => {
    const { h, dead, run } = cluster();
    h.elect('a');
    expect(h.get('b').rearmQuiet(h.now + 10 * ELECTION)).toBe(false); // awake
    run(QUIESCE + 200_000);
    const b = h.get('b');
    expect(b.rearmQuiet(b.nextTickUs() - 1)).toBe(false); // not due
    expect(h.get('a').rearmQuiet(h.now + 10 * ELECTION)).toBe(false); // the leader
    dead.add('a');
    const due = b.nextTickUs();
    expect(b.rearmQuiet(due)).toBe(false); // its leader's node is silent: the shell must tick it
    expect(b.nextTickUs()).toBe(due);
  });

  it('a proposal at the quiet leader is chosen everywhere and brings the lease back', () => {
    const { h, run } = cluster();
    h.elect('a');
    run(QUIESCE + 500_000);
    expect(h.get('a').isQuiet()).toBe(true);
    h.propose('a', [cmd('y')]);
    // Its tick may come before any answer: the peers its node hears count as heard (check-quorum).
    h.now += 1_000;
    h.tick('a');
    expect(h.get('a').isLeader()).toBe(true);
    h.deliverAll();
    run(30_000);
    for (const id of ['a', 'b', 'c']) expect(h.appliedCommandIds(id)).toEqual(['y']);
    expect(h.get('a').isQuiet()).toBe(false);
    expect(h.get('b').isQuiet()).toBe(false);
    expect(h.get('a').leaseValidUntil(h.now)).not.toBeNull();
  });

  it("a quiet leader hands over to a peer its node hears, and refuses one whose node is dead", () => {
    const { h, run, dead, leader } = cluster();
    h.elect('a');
    run(QUIESCE + 500_000);
    expect(h.get('a').isQuiet()).toBe(true); // no acks for far longer than an election timeout
    dead.add('c');
    expect(h.absorb('a', h.get('a').transferLeadership('c', h.now)).transferResult?.status).toBe('unreachable');
    expect(h.absorb('a', h.get('a').transferLeadership('b', h.now)).transferResult?.status).toBe('started');
    run(500_000);
    expect(leader()).toBe('b');
  });

  it("a follower's wake brings the leader's heartbeats and lease back", () => {
    const { h, run, sentBetween } = cluster();
    h.elect('a');
    run(QUIESCE + 500_000);
    const t = h.now;
    h.absorb('b', h.get('b').wake(h.now));
    h.deliverAll();
    expect(sentBetween(t - 1, h.now).map((m) => `${m.from}->${m.to} ${m.type}`)).toContain('b->a wake');
    run(20_000);
    expect(h.get('a').isQuiet()).toBe(false);
    expect(h.get('a').leaseValidUntil(h.now)).not.toBeNull();
    // Idle again, it goes quiet again: b's wake counted as b's activity for quiesceAfterUs only.
    run(QUIESCE + 200_000);
    expect(h.get('a').isQuiet()).toBe(true);
  });

  it('a follower with recent activity of its own keeps the group awake', () => {
    const { h, run, sentBetween } = cluster();
    h.elect('a');
    for (let i = 0; i < 20; i++) {
      h.get('c').touch(h.now);
      run(50_000);
    }
    expect(h.get('a').isQuiet()).toBe(false);
    expect(sentBetween(h.now - 100_000, h.now).filter((m) => m.type === 'heartbeat').length).toBeGreaterThan(10);
  });

  it("the followers of a quiet leader whose node died elect another and go on (and do not, if they ignore liveness)", () => {
    for (const broken of [false, true]) {
      const { h, dead, run, leader } = cluster(broken ? { brokenForTesting: { quietIgnoresLiveness: true } } : {});
      h.elect('a');
      run(QUIESCE + 500_000);
      expect(h.get('b').isQuiet()).toBe(true);
      dead.add('a');
      run(10 * ELECTION);
      const next = leader();
      if (broken) {
        expect(next).toBeUndefined();
        continue;
      }
      expect(next === 'b' || next === 'c').toBe(true);
      h.propose(next!, [cmd('after')]);
      h.deliverAll();
      run(30_000);
      expect(h.appliedCommandIds(next === 'b' ? 'c' : 'b')).toEqual(['after']);
    }
  });

  it('a follower that restarts while the group is quiet wakes the leader and follows it again', () => {
    const { h, run, sentBetween } = cluster();
    h.elect('a');
    h.propose('a', [cmd('x')]);
    h.deliverAll();
    run(QUIESCE + 500_000);
    const a = h.get('a');
    const ballot = a.ballot();
    expect(a.isQuiet()).toBe(true);
    const old = h.get('b');
    const accepted = [0].map((slot) => ({ slot, ballot, value: old.chosenValue(slot)! }));
    const dead = new Set<string>();
    h.replicas.set('b', new Replica(baseConfig('b', ['a', 'b', 'c'], { heartbeatIntervalUs: HB, electionTimeoutUs: ELECTION, quiesceAfterUs: QUIESCE }), testRng(9), {
      durable: { promised: old.ballot(), accepted },
      nowUs: h.now,
      liveness: { isLive: (n) => !dead.has(n) },
    }));
    const t = h.now;
    run(4 * ELECTION);
    expect(sentBetween(t, h.now).some((m) => m.from === 'a' && m.type === 'heartbeat')).toBe(true);
    expect(a.isLeader()).toBe(true);
    expect(a.ballot()).toEqual(ballot);
    expect(h.get('b').leaderHint()).toBe('a');
  });

  it('needs the shell liveness to be configured', () => {
    expect(() => new Replica(baseConfig('a', ['a'], { quiesceAfterUs: 1_000 }), testRng())).toThrow(/liveness/);
  });
});
