/**
 * The split size for placement reports (split-size.ts, docs/spanserver.md "Placement reports"):
 * kept from memory while every key is tracked (no storage read per write), by storage reads past
 * the bounds, exact across overwrites, deletes and cuts.
 */
import { describe, expect, it } from 'vitest';
import type { MvccReader } from '@synod/txn';
import { SIZE_SEED_KEYS, SIZE_TRACKED_KEYS, SplitSize, sizeOf } from './split-size.js';

/** A one-version-per-key store with the reads SplitSize makes counted. */
function store() {
  const rows = new Map<string, unknown>();
  const reads = { get: 0, scan: 0 };
  const reader: MvccReader = {
    get: (key) => {
      reads.get++;
      return rows.has(key) ? { value: rows.get(key), ts: 1 } : undefined;
    },
    scan: (start, end, _ts, limit) => {
      reads.scan++;
      return [...rows.keys()]
        .filter((k) => k >= start && (end === '' || k < end))
        .sort()
        .slice(0, limit)
        .map((key) => ({ key, value: rows.get(key), ts: 1 }));
    },
    gcHorizon: () => 0,
  };
  /** Applies writes to the store and to `size`, as the spanserver does (size first, then storage). */
  const write = (size: SplitSize, ws: Array<[string, unknown]>) => {
    size.applied(ws.map(([key, value]) => (value === undefined ? { key, ts: 2, deleted: true } : { key, ts: 2, value })), reader);
    for (const [k, v] of ws) (v === undefined ? rows.delete(k) : rows.set(k, v));
  };
  /** The true size of [start, end). */
  const truth = (start = '', end = '') => {
    let keys = 0;
    let bytes = 0;
    for (const [k, v] of rows) if (k >= start && (end === '' || k < end)) (keys++, (bytes += sizeOf(k, v)));
    return { keys, bytes };
  };
  return { rows, reads, reader, write, truth };
}

const ALL = { start: '', end: '' };

describe('SplitSize', () => {
  it('counts overwrites, new keys and deletes exactly, with no storage read per write', () => {
    const s = store();
    for (let i = 0; i < 100; i++) s.rows.set(`k${i}`, 'v'.repeat(i));
    const size = new SplitSize();
    size.seed(s.reader, ALL);
    expect({ keys: size.keys, bytes: size.bytes }).toEqual(s.truth());
    s.write(size, [['k1', 'xx'], ['k1', 'xxxxxx'], ['new', { a: [1, 2] }], ['k5', undefined], ['absent', undefined], ['k7', 42]]);
    expect({ keys: size.keys, bytes: size.bytes }).toEqual(s.truth());
    expect(s.reads.get).toBe(0);
  });

  it('a cut drops the child range exactly, without a storage read or a second seed', () => {
    const s = store();
    for (let i = 0; i < 50; i++) s.rows.set(`k${String(i).padStart(2, '0')}`, 'abc');
    const size = new SplitSize();
    size.seed(s.reader, ALL);
    s.write(size, [['k10', 'longer value'], ['k40', undefined]]);
    size.keepRange(s.reader, { start: '', end: 'k25' });
    expect({ keys: size.keys, bytes: size.bytes }).toEqual(s.truth('', 'k25'));
    expect(s.reads.scan).toBe(1);
  });

  it('past the tracked bound: evicts the oldest keys, then reads storage for keys it does not hold', () => {
    const s = store();
    const size = new SplitSize();
    size.seed(s.reader, ALL);
    const batch: Array<[string, unknown]> = [];
    for (let i = 0; i < SIZE_TRACKED_KEYS + 10; i++) batch.push([`key${i}`, 'v']);
    s.write(size, batch);
    expect(size.trackedKeys).toBe(SIZE_TRACKED_KEYS);
    expect({ keys: size.keys, bytes: size.bytes }).toEqual(s.truth());
    const before = s.reads.get;
    // key0 was evicted: its overwrite and delete read storage and stay exact.
    s.write(size, [['key0', 'vvvv'], ['key5', undefined], [`key${SIZE_TRACKED_KEYS + 5}`, 'zz']]);
    expect({ keys: size.keys, bytes: size.bytes }).toEqual(s.truth());
    expect(s.reads.get).toBeGreaterThan(before);
  });

  it('a seed that fills its page marks the count incomplete; a restore makes every write read storage', () => {
    const s = store();
    for (let i = 0; i < SIZE_SEED_KEYS; i++) s.rows.set(`k${i}`, 'v');
    const size = new SplitSize();
    size.seed(s.reader, ALL);
    s.write(size, [['k1', 'vv'], ['zz', 'v']]);
    expect({ keys: size.keys, bytes: size.bytes }).toEqual(s.truth());
    expect(s.reads.get).toBe(1); // only the key the seed did not hold
    const small = store();
    small.rows.set('a', 'v');
    const t = new SplitSize();
    t.seed(small.reader, ALL);
    t.forget();
    small.write(t, [['a', 'vvv'], ['b', 'v']]);
    expect({ keys: t.keys, bytes: t.bytes }).toEqual(small.truth());
    expect(small.reads.get).toBe(2);
  });
});
