import { describe, expect, it } from 'vitest';
import type { TxnBroken, TxnOutput } from './core-types.js';
import { SplitTxnCore } from './split-core.js';
import { Harness } from './core-harness.fixture.js';

const ref = (id: string, startTs = 1) => ({ id, startTs });

/** A ready leader where transaction `old` holds a read lock on 'a': a commit of the younger `young` writing 'a' parks behind it. */
function behindOldReader() {
  const h = new Harness();
  h.ready();
  h.send({ kind: 'read', txn: ref('old', 1), keys: ['a'], waitUs: 5_000_000 });
  const commits = () => h.log.filter((c) => (c.payload as { t: string }).t === 'commit').length;
  const youngCommit = { kind: 'commit' as const, txn: ref('young', 2), readKeys: [], writes: [{ key: 'a', value: 1 }], waitUs: 5_000_000 };
  return { h, commits, youngCommit };
}

describe('SplitTxnCore', () => {
  it('acknowledges a commit only after it is applied (chosen) and its timestamp is surely past (commit wait)', () => {
    const h = new Harness();
    h.ready();
    const c = h.send({ kind: 'commit', txn: ref('t1'), readKeys: [], writes: [{ key: 'a', value: 1 }], waitUs: 5_000_000 });
    expect(h.answer(c)).toBeUndefined();
    h.advance(2 * h.epsilon + 10);
    expect(h.answer(c)).toBeUndefined(); // past its commit wait, but not applied: not known chosen
    h.applyAll(false);
    const a = h.answer(c);
    expect(a).toMatchObject({ type: 'reply', body: { kind: 'committed' } }); // before this replica's apply is durable
    const ts = (a as { body: { ts: number } }).body.ts;
    expect(h.now().tt.earliest).toBeGreaterThan(ts);
  });

  it('the wake it asks for ends the commit wait even while ε grows with drift (no second timer)', () => {
    const h = new Harness();
    h.ready();
    const c = h.send({ kind: 'commit', txn: ref('t1'), readKeys: [], writes: [{ key: 'a', value: 1 }], waitUs: 5_000_000 });
    h.applyAll();
    const at = h.core.nextWakeMonoUs(h.now())!;
    const waited = at - h.mono;
    h.epsilon += Math.ceil((waited * 200) / 1_000_000); // ε grew at 200 ppm meanwhile
    h.advance(waited);
    expect(h.answer(c)).toMatchObject({ type: 'reply', body: { kind: 'committed' } });
  });

  it('a read of the acknowledged, applied but not yet durable write waits for it here (rule 8)', () => {
    const h = new Harness();
    h.ready();
    const c = h.send({ kind: 'commit', txn: ref('t1'), readKeys: [], writes: [{ key: 'a', value: 1 }], waitUs: 5_000_000 });
    const [cmd] = h.log.slice(h.slot);
    const w = h.core.apply({ slot: h.slot, commands: [cmd!], duplicates: [] }, h.now());
    h.slot++;
    h.drain();
    h.advance(2 * h.epsilon + 10);
    expect(h.answer(c)).toMatchObject({ type: 'reply', body: { kind: 'committed' } });
    const r = h.send({ kind: 'snapshot', keys: ['a'], mode: { strong: true }, waitUs: 5_000_000, soleSplit: true });
    expect(h.answer(r)).toBeUndefined(); // t_safe is durable: the read waits for the write
    h.persist(w.versions);
    expect(h.answer(r)).toMatchObject({ type: 'reply', body: { kind: 'values', values: [{ key: 'a', value: 1 }] } });
  });

  it('with noCommitWait the same commit is acknowledged before its timestamp is past (the variant has an effect)', () => {
    const h = new Harness({ noCommitWait: true });
    h.ready();
    const c = h.send({ kind: 'commit', txn: ref('t1'), readKeys: [], writes: [{ key: 'a', value: 1 }], waitUs: 5_000_000 });
    h.applyAll();
    expect(h.answer(c)).toMatchObject({ type: 'reply', body: { kind: 'committed' } });
  });

  it('a request given with deferPump leaves the other parked requests for pumpOwed', () => {
    const { h, commits, youngCommit } = behindOldReader();
    const c = h.send(youngCommit);
    expect(commits()).toBe(0); // the younger writer waits for the older reader's lock
    h.core.request(99, { kind: 'abort', txnId: 'old' }, h.now(), true);
    h.drain();
    expect(h.answer(99)).toMatchObject({ type: 'reply' }); // the request itself is handled at once
    expect(commits()).toBe(0); // the lock is free, but the waiter is not stepped yet
    h.core.pumpOwed(h.now());
    h.drain();
    expect(commits()).toBe(1);
    h.applyAll();
    h.advance(10_000);
    expect(h.answer(c)).toMatchObject({ type: 'reply', body: { kind: 'committed' } });
  });

  it('two copies of one commit parked behind a lock: only the first proposes, both answer its timestamp', () => {
    const { h, commits, youngCommit } = behindOldReader();
    const c1 = h.send(youngCommit);
    const c2 = h.send(youngCommit);
    h.send({ kind: 'abort', txnId: 'old' });
    expect(commits()).toBe(1);
    h.applyAll();
    h.advance(10_000);
    const [a1, a2] = [h.answer(c1), h.answer(c2)] as Array<{ body: { ts: number } }>;
    expect(a1).toMatchObject({ type: 'reply', body: { kind: 'committed' } });
    expect(a2!.body.ts).toBe(a1!.body.ts);
  });

  it('a retried commit with the same id is applied once and answers the same timestamp', () => {
    const h = new Harness();
    h.ready();
    const c1 = h.send({ kind: 'commit', txn: ref('t1'), readKeys: [], writes: [{ key: 'a', value: 1 }], waitUs: 5_000_000 });
    const c2 = h.send({ kind: 'commit', txn: ref('t1'), readKeys: [], writes: [{ key: 'a', value: 1 }], waitUs: 5_000_000 });
    h.applyAll();
    h.advance(10_000);
    const a1 = h.answer(c1) as { body: { ts: number } };
    const a2 = h.answer(c2) as { body: { ts: number } };
    expect(a1.body.ts).toBe(a2.body.ts);
    expect(h.log.filter((c) => (c.payload as { t: string }).t === 'commit')).toHaveLength(1);
    const c3 = h.send({ kind: 'commit', txn: ref('t1'), readKeys: [], writes: [{ key: 'a', value: 1 }], waitUs: 5_000_000 });
    expect(h.answer(c3)).toMatchObject({ body: { kind: 'committed', ts: a1.body.ts } });
  });

  it('a status lookup of an unknown transaction logs its abort, and a late commit with that id cannot win', () => {
    const h = new Harness();
    h.ready();
    const s = h.send({ kind: 'status', txnId: 'lost', waitUs: 1_000_000 });
    h.applyAll();
    expect(h.answer(s)).toMatchObject({ body: { kind: 'status', state: 'aborted' } });
    const c = h.send({ kind: 'commit', txn: ref('lost'), readKeys: [], writes: [{ key: 'a', value: 1 }], waitUs: 1_000_000 });
    h.applyAll();
    expect(h.answer(c)).toMatchObject({ type: 'error', error: { code: 'TXN_ABORTED' } });
    expect(h.versions.get('a')).toBeUndefined();
  });

  it('a commit whose read locks were lost (wounded) is refused', () => {
    const h = new Harness();
    h.ready();
    const r = h.send({ kind: 'read', txn: ref('young', 10), keys: ['a'], waitUs: 1_000_000 });
    expect(h.answer(r)).toMatchObject({ body: { kind: 'values' } });
    // An older transaction's write lock wounds the young reader.
    h.send({ kind: 'commit', txn: ref('old', 1), readKeys: [], writes: [{ key: 'a', value: 2 }], waitUs: 1_000_000 });
    const c = h.send({ kind: 'commit', txn: ref('young', 10), readKeys: ['a'], writes: [{ key: 'b', value: 1 }], waitUs: 1_000_000 });
    expect(h.answer(c)).toMatchObject({ type: 'error', error: { code: 'TXN_ABORTED' } });
  });

  it('refuses a timestamp its lease does not cover', () => {
    const h = new Harness();
    h.ready();
    h.view({ leading: { round: 1, node: 'n1' }, leaderHint: 'n1', leaseEndMonoUs: h.mono + 100, localReadOk: true });
    const c = h.send({ kind: 'commit', txn: ref('t1'), readKeys: [], writes: [{ key: 'a', value: 1 }], waitUs: 1_000_000 });
    expect(h.answer(c)).toMatchObject({ type: 'error', error: { code: 'TXN_ABORTED' } });
  });

  it('a new leadership aborts transactions that have not proposed their commit', () => {
    const h = new Harness();
    h.ready();
    const r = h.send({ kind: 'read', txn: ref('t1'), keys: ['a'], waitUs: 1_000_000 });
    expect(h.answer(r)).toBeDefined();
    h.lead(2);
    h.applyAll();
    const c = h.send({ kind: 'commit', txn: ref('t1'), epoch: '1.n1', readKeys: ['a'], writes: [{ key: 'a', value: 1 }], waitUs: 1_000_000 });
    expect(h.answer(c)).toMatchObject({ type: 'error', error: { code: 'TXN_ABORTED' } });
  });

  it('a strong read at the leader runs at now.latest and waits for its own pending commit below it', () => {
    const h = new Harness();
    h.ready();
    const c = h.send({ kind: 'commit', txn: ref('t1'), readKeys: [], writes: [{ key: 'a', value: 1 }], waitUs: 5_000_000 });
    h.advance(3 * h.epsilon); // the commit's ts is now below now.latest, but it is not applied yet
    const r = h.send({ kind: 'snapshot', keys: ['a'], mode: { strong: true }, waitUs: 5_000_000 });
    h.advance(3 * h.epsilon);
    expect(h.answer(r)).toBeUndefined();
    h.applyAll();
    h.advance(3 * h.epsilon);
    expect(h.answer(c)).toMatchObject({ body: { kind: 'committed' } });
    expect(h.answer(r)).toMatchObject({ body: { kind: 'values', values: [{ key: 'a', value: 1 }] } });
  });

  it('an idle leader closes timestamps without a log entry; a follower uses one only once applied up to its index', () => {
    const h = new Harness();
    h.ready();
    const before = h.log.length;
    h.advance(60_000);
    h.advance(60_000);
    expect(h.log.length).toBe(before);
    const closed = h.outputs.filter((o) => o.type === 'closed');
    expect(closed.length).toBeGreaterThan(0);

    const f = new Harness();
    f.view({ leading: null, leaderHint: 'n1', leaseEndMonoUs: null, localReadOk: false });
    const c = (closed.at(-1) as Extract<TxnOutput, { type: 'closed' }>).closed;
    f.core.closedReceived(c, f.now());
    expect(f.core.tSafe).toBe(0); // not applied up to its index yet
    f.log.push(...h.log);
    f.applyAll();
    expect(f.core.tSafe).toBe(c.ts);
  });

  it('a parked read whose timestamp the GC horizon passed while it waited is refused SNAPSHOT_TOO_OLD; the reads parked with it are served', () => {
    const h = new Harness();
    h.ready();
    h.advance(60_000);
    h.advance(60_000);
    const c = (h.outputs.filter((o) => o.type === 'closed').at(-1) as Extract<TxnOutput, { type: 'closed' }>).closed;

    const f = new Harness();
    f.view({ leading: null, leaderHint: 'n1', leaseEndMonoUs: null, localReadOk: false });
    f.versions.set('a', [{ ts: 1_000, value: 'kept' }]);
    // Both park: nothing is applied here yet, so t_safe is below both timestamps.
    const early = f.send({ kind: 'snapshot', keys: ['a'], mode: { ts: c.ts - 2_000 }, waitUs: 5_000_000 });
    const late = f.send({ kind: 'snapshot', keys: ['a'], mode: { ts: c.ts - 1_000 }, waitUs: 5_000_000 });
    f.advance(c.ts - f.now().tt.earliest + 10_000); // both timestamps surely past here
    expect(f.answer(early)).toBeUndefined();
    expect(f.answer(late)).toBeUndefined();
    // A GC pass starts while they wait: its horizon passes the earlier one.
    f.gcHorizon = c.ts - 1_500;
    f.core.closedReceived(c, f.now());
    f.log.push(...h.log);
    f.applyAll();
    expect(f.core.tSafe).toBe(c.ts);
    expect(f.answer(early)).toMatchObject({ type: 'error', error: { code: 'SNAPSHOT_TOO_OLD', hint: { horizon: c.ts - 1_500 } } });
    expect(f.answer(late)).toMatchObject({ type: 'reply', body: { kind: 'values', values: [{ key: 'a', value: 'kept' }], ts: c.ts - 1_000 } });
  });

  it('parks at most maxParkedRequests requests', () => {
    const h = new Harness();
    h.core = new SplitTxnCore({ splitId: 's1', range: { start: '', end: '' }, self: 'n1', reader: { get: () => undefined, scan: () => [], gcHorizon: () => 0 }, commandPrefix: 'p', limits: { maxParkedRequests: 2 } });
    h.view({ leading: null, leaderHint: null, leaseEndMonoUs: null, localReadOk: false });
    const ids = [1, 2, 3].map(() => h.send({ kind: 'snapshot', keys: ['a'], mode: { ts: 999_999_999 }, waitUs: 1_000_000 }));
    expect(h.answer(ids[2]!)).toMatchObject({ type: 'error', error: { code: 'UNAVAILABLE' } });
  });
});

