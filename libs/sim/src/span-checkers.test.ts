import { describe, expect, it } from 'vitest';
import {
  ackedAppliedOnce,
  atomicCommit,
  bankConserved,
  checkSpanHistory,
  realTimeOrder,
  snapshotExact,
  strictSerializability,
  tSafeNotAhead,
  twoPhaseLiveness,
} from './span/checkers.js';
import { emptyHistory, type GroundCommit, type RoRecord, type RwRecord, type SpanHistory } from './span/history.js';
import { SpanRecorder } from './span/recorder.js';

/**
 * Synthetic histories for each span checker: a correct history passes every checker, and one
 * deliberate defect per case makes the named checker fail.
 */

const commit = (txn: string, split: string, ts: number, slot: number, writes: Array<[string, unknown]>): GroundCommit => ({
  txn,
  split,
  ts,
  slot,
  writes: writes.map(([key, value]) => ({ key, value })),
});

const rw = (id: string, split: string, invokeUs: number, reads: Array<[string, unknown]>, writes: Array<[string, unknown]>, outcome: RwRecord['outcome']): RwRecord => ({
  id,
  client: 'c1',
  split,
  invokeUs,
  reads: reads.map(([key, value]) => ({ key, value })),
  writes: writes.map(([key, value]) => ({ key, value })),
  outcome,
});

const ro = (id: string, mode: RoRecord['mode'], invokeUs: number, ackUs: number, ts: number, reads: Array<[string, string, unknown]>): RoRecord => ({
  id,
  client: 'c2',
  mode,
  invokeUs,
  ackUs,
  ts,
  reads: reads.map(([split, key, value]) => ({ split, key, value })),
});

/**
 * A correct history over two splits: s0 holds accounts a0, a1 (initial 100 each) and a list
 * l0; s1 holds a register r1. Every read agrees with the ground truth; replicas n1/n2 made each
 * commit visible before reporting a t_safe covering it.
 */
function correct(): SpanHistory {
  const h = emptyHistory({ initial: 100, accounts: { s0: ['k0/a0', 'k0/a1'] } });
  h.commits.push(
    commit('t1', 's0', 1_000, 1, [['k0/a0', 90], ['k0/a1', 110]]),
    commit('t2', 's0', 2_000, 2, [['k0/l0', ['t2']]]),
    commit('t3', 's1', 1_500, 1, [['k1/r1', 't3']]),
    commit('t4', 's0', 3_000, 3, [['k0/l0', ['t2', 't4']]]),
  );
  h.rw.push(
    rw('t1', 's0', 100, [['k0/a0', undefined], ['k0/a1', undefined]], [['k0/a0', 90], ['k0/a1', 110]], { state: 'committed', ts: 1_000, atUs: 1_200, via: 'reply' }),
    rw('t2', 's0', 1_300, [['k0/l0', undefined]], [['k0/l0', ['t2']]], { state: 'committed', ts: 2_000, atUs: 2_100, via: 'status' }),
    rw('t3', 's1', 900, [['k1/r1', undefined]], [['k1/r1', 't3']], { state: 'unknown' }),
    rw('t4', 's0', 2_200, [['k0/l0', ['t2']]], [['k0/l0', ['t2', 't4']]], { state: 'committed', ts: 3_000, atUs: 3_100, via: 'reply' }),
    // Aborted before the commit was sent; and one whose commit was refused.
    rw('t5', 's1', 2_500, [['k1/r1', 't3']], [], { state: 'abandoned' }),
    rw('t6', 's1', 2_600, [['k1/r1', 't3']], [['k1/r1', 't6']], { state: 'aborted', atUs: 2_700, via: 'reply', reason: 'wounded' }),
  );
  h.ro.push(
    // Strong read over both splits after t1 and t3.
    ro('r1', 'strong', 1_600, 1_700, 1_600, [['s0', 'k0/a0', 90], ['s0', 'k0/a1', 110], ['s1', 'k1/r1', 't3']]),
    // A snapshot read in the past: the initial balances.
    ro('r2', 'snapshot', 3_200, 3_300, 900, [['s0', 'k0/a0', undefined], ['s0', 'k0/a1', undefined], ['s0', 'k0/l0', undefined]]),
    // Strong read after t4 was acknowledged, ts equal to an earlier strong read's is fine for RO→RO.
    ro('r3', 'strong', 3_150, 3_400, 3_000, [['s0', 'k0/l0', ['t2', 't4']]]),
    ro('r4', 'stale', 3_500, 3_600, 2_500, [['s0', 'k0/l0', ['t2']]]),
  );
  h.status.push({ txn: 't2', state: 'committed', ts: 2_000, atUs: 2_100 }, { txn: 't9', state: 'aborted', atUs: 4_000 });
  h.visible.set('n1|s0', new Map([[1_000, 1_050], [2_000, 2_050], [3_000, 3_050]]));
  h.visible.set('n2|s0', new Map([[1_000, 1_500], [2_000, 2_500]]));
  h.tSafe.push(
    { node: 'n1', split: 's0', atUs: 1_060, tSafe: 1_900 },
    { node: 'n1', split: 's0', atUs: 3_060, tSafe: 3_500 },
    { node: 'n2', split: 's0', atUs: 1_400, tSafe: 999 },
    { node: 'n2', split: 's0', atUs: 2_600, tSafe: 2_999 },
  );
  return h;
}

