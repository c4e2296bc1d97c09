import { describe, expect, it } from 'vitest';
import type { TxnBroken, TxnOutput } from './core-types.js';
import type { ChildInit } from './cut.js';
import { Harness } from './core-harness.fixture.js';

// docs/transactions.md, "Cutting a split" (rules 19-22).
const ref = (id: string, startTs = 1) => ({ id, startTs });
const WAIT = 5_000_000;

/** A leader of [a, z) at generation 1 holding a..y, one write per key. */
function parent(broken: TxnBroken = {}): Harness {
  const h = new Harness(broken, 'p', { range: { start: 'a', end: 'z' }, generation: 1 });
  h.ready();
  for (const k of ['b', 'd', 'm', 'q', 'x']) {
    h.send({ kind: 'commit', txn: ref(`w-${k}`), readKeys: [], writes: [{ key: k, value: `old-${k}` }], waitUs: WAIT });
    h.applyAll();
  }
  h.advance(10_000);
  return h;
}

function cutAt(h: Harness, atKey: string | undefined, child = 'c', generation = 2): number {
  return h.send({ kind: 'cut', child, generation, ...(atKey !== undefined ? { atKey } : {}), waitUs: WAIT });
}

const errorOf = (o: TxnOutput | undefined) => (o?.type === 'error' ? o.error : undefined);
const bodyOf = (o: TxnOutput | undefined) => (o?.type === 'reply' ? o.body : undefined);

/** The child core on the same store, built from the state the cut entry returned. */
function childOf(h: Harness, init: ChildInit): Harness {
  const child = new Harness({}, init.splitId, { range: init.range, generation: init.generation, resume: { header: init.header, appliedIndex: 0, outcomes: [] }, floorTs: init.cutTs }, h);
  child.trueUs = h.trueUs;
  child.mono = h.mono;
  return child;
}