describe('the oracle observes applied timestamps', () => {
  /**
   * A new leader proposes its barrier before it has applied an earlier leader's closed entry far
   * above its own clock (a read beyond that leader's lease, with a large ε). Its next commit must
   * still go above that entry, or the apply-time rule refuses it.
   */
  const run = (broken: TxnBroken) => {
    const h = new Harness(broken);
    h.lead(2);
    // An earlier leader's closed entry, chosen before the barrier, applied only now: 1 s ahead.
    const barrier = h.log.pop()!;
    h.log.push({ id: 'old:1', payload: { t: 'closed', ts: h.trueUs + 1_000_000 } }, barrier);
    h.applyAll();
    const c = h.send({ kind: 'commit', txn: ref('t1'), readKeys: [], writes: [{ key: 'a', value: 1 }], waitUs: 5_000_000 });
    h.applyAll();
    h.advance(2_000_000);
    return h.answer(c);
  };
  it('commits above an entry applied after the barrier was proposed', () => {
    expect(run({})).toMatchObject({ type: 'reply', body: { kind: 'committed' } });
  });
  it('without it the commit is refused at apply (teeth)', () => {
    expect(run({ oracleIgnoresApplied: true })).toMatchObject({ type: 'error', error: { code: 'TXN_ABORTED' } });
  });
});