describe('span checkers on synthetic histories', () => {
  it('a correct history passes every checker', () => {
    expect(checkSpanHistory(correct())).toEqual([]);
  });

  it('strictSerializability: a read-write transaction read a value older than the state below its ts (lost update)', () => {
    const h = correct();
    // t4 read the list before t2's append but committed after it.
    h.rw[3]!.reads[0]!.value = undefined;
    h.rw[3]!.writes[0]!.value = ['t4'];
    h.commits[3]!.writes[0]!.value = ['t4'];
    const v = strictSerializability(h);
    expect(v.map((x) => x.checker)).toEqual(['strictSerializability']);
    expect(v[0]!.detail).toContain('t4');
  });

  it('strictSerializability: applied writes differ from what the client sent', () => {
    const h = correct();
    h.commits[2]!.writes[0]!.value = 'other';
    expect(strictSerializability(h).length).toBeGreaterThan(0);
  });

  it('strictSerializability: two transactions at one timestamp on one key', () => {
    const h = correct();
    h.commits.push(commit('t7', 's1', 1_500, 2, [['k1/r1', 't7']]));
    expect(strictSerializability(h)[0]!.detail).toContain('one timestamp');
  });

  it('snapshotExact: a read missed a version at or below its timestamp', () => {
    const h = correct();
    h.ro[0]!.reads[2]!.value = undefined; // t3 at 1500 <= 1600
    const v = snapshotExact(h);
    expect(v).toHaveLength(1);
    expect(v[0]!.detail).toContain('returned nothing');
  });

  it('snapshotExact: a read saw a version above its timestamp', () => {
    const h = correct();
    h.ro[3]!.reads[0]!.value = ['t2', 't4']; // t4 is at 3000 > 2500
    expect(snapshotExact(h)[0]!.detail).toContain('ABOVE');
  });

  it('realTimeOrder: RW→RW, a transaction invoked after another was acknowledged got a lower ts', () => {
    const h = correct();
    // t3 (split s1) invoked at 1300, after t1 (ts 1000) was acked at 1200: give it ts 950.
    h.rw[2]!.invokeUs = 1_300;
    h.commits[2]!.ts = 950;
    h.ro[0]!.ts = 1_600;
    const v = realTimeOrder(h);
    expect(v.some((x) => x.detail.startsWith('RW→RW'))).toBe(true);
  });

  it('realTimeOrder: RW→RO, a strong read after an acknowledged commit does not cover it', () => {
    const h = correct();
    h.ro[2]!.ts = 2_900; // t4 (ts 3000) acked at 3100, r3 invoked at 3150
    h.ro[2]!.reads[0]!.value = ['t2'];
    const v = realTimeOrder(h);
    expect(v.map((x) => x.detail.slice(0, 5))).toContain('RW→RO');
    expect(snapshotExact(h)).toEqual([]);
  });

  it('realTimeOrder: RO→RO, a strong read after another strong read went back in time', () => {
    const h = correct();
    h.ro.push(ro('r5', 'strong', 3_450, 3_500, 2_999, [['s0', 'k0/l0', ['t2']]]));
    const v = realTimeOrder(h);
    // r3 (ts 3000) was acknowledged at 3400, and so was t4 (ts 3000) at 3100.
    expect(v.map((x) => x.detail.slice(0, 5)).sort()).toEqual(['RO→RO', 'RW→RO']);
    // Bounded-staleness and snapshot reads are not held to real time.
    h.ro[h.ro.length - 1]!.mode = 'stale';
    expect(realTimeOrder(h)).toEqual([]);
  });

  it('realTimeOrder: a strong read of one split (rule 9a) may be below an earlier commit elsewhere if it missed no version of its keys', () => {
    const h = correct();
    // t4 (s0, ts 3000) acknowledged at 3100; then a read of s1 alone at its last commit (1700):
    // k1/r1 has no version in (1700, 3000], so the read's result is the snapshot at 3000 too.
    const sole: RoRecord = { ...ro('r6', 'strong', 3_150, 3_300, 1_700, [['s1', 'k1/r1', 't3']]), soleSplit: true };
    h.ro.push(sole);
    expect(realTimeOrder(h)).toEqual([]);
    expect(snapshotExact(h)).toEqual([]);
    // Not said to be of one split: held to its timestamp.
    delete sole.soleSplit;
    expect(realTimeOrder(h).map((x) => x.detail.slice(0, 5))).toEqual(['RW→RO']);
  });

  it('realTimeOrder: a strong read of one split missed a version of a key it read that is at or below an earlier acknowledged timestamp', () => {
    const h = correct();
    // k1/r1 written at 2000 (an unacknowledged transaction); the read at 1700 returns t3's value,
    // exact at 1700, but it was invoked after t4 (ts 3000) was acknowledged: ordered at 3000 or
    // later, it should have seen the version at 2000.
    h.commits.push(commit('t8', 's1', 2_000, 2, [['k1/r1', 't8']]));
    h.ro.push({ ...ro('r6', 'strong', 3_150, 3_300, 1_700, [['s1', 'k1/r1', 't3']]), soleSplit: true });
    const v = realTimeOrder(h);
    expect(v).toHaveLength(1);
    expect(v[0]!.detail).toContain('a strong read of one split');
    expect(v[0]!.detail).toContain('k1/r1');
    expect(snapshotExact(h)).toEqual([]);
  });

  it('realTimeOrder: an operation invoked at the very instant another was acknowledged comes after it', () => {
    const h = correct();
    // r3 (ts 3000) acknowledged at 3400; a strong read invoked at 3400 (on that answer) at ts 2999.
    h.ro.push(ro('r7', 'strong', 3_400, 3_450, 2_999, [['s0', 'k0/l0', ['t2']]]));
    expect(realTimeOrder(h).map((x) => x.detail.slice(0, 5))).toContain('RO→RO');
  });

  it('realTimeOrder: RO→RW, a transaction invoked after a strong read got a ts at or below it', () => {
    const h = correct();
    // r1 (ts 1600) acked at 1700; t2 invoked at 1800 with ts 1600.
    h.rw[1]!.invokeUs = 1_800;
    h.commits[1]!.ts = 1_600;
    h.rw[1]!.outcome = { state: 'unknown' };
    h.status = [];
    const v = realTimeOrder(h);
    expect(v.some((x) => x.detail.startsWith('RO→RW'))).toBe(true);
  });

  it('tSafeNotAhead: a replica reported a t_safe covering a commit it had not made durable yet', () => {
    const h = correct();
    h.visible.get('n2|s0')!.set(2_000, 2_650); // became visible only after the 2_600 sample
    const v = tSafeNotAhead(h);
    expect(v).toHaveLength(1);
    expect(v[0]!.detail).toContain('n2');
    h.visible.get('n2|s0')!.delete(2_000);
    expect(tSafeNotAhead(h)[0]!.detail).toContain('never');
  });

  it('ackedAppliedOnce: applied twice, acknowledged but never applied, acknowledged at another ts, aborted but applied, a wrong status', () => {
    const twice = correct();
    twice.commits.push(commit('t1', 's0', 4_000, 4, [['k0/a0', 90], ['k0/a1', 110]]));
    expect(ackedAppliedOnce(twice)[0]!.detail).toContain('applied 2 times');

    const lost = correct();
    lost.commits.splice(3, 1);
    expect(ackedAppliedOnce(lost)[0]!.detail).toContain('no replica ever applied');

    const otherTs = correct();
    otherTs.rw[0]!.outcome = { state: 'committed', ts: 1_001, atUs: 1_200, via: 'reply' };
    expect(ackedAppliedOnce(otherTs)[0]!.detail).toContain('applied at 1000');

    const abortedButApplied = correct();
    abortedButApplied.rw[5]!.outcome = { state: 'aborted', atUs: 2_700, via: 'status', reason: 'aborted' };
    abortedButApplied.commits.push(commit('t6', 's1', 2_800, 2, [['k1/r1', 't6']]));
    expect(ackedAppliedOnce(abortedButApplied).map((x) => x.detail)).toEqual([expect.stringContaining('t6 aborted, but it was applied')]);

    const wrongStatus = correct();
    wrongStatus.status.push({ txn: 't4', state: 'aborted', atUs: 5_000 });
    expect(ackedAppliedOnce(wrongStatus)).toHaveLength(1);
  });

  it('bankConserved: a snapshot of a split\'s accounts that does not sum to its total', () => {
    const h = correct();
    // A read that sees a0 after t1 but a1 before it (a torn snapshot).
    h.ro.push(ro('r6', 'snapshot', 4_000, 4_100, 1_200, [['s0', 'k0/a0', 90], ['s0', 'k0/a1', 100]]));
    const v = bankConserved(h);
    expect(v).toHaveLength(1);
    expect(v[0]!.detail).toContain('sum to 190');
    // Reads of only some accounts are not checked.
    h.ro[h.ro.length - 1]!.reads.pop();
    expect(bankConserved(h)).toEqual([]);
  });
});

