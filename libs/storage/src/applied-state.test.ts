import { describe, expect, it } from 'vitest';
import { TRUNCATE_BATCH } from './paxos-store.js';
import { storageFixture } from './storage.fixture.js';
import { ballot, entry, snapshot } from './test-helpers.js';

describe('applied records, header and bounded truncation', () => {
  const fresh = storageFixture({ fsync: false });

  it('a restart finds the applied index, header and applied records written with each entry', async () => {
    const { storage, reopen } = fresh();
    for (let s = 0; s < 5; s++) await storage.applyEntry('g1', s + 1, [{ key: `k${s}`, ts: 10 + s, value: s }], { record: { slot: s, commandIds: [`c:${s + 1}`] }, header: { maxAppliedTs: 10 + s } });
    const st = await (await reopen()).paxos('g1').appliedState();
    expect(st).toMatchObject({ upTo: 5, from: 0, header: { maxAppliedTs: 14 } });
    expect(st.records.map((r) => [r.slot, r.commandIds])).toEqual([0, 1, 2, 3, 4].map((s) => [s, [`c:${s + 1}`]]));
  });

  it('keeps what lets a restarted replica serve catch-up: whether its log held the chosen value, or the value', async () => {
    const { storage, reopen } = fresh();
    const value = { kind: 'batch' as const, cmds: [{ id: 'c:2', payload: { t: 'put', k: 'a' } }] };
    await storage.applyEntry('g1', 1, [], { record: { slot: 0, commandIds: ['c:1'], logHolds: true } });
    await storage.applyEntry('g1', 2, [], { record: { slot: 1, commandIds: ['c:2'], value } });
    const st = await (await reopen()).paxos('g1').appliedState();
    expect(st.records).toEqual([
      { slot: 0, commandIds: ['c:1'], logHolds: true },
      { slot: 1, commandIds: ['c:2'], value },
    ]);
  });

  it('compaction deletes log entries and applied records below the snapshot, in bounded batches', async () => {
    const { storage } = fresh();
    const g = storage.paxos('g1');
    const n = 2 * TRUNCATE_BATCH + 100;
    await g.persist({ accepted: Array.from({ length: n }, (_, s) => entry(s, ballot(1))) });
    for (let s = 0; s < n; s++) void storage.applyEntry('g1', s + 1, [], { record: { slot: s, commandIds: [] } });
    await g.persist({ snapshot: snapshot(n - 10), truncateBelow: n - 10 });
    for (let i = 0; i < 4; i++) await g.persist({ promised: ballot(2 + i) }); // follow-up batches drain behind these
    expect(g.logSize()).toBe(10);
    expect(g.appliedRecordCount()).toBe(10);
    expect((await g.appliedState()).records.map((r) => r.slot)).toEqual(Array.from({ length: 10 }, (_, i) => n - 10 + i));
  });

  it('a compaction of 1,000 entries deletes them over several transactions, not in one', async () => {
    // What the spanserver compacts at its default interval: one transaction deleting it all would
    // run thousands of deletions in one event-loop turn (TRUNCATE_BATCH).
    const { storage } = fresh();
    const g = storage.paxos('g1');
    await g.persist({ accepted: Array.from({ length: 1_010 }, (_, s) => entry(s, ballot(1))) });
    await g.persist({ snapshot: snapshot(1_000), truncateBelow: 1_000 });
    expect(g.logSize()).toBeGreaterThan(10);
    for (let i = 0; i < 8 && g.logSize() > 10; i++) await g.persist({ promised: ballot(2 + i) });
    expect(g.logSize()).toBe(10);
  });

  it('installs a snapshot in one write: the range replaced, applied index and header set', async () => {
    const { storage } = fresh();
    await storage.mvcc.put([{ key: 'a', ts: 5, value: 'old' }, { key: 'z', ts: 5, value: 'other split' }]);
    await storage.installSnapshot('g1', { start: '', end: 'm' }, [['b', 7, { v: 'new' }]], snapshot(40), { maxAppliedTs: 7 });
    expect(storage.mvcc.get('a', 10)).toBeUndefined();
    expect(storage.mvcc.get('b', 10)?.value).toBe('new');
    expect(storage.mvcc.get('z', 10)?.value).toBe('other split');
    expect(await storage.paxos('g1').appliedState()).toMatchObject({ upTo: 40, from: 40, records: [], header: { maxAppliedTs: 7 }, snapshot: { upTo: 40 } });
  });
});