describe('two-phase commit across splits', () => {
  /** Coordinator split `sa` and participant `sb`, both led, clocks `skewUs` apart (sb ahead). */
  function pair(broken: TxnBroken = {}, skewUs = 0) {
    const c = new Harness(broken, 'sa');
    const p = new Harness(broken, 'sb');
    p.trueUs += skewUs;
    p.mono += skewUs;
    c.peers.set('sb', p);
    p.peers.set('sa', c);
    c.ready();
    p.ready();
    const both = (us: number) => {
      for (let i = 0; i < us / 1_000; i++) {
        c.advance(1_000);
        p.advance(1_000);
        c.applyAll();
        p.applyAll();
        c.deliver();
        p.deliver();
      }
    };
    return { c, p, both };
  }

  it('commits at s ≥ every prepare timestamp, applies at s on both splits, and releases the participant', () => {
    const { c, p, both } = pair({}, 50_000);
    const prep = p.send({ kind: 'prepare', txn: ref('x1'), coordinator: 'sa', readKeys: [], writes: [{ key: 'b', value: 2 }], waitUs: 5_000_000 });
    const com = c.send({ kind: 'commit', txn: ref('x1'), readKeys: [], writes: [{ key: 'a', value: 1 }], participants: ['sb'], waitUs: 5_000_000 });
    p.applyAll();
    const prepTs = (p.answer(prep) as { body: { ts: number } }).body.ts;
    // While prepared, the participant's t_safe stays below the prepare timestamp.
    expect(p.core.tSafe).toBeLessThan(prepTs);
    expect(p.core.twoPhaseState().prepared).toHaveLength(1);
    both(400_000);
    const a = c.answer(com) as { type: string; body: { ts: number } };
    expect(a).toMatchObject({ type: 'reply', body: { kind: 'committed' } });
    expect(a.body.ts).toBeGreaterThanOrEqual(prepTs);
    expect(p.versions.get('b')).toEqual([{ ts: a.body.ts, value: 2 }]);
    expect(c.versions.get('a')).toEqual([{ ts: a.body.ts, value: 1 }]);
    expect(p.core.twoPhaseState()).toMatchObject({ prepared: [], locksHeld: 0 });
    expect(c.core.twoPhaseState()).toMatchObject({ prepared: [], locksHeld: 0, coordinating: 0 });
  });

  it('with commitBelowPrepare the commit timestamp can fall below a prepare timestamp (the variant has an effect)', () => {
    const { c, p, both } = pair({ commitBelowPrepare: true }, 50_000);
    const prep = p.send({ kind: 'prepare', txn: ref('x1'), coordinator: 'sa', readKeys: [], writes: [{ key: 'b', value: 2 }], waitUs: 5_000_000 });
    const com = c.send({ kind: 'commit', txn: ref('x1'), readKeys: [], writes: [{ key: 'a', value: 1 }], participants: ['sb'], waitUs: 5_000_000 });
    p.applyAll();
    const prepTs = (p.answer(prep) as { body: { ts: number } }).body.ts;
    both(400_000);
    expect((c.answer(com) as { body: { ts: number } }).body.ts).toBeLessThan(prepTs);
  });

  it('a participant vote with no commit request is aborted after the bound, logged, and the participant drops its prepare', () => {
    const { c, p, both } = pair();
    p.send({ kind: 'prepare', txn: ref('lost'), coordinator: 'sa', readKeys: [], writes: [{ key: 'b', value: 2 }], waitUs: 5_000_000 });
    both(6_000_000);
    expect(c.core.outcomeOf('lost')).toMatchObject({ committed: false });
    expect(p.core.outcomeOf('lost')).toMatchObject({ committed: false });
    expect(p.core.twoPhaseState()).toMatchObject({ prepared: [], locksHeld: 0 });
    // A late commit request with that id cannot win.
    const late = c.send({ kind: 'commit', txn: ref('lost'), readKeys: [], writes: [{ key: 'a', value: 1 }], participants: ['sb'], waitUs: 1_000_000 });
    both(10_000);
    expect(c.answer(late)).toMatchObject({ type: 'error', error: { code: 'TXN_ABORTED' } });
  });

  it('crossed transactions (each coordinated where the other participates): the older wounds the younger coordinator and commits well inside the bound', () => {
    const { c, p, both } = pair();
    const young = p.send({ kind: 'commit', txn: ref('young', 20), readKeys: [], writes: [{ key: 'b', value: 'y' }], participants: ['sa'], waitUs: 5_000_000 });
    const old = c.send({ kind: 'commit', txn: ref('old', 10), readKeys: [], writes: [{ key: 'a', value: 'o' }], participants: ['sb'], waitUs: 5_000_000 });
    p.send({ kind: 'prepare', txn: ref('old', 10), coordinator: 'sa', readKeys: [], writes: [{ key: 'b', value: 'o' }], waitUs: 5_000_000 });
    c.send({ kind: 'prepare', txn: ref('young', 20), coordinator: 'sb', readKeys: [], writes: [{ key: 'a', value: 'y' }], waitUs: 5_000_000 });
    both(600_000);
    expect(c.answer(old)).toMatchObject({ body: { kind: 'committed' } });
    expect(p.answer(young)).toMatchObject({ type: 'error', error: { code: 'TXN_ABORTED' } });
    both(1_000_000);
    expect(c.core.twoPhaseState()).toMatchObject({ prepared: [], locksHeld: 0, coordinating: 0 });
    expect(p.core.twoPhaseState()).toMatchObject({ prepared: [], locksHeld: 0, coordinating: 0 });
    expect(p.versions.get('b')!.map((v) => v.value)).toEqual(['o']);
  });

  it('a new participant leader re-takes the locks of a prepared transaction and asks for the decision', () => {
    const { c, p, both } = pair();
    p.send({ kind: 'prepare', txn: ref('x2'), coordinator: 'sa', readKeys: [], writes: [{ key: 'b', value: 2 }], waitUs: 5_000_000 });
    const com = c.send({ kind: 'commit', txn: ref('x2'), readKeys: [], writes: [], participants: ['sb'], waitUs: 5_000_000 });
    p.applyAll();
    p.sent.length = 0; // the first vote is lost
    p.lead(2); // a new leadership at the participant
    p.applyAll();
    expect(p.core.twoPhaseState().locksHeld).toBe(1);
    // A younger writer must wait for the prepared transaction's lock.
    const w = p.send({ kind: 'commit', txn: ref('y', 99), readKeys: [], writes: [{ key: 'b', value: 3 }], waitUs: 5_000_000 });
    expect(p.answer(w)).toBeUndefined();
    both(1_000_000);
    expect(c.answer(com)).toMatchObject({ body: { kind: 'committed' } });
    expect(p.answer(w)).toMatchObject({ body: { kind: 'committed' } });
    const b = p.versions.get('b')!.map((v) => v.value);
    expect(b).toEqual([2, 3]);
  });
});