/**
 * A correct history with cross-split transactions: accounts a0 on s0 and b0 on s1 (100 each). x1
 * moves 10 from a0 to b0: coordinator s0 (commit record naming s1), participant s1 (prepare at
 * 1900, decide at the coordinator's 2000). x2 is refused: s1 prepared it, s0 logged the abort and
 * s1 applied the decision.
 */
function crossSplit(): SpanHistory {
  const h = emptyHistory({ initial: 100, accounts: { s0: ['k0/a0'], s1: ['k1/b0'] } });
  h.commits.push(
    { ...commit('x1', 's0', 2_000, 1, [['k0/a0', 90]]), kind: 'commit', participants: ['s1'] },
    { ...commit('x1', 's1', 2_000, 2, [['k1/b0', 110]]), kind: 'decide' },
  );
  h.prepares.push({ txn: 'x1', split: 's1', ts: 1_900, coordinator: 's0', slot: 1, atUs: 1_950 }, { txn: 'x2', split: 's1', ts: 2_500, coordinator: 's0', slot: 3, atUs: 2_550 });
  h.aborts.push({ txn: 'x2', split: 's0', slot: 2, kind: 'abort', reason: 'presumed abort' }, { txn: 'x2', split: 's1', slot: 4, kind: 'decide', reason: 'aborted by its coordinator' });
  const x1 = rw('x1', 's0', 1_000, [['k0/a0', undefined], ['k1/b0', undefined]], [['k0/a0', 90], ['k1/b0', 110]], { state: 'committed', ts: 2_000, atUs: 2_100, via: 'reply' });
  x1.participants = ['s1'];
  const x2 = rw('x2', 's0', 2_200, [['k0/a0', 90], ['k1/b0', 110]], [['k0/a0', 80], ['k1/b0', 120]], { state: 'aborted', atUs: 2_700, via: 'reply', reason: 'refused' });
  x2.participants = ['s1'];
  h.rw.push(x1, x2);
  h.ro.push(
    ro('a1', 'strong', 2_150, 2_200, 2_150, [['s1', 'k1/b0', 110], ['s0', 'k0/a0', 90]]),
    ro('a2', 'snapshot', 2_300, 2_400, 1_999, [['s0', 'k0/a0', undefined], ['s1', 'k1/b0', undefined]]),
  );
  h.visible.set('n1|s0', new Map([[2_000, 2_050]]));
  h.visible.set('n1|s1', new Map([[2_000, 2_060]]));
  h.tSafe.push({ node: 'n1', split: 's1', atUs: 2_060, tSafe: 2_499 });
  h.end = { healUs: 3_000, atUs: 5_000, boundUs: 4_000, states: [{ node: 'n1', split: 's1', locksHeld: 0, prepared: [], coordinating: 0 }] };
  return h;
}

