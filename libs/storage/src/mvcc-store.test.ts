import { describe, expect, it } from 'vitest';
import { storageFixture } from './storage.fixture.js';

const fresh = storageFixture({ fsync: false });

describe('MVCC keyspace', () => {
  it('reads the newest version at or below the read timestamp', async () => {
    const { storage } = fresh();
    await storage.mvcc.put([
      { key: 'a', ts: 100, value: 'a1' },
      { key: 'a', ts: 200, value: 'a2' },
      { key: 'a', ts: 300, deleted: true },
      { key: 'b', ts: 150, value: 'b1' },
    ]);
    const m = storage.mvcc;
    expect(m.get('a', 99)).toBeUndefined();
    expect(m.get('a', 100)).toEqual({ key: 'a', value: 'a1', ts: 100 });
    expect(m.get('a', 250)).toEqual({ key: 'a', value: 'a2', ts: 200 });
    expect(m.get('a', 300)).toBeUndefined();
    expect(m.get('b', 1_000)).toEqual({ key: 'b', value: 'b1', ts: 150 });
    expect(m.latestVersionTs('a')).toBe(300);
    expect(m.latestVersionTs('zzz')).toBe(0);
  });

  it('scans a range as of a timestamp, skipping deleted and not-yet-written keys', async () => {
    const { storage } = fresh();
    await storage.mvcc.put([
      { key: 'k1', ts: 10, value: 1 },
      { key: 'k2', ts: 10, value: 2 },
      { key: 'k2', ts: 20, deleted: true },
      { key: 'k3', ts: 30, value: 3 },
      { key: 'k10', ts: 10, value: 10 },
      { key: 'x', ts: 10, value: 'out of range' },
    ]);
    const keys = (ts: number, limit?: number) => storage.mvcc.scan('k', 'l', ts, limit).map((r) => `${r.key}=${String(r.value)}`);
    expect(keys(15)).toEqual(['k1=1', 'k10=10', 'k2=2']);
    expect(keys(25)).toEqual(['k1=1', 'k10=10']);
    expect(keys(35)).toEqual(['k1=1', 'k10=10', 'k3=3']);
    expect(keys(35, 2)).toEqual(['k1=1', 'k10=10']);
    expect(storage.mvcc.scan('', '', 35).map((r) => r.key)).toEqual(['k1', 'k10', 'k3', 'x']);
  });

  it('GC keeps what reads at or above the horizon need and refuses older reads', async () => {
    const { storage } = fresh();
    await storage.mvcc.put([
      { key: 'a', ts: 10, value: 'a10' },
      { key: 'a', ts: 20, value: 'a20' },
      { key: 'a', ts: 40, value: 'a40' },
      { key: 'd', ts: 10, value: 'd10' },
      { key: 'd', ts: 20, deleted: true },
    ]);
    const removed = await storage.mvcc.gc(30);
    expect(removed).toBe(3); // a@10, d@10 and d's tombstone
    expect(storage.mvcc.get('a', 30)).toMatchObject({ value: 'a20' });
    expect(storage.mvcc.get('a', 45)).toMatchObject({ value: 'a40' });
    expect(storage.mvcc.get('d', 30)).toBeUndefined();
    expect(() => storage.mvcc.get('a', 29)).toThrow(expect.objectContaining({ code: 'SNAPSHOT_TOO_OLD' }));
    expect(await storage.mvcc.gc(25)).toBe(0);
  });

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