describe('closed timestamps on a grid', () => {
  it('leaders that became ready at different times send their closed timestamps at the same instants', () => {
    const sentAt = (offsetUs: number): number[] => {
      const h = new Harness();
      h.advance(offsetUs);
      h.ready();
      const times: number[] = [];
      for (let i = 0; i < 400; i++) {
        const before = h.outputs.length;
        h.advance(1_000);
        if (h.outputs.slice(before).some((o) => o.type === 'closed')) times.push(h.now().monoUs);
      }
      return times;
    };
    const a = sentAt(3_000);
    const b = sentAt(17_000);
    const inBoth = (t: number) => t >= Math.max(a[0]!, b[0]!) + 100_000 && t <= Math.min(a.at(-1)!, b.at(-1)!);
    expect(a.filter(inBoth).length).toBeGreaterThanOrEqual(4);
    expect(b.filter(inBoth)).toEqual(a.filter(inBoth));
  });
});

describe('quiet followers', () => {
  it('a follower with nothing waiting is quiet; a parked snapshot read or leadership ends it', () => {
    const f = new Harness();
    f.view({ leading: null, leaderHint: 'n1', leaseEndMonoUs: null, localReadOk: false });
    expect(f.core.quietFollower()).toBe(true);
    f.send({ kind: 'snapshot', keys: ['a'], mode: { ts: Math.ceil(f.now().tt.latest) + 1_000_000 }, waitUs: 5_000_000 });
    expect(f.core.quietFollower()).toBe(false); // parked until t_safe passes its timestamp
    const l = new Harness();
    l.ready();
    expect(l.core.quietFollower()).toBe(false);
  });
});