describe('span checkers on cross-split (2PC) histories', () => {
  it('a correct cross-split history passes every checker', () => {
    expect(checkSpanHistory(crossSplit())).toEqual([]);
  });

  it('atomicCommit: a participant applied it at another timestamp than its coordinator', () => {
    const h = crossSplit();
    h.commits[1]!.ts = 1_950;
    expect(atomicCommit(h).map((v) => v.detail)).toEqual([expect.stringContaining('participant s1 applied it at 1950, its coordinator s0 committed it at 2000')]);
  });

  it('atomicCommit: a participant applied what its coordinator aborted, or never committed', () => {
    const aborted = crossSplit();
    aborted.commits.push({ ...commit('x2', 's1', 2_600, 4, [['k1/b0', 120]]), kind: 'decide' });
    aborted.aborts.pop();
    expect(atomicCommit(aborted)[0]!.detail).toContain('its coordinator s0 decided abort');
    const never = crossSplit();
    never.commits.splice(0, 1);
    expect(atomicCommit(never)[0]!.detail).toContain('never committed it');
  });

  it('atomicCommit: a participant aborted what its coordinator committed', () => {
    const h = crossSplit();
    h.commits.splice(1, 1);
    h.aborts.push({ txn: 'x1', split: 's1', slot: 2, kind: 'decide', reason: 'gave up' });
    const v = atomicCommit(h);
    expect(v.map((x) => x.detail)).toEqual([expect.stringContaining('participant s1 decided it aborted')]);
    // The lost half also shows as writes the client sent but nobody applied.
    expect(strictSerializability(h)[0]!.detail).toContain('applied writes');
  });

  it('atomicCommit: a coordinator committed without a participant\'s prepare', () => {
    const h = crossSplit();
    h.prepares.splice(0, 1);
    expect(atomicCommit(h)[0]!.detail).toContain('participant s1 never prepared it');
  });

  it('ackedAppliedOnce: a cross-split transaction is one commit (applied once per split)', () => {
    const h = crossSplit();
    expect(ackedAppliedOnce(h)).toEqual([]);
    h.commits.push({ ...commit('x1', 's1', 2_000, 5, [['k1/b0', 110]]), kind: 'decide' });
    expect(ackedAppliedOnce(h)[0]!.detail).toContain('applied 2 times on s1');
  });

  it('bankConserved: money moved across splits, only the bank\'s total is conserved; a torn multi-split read is caught', () => {
    const h = crossSplit();
    // a1 sees s0 after x1 and s1 after it: 90 + 110. A read of one split alone is not checked.
    h.ro.push(ro('a3', 'stale', 2_500, 2_600, 2_100, [['s0', 'k0/a0', 90]]));
    expect(bankConserved(h)).toEqual([]);
    // Torn: s0 after x1, s1 before it.
    h.ro.push(ro('a4', 'stale', 2_500, 2_600, 2_100, [['s0', 'k0/a0', 90], ['s1', 'k1/b0', undefined]]));
    expect(bankConserved(h).map((v) => v.detail)).toEqual([expect.stringContaining('sum to 190, not 200')]);
  });

  it('twoPhaseLiveness: a prepared transaction or a lock left after the heal', () => {
    const h = crossSplit();
    h.end!.states.push({ node: 'n2', split: 's1', locksHeld: 1, prepared: [{ txn: 'x2', ts: 2_500, coordinator: 's0' }], coordinating: 0 });
    const v = twoPhaseLiveness(h);
    expect(v).toHaveLength(1);
    expect(v[0]!.detail).toContain('prepared x2');
    expect(v[0]!.detail).toContain('1 locks held');
    delete h.end;
    expect(twoPhaseLiveness(h)).toEqual([]);
  });
});

