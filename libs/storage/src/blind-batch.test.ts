import { describe, expect, it } from 'vitest';
import { storageFixture } from './storage.fixture.js';
import { ballot, entry, snapshot } from './test-helpers.js';

/**
 * The hot writes (a Paxos persist, an applied entry with its versions and outcomes, the time mark)
 * go to real LMDB as blind batches (group-commit.ts, "Blind batches"): written, durable across a
 * reopen, and one transaction each; anything that reads inside its transaction goes as before.
 */
describe('blind batches on LMDB', () => {
  const fresh = storageFixture({ fsync: true });

  it('a persist and an applied entry are blind batches, and a reopen finds all they wrote', async () => {
    const { storage, reopen } = fresh();
    await storage.paxos('g1').persist({ promised: ballot(3), accepted: [entry(0, ballot(3)), entry(1, ballot(3))] });
    await storage.applyEntry('g1', 1, [{ key: 'k', ts: 10, value: 'v' }], { record: { slot: 0, commandIds: ['c0'] }, header: { maxAppliedTs: 10 }, outcomes: { put: [['t1', { committed: true, ts: 10 }]], forget: [] } });
    await storage.raiseTimeMark({ issuedUs: 77 });
    expect(storage.stats).toMatchObject({ batchesCommitted: 3, blindBatches: 3 });
    const again = await reopen();
    const st = await again.paxos('g1').load();
    expect(st.promised).toEqual(ballot(3));
    expect(st.accepted.map((e) => e.slot)).toEqual([0, 1]);
    expect((await again.paxos('g1').appliedState()).upTo).toBe(1);
    expect(again.mvcc.get('k', 20)).toMatchObject({ value: 'v', ts: 10 });
    expect(again.outcomes('g1')).toEqual([['t1', { committed: true, ts: 10 }]]);
    expect(again.timeMark().issuedUs).toBe(77);
  });

  it('a persist that truncates, an install and a drop run as transactions (they read what they delete)', async () => {
    const { storage } = fresh();
    const g = storage.paxos('g1');
    await g.persist({ accepted: [entry(0, ballot(1)), entry(1, ballot(1)), entry(2, ballot(1))] });
    const blindBefore = storage.stats.blindBatches;
    await g.persist({ snapshot: snapshot(2), truncateBelow: 2 });
    expect(g.logSize()).toBe(1);
    await storage.installSnapshot('g2', { start: 'a', end: 'b' }, [], snapshot(5), { maxAppliedTs: 1 });
    await storage.dropGroup('g2', { start: 'a', end: 'b' });
    expect(storage.stats.blindBatches).toBe(blindBefore);
  });
});