describe('rule 9a: a strong read of one split at the leader\'s last commit', () => {
  const WAIT = 5_000_000;
  const strong = (keys: string[], soleSplit: boolean) => ({ kind: 'snapshot' as const, keys, mode: { strong: true as const }, waitUs: WAIT, ...(soleSplit ? { soleSplit } : {}) });
  const valuesOf = (o: TxnOutput | undefined) => (o?.type === 'reply' && o.body.kind === 'values' ? o.body : undefined);

  /** A ready leader with one write at `a`, acknowledged (past its commit wait). */
  function idle(broken: TxnBroken = {}): { h: Harness; commitTs: number } {
    const h = new Harness(broken);
    h.ready();
    const c = h.send({ kind: 'commit', txn: ref('t1'), readKeys: [], writes: [{ key: 'a', value: 1 }], waitUs: WAIT });
    h.applyAll();
    h.advance(2 * h.epsilon + 10);
    const a = h.answer(c) as { body: { ts: number } };
    return { h, commitTs: a.body.ts };
  }

  it('an idle leader answers a soleSplit strong read at once, below now.earliest and at or above its last commit', () => {
    const { h, commitTs } = idle();
    h.advance(50_000);
    const before = h.core.statsCounters.lastCommitReads;
    const r = h.send(strong(['a'], true));
    const v = valuesOf(h.answer(r)); // answered in the same step: no park
    expect(v).toMatchObject({ values: [{ key: 'a', value: 1 }] });
    expect(v!.ts).toBeLessThan(h.now().tt.earliest);
    expect(v!.ts).toBeGreaterThanOrEqual(commitTs);
    expect(h.core.statsCounters.lastCommitReads).toBe(before + 1);
  });

  it('a strong read that is not of one split alone still runs at now.latest and waits until it is past (rule 9)', () => {
    const { h } = idle();
    h.advance(50_000);
    const latest = h.now().tt.latest;
    const r = h.send(strong(['a'], false));
    expect(h.answer(r)).toBeUndefined();
    h.advance(h.epsilon);
    expect(h.answer(r)).toBeUndefined();
    h.advance(h.epsilon + 10);
    const v = valuesOf(h.answer(r));
    expect(v).toMatchObject({ values: [{ key: 'a', value: 1 }] });
    expect(v!.ts).toBeGreaterThanOrEqual(latest);
  });

  it('with a write of its own pending, a soleSplit read waits for it and includes it', () => {
    const { h } = idle();
    h.advance(50_000);
    const c = h.send({ kind: 'commit', txn: ref('t2'), readKeys: [], writes: [{ key: 'a', value: 2 }], waitUs: WAIT });
    const r = h.send(strong(['a'], true));
    h.advance(3 * h.epsilon);
    expect(h.answer(r)).toBeUndefined(); // the pending commit is not durable yet
    h.applyAll();
    h.advance(3 * h.epsilon);
    const ts = (h.answer(c) as { body: { ts: number } }).body.ts;
    const v = valuesOf(h.answer(r));
    expect(v).toMatchObject({ values: [{ key: 'a', value: 2 }] });
    expect(v!.ts).toBeGreaterThanOrEqual(ts);
  });

  it('lastCommitReadSkipsPending answers at once, without the pending write (the variant has an effect)', () => {
    const { h } = idle({ lastCommitReadSkipsPending: true });
    h.advance(50_000);
    h.send({ kind: 'commit', txn: ref('t2'), readKeys: [], writes: [{ key: 'a', value: 2 }], waitUs: WAIT });
    const r = h.send(strong(['a'], true));
    expect(valuesOf(h.answer(r))).toMatchObject({ values: [{ key: 'a', value: 1 }] });
  });

  it('lastCommitReadAcrossSplits answers a read that is not soleSplit at once (the variant has an effect)', () => {
    const { h } = idle({ lastCommitReadAcrossSplits: true });
    h.advance(50_000);
    const r = h.send(strong(['a'], false));
    expect(valuesOf(h.answer(r))?.ts).toBeLessThan(h.now().tt.earliest);
  });

  /** A ready leader that is a 2PC participant with one prepared transaction (its coordinator silent). */
  function prepared(broken: TxnBroken = {}): Harness {
    const { h } = idle(broken);
    h.advance(50_000);
    h.send({ kind: 'prepare', txn: ref('x1'), coordinator: 'sa', readKeys: [], writes: [{ key: 'b', value: 2 }], waitUs: WAIT });
    h.applyAll();
    expect(h.core.twoPhaseState().prepared).toHaveLength(1);
    // now.latest passes the prepare timestamp (a strong read at now.latest must wait for the
    // decision), now.earliest does not yet.
    h.advance(h.epsilon);
    const prepTs = h.core.twoPhaseState().prepared[0]!.ts;
    expect(h.now().tt.latest).toBeGreaterThan(prepTs);
    expect(h.now().tt.earliest).toBeLessThan(prepTs);
    return h;
  }

  it('with a prepared transaction a soleSplit read falls back to now.latest (and waits for the decision, rule 17)', () => {
    const h = prepared();
    const before = h.core.statsCounters.lastCommitReads;
    const r = h.send(strong(['a'], true));
    h.advance(10 * h.epsilon);
    expect(h.answer(r)).toBeUndefined();
    expect(h.core.statsCounters.lastCommitReads).toBe(before);
  });

  it('lastCommitReadIgnoresPrepared answers at once below the prepare timestamp (the variant has an effect)', () => {
    const h = prepared({ lastCommitReadIgnoresPrepared: true });
    const prepTs = h.core.twoPhaseState().prepared[0]!.ts;
    const r = h.send(strong(['b'], true));
    const v = valuesOf(h.answer(r));
    expect(v?.ts).toBeLessThan(prepTs);
  });

  it('not at a follower, nor at a leader that is not ready', () => {
    const { h } = idle();
    h.view({ leading: null, leaderHint: 'n2', leaseEndMonoUs: null, localReadOk: false });
    const r = h.send(strong(['a'], true));
    expect(h.answer(r)).toBeUndefined();
    const fresh = new Harness();
    fresh.lead(); // barrier proposed, not applied
    const r2 = fresh.send(strong(['a'], true));
    expect(fresh.answer(r2)).toBeUndefined();
    expect(fresh.core.statsCounters.lastCommitReads).toBe(0);
    expect(h.core.statsCounters.lastCommitReads).toBe(0);
  });
});
