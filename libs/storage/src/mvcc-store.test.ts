import { describe, expect, it } from 'vitest';
import { storageFixture } from './storage.fixture.js';

const fresh = storageFixture({ fsync: false });

// The read rule (newest at or below, tombstones, scans, GC, SNAPSHOT_TOO_OLD) is tested for this
// store and MemoryMvccStore alike by mvcc-suite.fixture.ts (run from mvcc-rule.test.ts).
describe('MVCC keyspace (LMDB)', () => {
  it('applies an entry and its applied index in one durable transaction', async () => {
    const { storage, reopen } = fresh();
    await storage.applyEntry('g1', 1, [{ key: 'a', ts: 5, value: 'x' }]);
    await storage.applyEntry('g1', 2, [
      { key: 'a', ts: 7, value: 'y' },
      { key: 'b', ts: 7, value: 'z' },
    ]);
    expect(() => storage.paxos('g1').appliedOp(1)).toThrow(/must not decrease/);
    const again = await reopen();
    expect((await again.paxos('g1').appliedState()).upTo).toBe(2);
    expect(again.mvcc.get('a', 10)).toMatchObject({ value: 'y', ts: 7 });
    expect(again.mvcc.get('b', 10)).toMatchObject({ value: 'z' });
  });

  it('rejects malformed timestamps', () => {
    const { storage } = fresh();
    expect(() => storage.mvcc.writeOp([{ key: 'a', ts: 1.5, value: 1 }])).toThrow(/bad timestamp/);
    expect(() => storage.mvcc.get('a', -1)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