describe('span online checks (SpanRecorder)', () => {
  const write = (txn: string, ts: number, key: string) => ({
    versions: [{ key, ts, value: txn }],
    header: { maxAppliedTs: ts, lastCommitTs: ts },
    outcomes: [[txn, { committed: true as const, ts, slot: 0, at: ts }]] as Array<[string, { committed: true; ts: number; slot: number; at: number }]>,
    forgotten: [],
  });
  const refused = (txn: string, ts: number, above: number) => ({
    versions: [],
    header: { maxAppliedTs: above, lastCommitTs: above },
    outcomes: [[txn, { committed: false as const, reason: `timestamp ${ts} is not above ${above}`, slot: 0, at: above }]] as Array<[string, { committed: false; reason: string; slot: number; at: number }]>,
    forgotten: [],
  });
  const cmd = (id: string, txn: string, ts: number) => ({ id, payload: { t: 'commit', txn, ts, writes: [] } });

  it('records a 2PC coordinator\'s commit record, a participant\'s prepare and decide, and a logged abort', () => {
    const rec = new SpanRecorder(() => 7, { initial: 100, accounts: {} });
    const hdr = (ts: number, prepared?: Array<{ txn: string; ts: number; coordinator: string; writes: []; readKeys: [] }>) => ({ maxAppliedTs: ts, lastCommitTs: ts, ...(prepared ? { prepared } : {}) });
    rec.recordApply('n1', 's1', 0, { versions: [], header: hdr(0, [{ txn: 'x', ts: 9, coordinator: 's0', writes: [], readKeys: [] }]), outcomes: [], forgotten: [] }, [
      { id: 'b:1', payload: { t: 'prepare', txn: 'x', ts: 9, writes: [], readKeys: [], coordinator: 's0' } },
    ]);
    rec.recordApply('n1', 's0', 0, { ...write('x', 10, 'k0'), header: hdr(10) }, [{ id: 'a:1', payload: { t: 'commit', txn: 'x', ts: 10, writes: [], participants: ['s1'] } }]);
    rec.recordApply('n1', 's1', 1, { ...write('x', 10, 'k1'), header: hdr(10) }, [{ id: 'b:2', payload: { t: 'decide', txn: 'x', committed: true, ts: 10 } }]);
    rec.recordApply('n1', 's0', 1, { versions: [], header: hdr(10), outcomes: [['y', { committed: false, reason: 'presumed abort', slot: 1, at: 10 }]], forgotten: [] }, [{ id: 'a:2', payload: { t: 'abort', txn: 'y' } }]);
    expect(rec.history.prepares).toEqual([{ txn: 'x', split: 's1', ts: 9, coordinator: 's0', slot: 0, atUs: 7 }]);
    expect(rec.history.commits.map((c) => [c.split, c.kind, c.participants])).toEqual([
      ['s0', 'commit', ['s1']],
      ['s1', 'decide', undefined],
    ]);
    expect(rec.history.aborts).toEqual([{ txn: 'y', split: 's0', slot: 1, kind: 'abort', participants: undefined, reason: 'presumed abort' }]);
  });

  it('appliedAlike: two replicas applying one slot differently', () => {
    const rec = new SpanRecorder(() => 0, { initial: 100, accounts: {} });
    rec.recordApply('n1', 's0', 0, write('t1', 10, 'k'));
    rec.recordApply('n2', 's0', 0, write('t1', 10, 'k'));
    expect(rec.ok).toBe(true);
    rec.recordApply('n3', 's0', 0, write('t1', 11, 'k'));
    expect(rec.online.map((v) => v.checker)).toEqual(['appliedAlike']);
    expect(rec.history.commits).toHaveLength(1);
  });

  it('refusalsAreLate: a refusal is fine after a later leader\'s entry, not in the proposer\'s own term', () => {
    const late = new SpanRecorder(() => 0, { initial: 100, accounts: {} });
    late.recordProposal('s0', 'a:1', { round: 1, node: 'a' });
    late.recordProposal('s0', 'b:1', { round: 2, node: 'b' });
    late.recordApply('n1', 's0', 0, write('t2', 20, 'k'), [cmd('b:1', 't2', 20)]);
    late.recordApply('n1', 's0', 1, refused('t1', 10, 20), [cmd('a:1', 't1', 10)]);
    expect(late.ok).toBe(true);
    expect(late.applyRefusals).toBe(1);

    const own = new SpanRecorder(() => 0, { initial: 100, accounts: {} });
    own.recordProposal('s0', 'a:1', { round: 1, node: 'a' });
    own.recordProposal('s0', 'a:2', { round: 1, node: 'a' });
    own.recordApply('n1', 's0', 0, write('t1', 20, 'k'), [cmd('a:1', 't1', 20)]);
    own.recordApply('n1', 's0', 1, refused('t2', 15, 20), [cmd('a:2', 't2', 15)]);
    expect(own.online.map((v) => v.checker)).toEqual(['refusalsAreLate']);
  });
});