describe('cutting a split', () => {
  it('shrinks the range at apply, returns the child state with t_safe = T_cut, and the child serves the upper half below T_cut', () => {
    const h = parent();
    const c = cutAt(h, 'k');
    h.applyAll();
    const done = bodyOf(h.answer(c));
    expect(done).toMatchObject({ kind: 'cut', child: 'c', generation: 2, atKey: 'k' });
    const cutTs = (done as { cutTs: number }).cutTs;
    expect(h.children).toEqual([expect.objectContaining({ splitId: 'c', range: { start: 'k', end: 'z' }, generation: 2, cutTs })]);
    // T_cut is above every timestamp applied or served before it.
    for (const vs of h.versions.values()) for (const v of vs) expect(v.ts).toBeLessThan(cutTs);
    expect(h.core.header()).toMatchObject({ range: { start: 'a', end: 'k' }, generation: 2, cuts: [{ child: 'c', atKey: 'k', ts: cutTs }] });

    // The parent refuses the upper half with its current entry.
    const r = h.send({ kind: 'snapshot', keys: ['m'], mode: { ts: cutTs - 1 }, waitUs: WAIT });
    expect(errorOf(h.answer(r))).toEqual(expect.objectContaining({ code: 'KEY_OUT_OF_RANGE', hint: { split: 'p', start: 'a', end: 'k', generation: 2 } }));

    // The child: t_safe = T_cut at once, the old value of an upper key below T_cut, its own timestamps above T_cut.
    const child = childOf(h, h.children[0]!);
    expect(child.core.tSafe).toBe(cutTs);
    const cr = child.send({ kind: 'snapshot', keys: ['m'], mode: { ts: cutTs - 1 }, waitUs: WAIT });
    child.advance(10_000); // past the read timestamp (no version is shown before TT.after(ts))
    expect(bodyOf(child.answer(cr))).toMatchObject({ kind: 'values', values: [{ key: 'm', value: 'old-m' }] });
    const lower = child.send({ kind: 'snapshot', keys: ['d'], mode: { ts: cutTs - 1 }, waitUs: WAIT });
    expect(errorOf(child.answer(lower))?.code).toBe('KEY_OUT_OF_RANGE');
    child.trueUs = h.trueUs - 1_000_000; // a child leader whose clock is behind still assigns above T_cut
    child.ready();
    // A strong read of the child alone (rule 9a) runs at or above its last commit, which for a
    // child is T_cut (the parent's writes of its keys): not at its own now.earliest, a second
    // below the parent's writes (fails when the child's header starts with lastCommitTs 0).
    const sole = child.send({ kind: 'snapshot', keys: ['m'], mode: { strong: true }, waitUs: WAIT, soleSplit: true });
    child.advance(2_000_000);
    const soleBody = bodyOf(child.answer(sole)) as { ts: number; values: unknown[] };
    expect(soleBody.ts).toBeGreaterThanOrEqual(cutTs);
    expect(soleBody.values).toMatchObject([{ key: 'm', value: 'old-m' }]);
    const w = child.send({ kind: 'commit', txn: ref('cw'), readKeys: [], writes: [{ key: 'm', value: 'new' }], waitUs: WAIT });
    child.applyAll();
    child.advance(2_000_000);
    expect((bodyOf(child.answer(w)) as { ts: number }).ts).toBeGreaterThan(cutTs);
  });

  it('with serveCutKeys the parent still serves the upper half (the variant has an effect)', () => {
    const h = parent({ serveCutKeys: true });
    cutAt(h, 'k');
    h.applyAll();
    const r = h.send({ kind: 'snapshot', keys: ['m'], mode: { ts: 2 }, waitUs: WAIT });
    expect(errorOf(h.answer(r))).toBeUndefined();
  });

  it('is idempotent: a repeated cut into the same child answers how it was cut, with one cut entry', () => {
    const h = parent();
    const a = cutAt(h, 'k');
    const b = cutAt(h, 'k');
    h.applyAll();
    const again = cutAt(h, undefined);
    expect(bodyOf(h.answer(a))).toEqual(bodyOf(h.answer(b)));
    expect(bodyOf(h.answer(again))).toEqual(bodyOf(h.answer(a)));
    expect(h.log.filter((c) => (c.payload as { t: string }).t === 'cut')).toHaveLength(1);
  });

  it('refuses a key not strictly inside the range and a generation not above its own', () => {
    const h = parent();
    for (const k of ['a', 'z', 'zz', '0']) expect(errorOf(h.answer(cutAt(h, k)))?.code).toBe('INVALID_ARGUMENT');
    expect(errorOf(h.answer(cutAt(h, 'k', 'c', 1)))?.code).toBe('INVALID_ARGUMENT');
    expect(h.log.filter((c) => (c.payload as { t: string }).t === 'cut')).toHaveLength(0);
  });

  it('cuts at the load median when no key is given, else at the median stored key', () => {
    const h = parent();
    // The sample: the five writes of parent() and three reads each of r..v; its median is t.
    for (let i = 0; i < 3; i++) for (const k of ['r', 's', 't', 'u', 'v']) h.send({ kind: 'snapshot', keys: [k], mode: { ts: 2 }, waitUs: WAIT });
    expect(h.core.loadMedianKey()).toBe('t');
    const c = cutAt(h, undefined);
    h.applyAll();
    expect(bodyOf(h.answer(c))).toMatchObject({ atKey: 't' });

    const cold = new Harness({}, 'p2', { range: { start: 'a', end: 'z' }, generation: 1 });
    for (const k of ['b', 'd', 'm', 'q', 'x']) cold.versions.set(k, [{ ts: 5, value: 1 }]);
    cold.ready();
    const c2 = cutAt(cold, undefined);
    cold.applyAll();
    expect(bodyOf(cold.answer(c2))).toMatchObject({ atKey: 'm' });
  });

  it('refuses the cut (UNAVAILABLE, with the reason) while a prepared transaction is in the split', () => {
    const h = parent();
    h.send({ kind: 'prepare', txn: ref('x'), coordinator: 'other', readKeys: [], writes: [{ key: 'd', value: 1 }], waitUs: WAIT });
    h.applyAll();
    const c = cutAt(h, 'k');
    expect(errorOf(h.answer(c))).toMatchObject({ code: 'UNAVAILABLE', hint: { reason: expect.stringContaining('prepared') } });
    expect(h.log.filter((c) => (c.payload as { t: string }).t === 'cut')).toHaveLength(0);
  });

  it('a prepare proposed in an earlier term that never reached the log does not refuse cuts in a later term', () => {
    const h = parent();
    h.send({ kind: 'prepare', txn: ref('x'), coordinator: 'other', readKeys: [], writes: [{ key: 'd', value: 1 }], waitUs: WAIT });
    // The leader loses its leadership before the prepare is chosen, and the entry is lost.
    expect((h.log.pop()!.payload as { t: string }).t).toBe('prepare');
    h.view({ leading: null, leaderHint: 'n2', leaseEndMonoUs: null, localReadOk: false });
    h.advance(1_000_000);
    h.lead(2);
    h.applyAll();
    const c = cutAt(h, 'k');
    expect(errorOf(h.answer(c))).toBeUndefined();
    h.applyAll();
    expect(bodyOf(h.answer(c))).toMatchObject({ kind: 'cut', atKey: 'k' });
  });

  it('a cut entry that applies over a prepared record is a no-op on every replica, and its waiter hears why', () => {
    const run = (broken: TxnBroken) => {
      const h = parent(broken);
      const c = cutAt(h, 'k');
      const cutEntry = h.log.pop()!;
      // A prepare lands in the log before the cut (proposed by the leader before it, or by an earlier leader).
      h.send({ kind: 'prepare', txn: ref('x'), coordinator: 'other', readKeys: [], writes: [{ key: 'd', value: 1 }], waitUs: WAIT });
      h.log.push(cutEntry);
      h.applyAll();
      return { h, answer: h.answer(c) };
    };
    const { h, answer } = run({});
    expect(errorOf(answer)).toMatchObject({ code: 'UNAVAILABLE', hint: { reason: expect.stringContaining('prepared') } });
    expect(h.children).toHaveLength(0);
    expect(h.core.header().range).toBeUndefined();
    expect(h.core.twoPhaseState().prepared).toHaveLength(1);
    // The variant that ignores prepared records cuts away a prepared write (the rule has an effect).
    expect(run({ cutIgnoresPrepared: true }).h.children).toHaveLength(1);
  });

  it('a commit of an upper key that lands after the cut is refused at apply with KEY_OUT_OF_RANGE and writes nothing', () => {
    const h = parent();
    const w = h.send({ kind: 'commit', txn: ref('late'), readKeys: [], writes: [{ key: 'm', value: 'late' }], waitUs: WAIT });
    const commitEntry = h.log.pop()!;
    const c = cutAt(h, 'k');
    h.log.push(commitEntry); // the commit reaches the log after the cut entry
    h.applyAll();
    h.advance(10_000);
    expect(bodyOf(h.answer(c))).toMatchObject({ kind: 'cut' });
    expect(errorOf(h.answer(w))).toMatchObject({ code: 'KEY_OUT_OF_RANGE', hint: { split: 'p', end: 'k', generation: 2 } });
    expect(h.versions.get('m')!.map((v) => v.value)).toEqual(['old-m']);
    expect(h.core.outcomeOf('late')).toMatchObject({ committed: false });
  });

  it('a transaction holding a read lock in the upper half cannot commit once the cut is proposed, nor after it applies', () => {
    const run = (broken: TxnBroken) => {
      const h = parent(broken);
      const r = h.send({ kind: 'read', txn: ref('t1'), keys: ['d', 'm'], waitUs: WAIT });
      const epoch = (bodyOf(h.answer(r)) as { epoch: string }).epoch;
      cutAt(h, 'k');
      // Before the cut applies: the writes are in the lower half, the reads span both.
      const c = h.send({ kind: 'commit', txn: ref('t1'), epoch, readKeys: ['d', 'm'], writes: [{ key: 'd', value: 'from-m' }], waitUs: WAIT });
      h.applyAll();
      h.advance(10_000);
      return h.answer(c);
    };
    // Refused: its read of m is at or above the cut key (UNAVAILABLE while the cut is pending; TXN_ABORTED once its locks went).
    expect(['TXN_ABORTED', 'UNAVAILABLE']).toContain(errorOf(run({}))?.code);
    // Without the rule the commit lands above T_cut on a read the child no longer protects.
    expect(bodyOf(run({ cutKeepsUpperLocks: true }))).toMatchObject({ kind: 'committed' });

    const h = parent();
    const r = h.send({ kind: 'read', txn: ref('t2'), keys: ['d', 'm'], waitUs: WAIT });
    const epoch = (bodyOf(h.answer(r)) as { epoch: string }).epoch;
    cutAt(h, 'k');
    h.applyAll();
    const c = h.send({ kind: 'commit', txn: ref('t2'), epoch, readKeys: ['d', 'm'], writes: [{ key: 'd', value: 1 }], waitUs: WAIT });
    expect(errorOf(h.answer(c))?.code).toBe('KEY_OUT_OF_RANGE');
  });

  it('while its cut is pending the leader closes timestamps below T_cut, so no follower serves the upper half at or above it', () => {
    const run = (broken: TxnBroken) => {
      const h = parent(broken);
      const c = cutAt(h, 'k');
      h.advance(200_000); // the cut is proposed, not applied: closed timestamps go out meanwhile
      const closed = h.outputs.filter((o): o is Extract<TxnOutput, { type: 'closed' }> => o.type === 'closed');
      return { h, c, maxClosed: Math.max(...closed.map((o) => o.closed.ts)) };
    };
    const { h, maxClosed } = run({});
    const cutTs = (h.log.at(-1)!.payload as { ts: number }).ts;
    expect(maxClosed).toBeLessThan(cutTs);
    // A strong read of an upper key at the leader waits for the cut, then is refused.
    const r = h.send({ kind: 'snapshot', keys: ['m'], mode: { strong: true }, waitUs: WAIT });
    h.advance(10_000);
    expect(h.answer(r)).toBeUndefined();
    h.applyAll();
    h.advance(10_000);
    expect(errorOf(h.answer(r))?.code).toBe('KEY_OUT_OF_RANGE');
    expect(run({ cutNotPending: true }).maxClosed).toBeGreaterThanOrEqual(cutTs);
  });

  it('a cut entry whose timestamp is not above every applied one (a late entry) is a no-op', () => {
    const h = parent();
    const c = cutAt(h, 'k');
    const cutEntry = h.log.pop()!;
    h.send({ kind: 'commit', txn: ref('after'), readKeys: [], writes: [{ key: 'd', value: 'after' }], waitUs: WAIT });
    h.log.push(cutEntry);
    h.applyAll();
    expect(errorOf(h.answer(c))).toMatchObject({ code: 'UNAVAILABLE', hint: { reason: expect.stringContaining('not above') } });
    expect(h.children).toHaveLength(0);
    expect(h.core.entry()).toMatchObject({ end: 'z', generation: 1 });
  });

  it('a core resumed from the header after the cut keeps the new range, generation and the idempotent answer', () => {
    const h = parent();
    const c = cutAt(h, 'k');
    h.applyAll();
    const before = bodyOf(h.answer(c));
    const again = new Harness({}, 'p', { range: { start: 'a', end: 'z' }, generation: 1, resume: { header: h.core.header(), appliedIndex: h.slot, outcomes: [] } }, h);
    again.ready();
    expect(again.core.entry()).toEqual({ split: 'p', start: 'a', end: 'k', generation: 2 });
    expect(bodyOf(again.answer(cutAt(again, 'k')))).toEqual(before);
    expect(errorOf(again.answer(again.send({ kind: 'read', txn: ref('t'), keys: ['m'], waitUs: WAIT })))?.code).toBe('KEY_OUT_OF_RANGE');
  });
});
