// Incremental version GC (version-gc.ts; docs/spanserver.md, "Version GC"): bounded slices with
// turns of the event loop between them, the same result as the whole-keyspace rule (the
// in-memory store), and the rules a pass keeps while the store is in use.
import { Prng } from '@synod/prng';
import { describe, expect, it } from 'vitest';
import { MemoryMvccStore } from './memory-mvcc.js';
import type { MvccStore } from './mvcc-store.js';
import { storageFixture } from './storage.fixture.js';
import type { GcSlice } from './version-gc.js';
import type { VersionWrite } from './version-rule.js';

const fresh = storageFixture({ fsync: false });
const tooOld = expect.objectContaining({ code: 'SNAPSHOT_TOO_OLD' });
/** A clock that never moves: slices end on their entry bound only. */
const frozen = () => 0;
const HORIZON = 1_000;

/** The project's seeded PRNG: the same data every run. */
function prng(seed: number): () => number {
  const p = new Prng(seed);
  return () => p.next();
}

/**
 * About `total` versions: keys of 1-12 random versions (some tombstones) around the horizon, a
 * run of keys with one version above it (slices with nothing to delete), and a few keys of
 * 2,500 versions each (spanning several slices).
 */
function dataset(total: number, seed = 11): VersionWrite[] {
  const rnd = prng(seed);
  const out: VersionWrite[] = [];
  for (let h = 0; h < 3; h++) for (let ts = 1; ts <= 2_500; ts++) out.push(rnd() < 0.1 ? { key: `h/${h}`, ts, deleted: true } : { key: `h/${h}`, ts, value: `h${h}@${ts}` });
  for (let i = 0; i < 3_000; i++) out.push({ key: `b/${String(i).padStart(5, '0')}`, ts: HORIZON + 1 + i, value: i });
  for (let i = 0; out.length < total; i++) {
    const key = `a/${String(i).padStart(6, '0')}`;
    const n = 1 + Math.floor(rnd() * 12);
    for (let j = 0; j < n; j++) {
      const ts = 1 + Math.floor(rnd() * 2_000);
      out.push(rnd() < 0.15 ? { key, ts, deleted: true } : { key, ts, value: `${key}@${ts}` });
    }
  }
  return out;
}

async function load(store: MvccStore, ref: MemoryMvccStore, writes: readonly VersionWrite[]): Promise<void> {
  for (let i = 0; i < writes.length; i += 5_000) await store.put(writes.slice(i, i + 5_000));
  ref.put(writes);
}

/** Every read at or above the horizon (gets at several timestamps, a full scan) answers as the reference does. */
function expectSameReads(store: MvccStore, ref: MemoryMvccStore, keys: readonly string[], at: readonly number[]): void {
  for (const ts of at) {
    for (const key of keys) expect(store.get(key, ts), `${key} at ${ts}`).toEqual(ref.get(key, ts));
    expect(store.scan('', '', ts, 1_000_000)).toEqual(ref.scan('', '', ts, 1_000_000));
  }
}

const keysOf = (writes: readonly VersionWrite[]) => [...new Set(writes.map((w) => w.key))];

describe('incremental version GC', () => {
  it('a pass over 50,000 versions runs in bounded slices with event-loop turns between them, and ends as the whole-keyspace rule does', async () => {
    const { storage } = fresh();
    const ref = new MemoryMvccStore();
    const writes = dataset(50_000);
    await load(storage.mvcc, ref, writes);
    const before = storage.mvcc.rangeRows('', '').length;
    expect(before).toBe(ref.rangeRows('', '').length);

    let turns = 0;
    let ticking = true;
    const tick = () => {
      turns++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const slices: Array<GcSlice & { turns: number }> = [];
    const report = await storage.mvcc.gcPass(HORIZON, { now: frozen, onSlice: (s) => void slices.push({ ...s, turns }) });
    ticking = false;

    const refRemoved = ref.gc(HORIZON);
    expect(report).toMatchObject({ outcome: 'completed', horizon: HORIZON, removed: refRemoved, versionsScanned: before });
    expect(report.keysScanned).toBe(keysOf(writes).length); // a key spanning slices counts once
    expect(report.slices).toBe(slices.length);
    expect(report.slices).toBeGreaterThanOrEqual(Math.ceil(before / 1_000));
    for (const s of slices) expect(s.versionsScanned).toBeLessThanOrEqual(1_000);
    // Other macrotasks ran between every two slices, deletions or not.
    for (let i = 1; i < slices.length; i++) expect(slices[i]!.turns, `turns before slice ${i}`).toBeGreaterThan(slices[i - 1]!.turns);
    expect(storage.mvcc.rangeRows('', '')).toEqual(ref.rangeRows('', ''));
    expectSameReads(storage.mvcc, ref, ['h/0', 'h/1', 'h/2', 'a/000001', 'b/00007'], [HORIZON, 1_500, 2_600, 5_000]);
  }, 60_000);

  it('a key whose versions span slices is decided as in one read: its newest at or below the horizon stays, a tombstone there goes only with the versions it hides', async () => {
    const { storage } = fresh();
    const ref = new MemoryMvccStore();
    const writes: VersionWrite[] = [
      // Slice 1 of 2 versions ends at a's tombstone (the version a read at the horizon sees);
      // slice 2 holds the values it hides.
      { key: 'a', ts: 1_500, value: 'a-new' },
      { key: 'a', ts: 900, deleted: true },
      { key: 'a', ts: 800, value: 'a-hidden' },
      { key: 'a', ts: 700, value: 'a-older' },
      // Slice 3 ends at b's kept value; slice 4 starts with the older one it hides.
      { key: 'b', ts: 950, value: 'b-kept' },
      { key: 'b', ts: 600, value: 'b-old' },
      { key: 'c', ts: 100, value: 'c' },
    ];
    await load(storage.mvcc, ref, writes);
    const keys = keysOf(writes);
    const seen: number[] = [];
    // Between slices (each one's deletions durable), every read at or above the horizon already
    // answers as after the whole pass.
    const settled = new MemoryMvccStore();
    settled.put(writes);
    settled.gc(HORIZON);
    const report = await storage.mvcc.gcPass(HORIZON, {
      sliceEntries: 2,
      now: frozen,
      onSlice: (s) => {
        seen.push(s.versionsScanned);
        expectSameReads(storage.mvcc, settled, keys, [HORIZON, 1_200, 2_000]);
      },
    });
    expect(seen.every((n) => n <= 2)).toBe(true);
    expect(report.removed).toBe(ref.gc(HORIZON));
    expect(storage.mvcc.rangeRows('', '')).toEqual(ref.rangeRows('', ''));
    expect(storage.mvcc.rangeRows('', '')).toEqual([
      ['a', 1_500, { v: 'a-new' }],
      ['b', 950, { v: 'b-kept' }],
      ['c', 100, { v: 'c' }],
    ]);
    expect(report.keysScanned).toBe(3);
  });

  it('random keyspaces cut into slices of every small size end as the whole-keyspace rule does, and reads between slices never change', async () => {
    for (const [seed, sliceEntries] of [
      [1, 1],
      [2, 2],
      [3, 3],
      [4, 5],
      [5, 7],
      [6, 64],
    ] as const) {
      const { storage } = fresh();
      const ref = new MemoryMvccStore();
      const rnd = prng(seed);
      const writes: VersionWrite[] = [];
      for (let k = 0; k < 40; k++)
        for (let n = Math.floor(rnd() * 9); n > 0; n--) {
          const ts = 1 + Math.floor(rnd() * 2 * HORIZON);
          writes.push(rnd() < 0.3 ? { key: `k${k}`, ts, deleted: true } : { key: `k${k}`, ts, value: `k${k}@${ts}` });
        }
      await load(storage.mvcc, ref, writes);
      const settled = new MemoryMvccStore();
      settled.put(writes);
      settled.gc(HORIZON);
      const keys = keysOf(writes);
      const report = await storage.mvcc.gcPass(HORIZON, { sliceEntries, now: frozen, onSlice: () => expectSameReads(storage.mvcc, settled, keys, [HORIZON, 1_999]) });
      expect(report.removed, `seed ${seed}`).toBe(ref.gc(HORIZON));
      expect(storage.mvcc.rangeRows('', ''), `seed ${seed}, slices of ${sliceEntries}`).toEqual(ref.rangeRows('', ''));
    }
  });

  it('a slice stops reading once its time budget is used (clock injected)', async () => {
    const { storage } = fresh();
    await storage.mvcc.put(Array.from({ length: 200 }, (_, i) => ({ key: `k${String(i).padStart(3, '0')}`, ts: 10, value: i })));
    let clock = 0;
    const slices: GcSlice[] = [];
    // Each reading of the clock advances it 1 ms: a 5 ms budget is used after 5 versions.
    const report = await storage.mvcc.gcPass(HORIZON, { sliceBudgetMs: 5, now: () => clock++, onSlice: (s) => void slices.push(s) });
    expect(report.versionsScanned).toBe(200);
    expect(Math.max(...slices.map((s) => s.versionsScanned))).toBe(5);
    expect(report.slices).toBe(41); // 40 full slices, then one that finds the end
    expect(report.longestSliceMs).toBe(6);
  });

  it('refuses reads below the horizon before the first deletion is submitted, and for the whole pass', async () => {
    const { storage } = fresh();
    await storage.mvcc.put(Array.from({ length: 50 }, (_, i) => [{ key: `k${i}`, ts: 10, value: 'old' }, { key: `k${i}`, ts: 20, value: 'new' }]).flat());
    let checks = 0;
    const expectRefused = () => {
      checks++;
      expect(() => storage.mvcc.get('k7', HORIZON - 1)).toThrow(tooOld);
      expect(() => storage.mvcc.scan('', '', HORIZON - 1)).toThrow(tooOld);
    };
    const pass = storage.mvcc.gcPass(HORIZON, {
      sliceEntries: 10,
      now: frozen,
      beforeFirstDelete: async () => expectRefused(),
      onSlice: expectRefused,
    });
    expectRefused();
    const report = await pass;
    expect(report).toMatchObject({ outcome: 'completed', removed: 50 });
    expect(checks).toBe(1 + 1 + report.slices);
    expect(storage.mvcc.get('k7', HORIZON)).toMatchObject({ value: 'new' });
  });

  it('a horizon never goes down, and a request while a pass runs is skipped without moving the horizon', async () => {
    const { storage } = fresh();
    await storage.mvcc.put(Array.from({ length: 30 }, (_, i) => [{ key: `k${i}`, ts: 10, value: 'a' }, { key: `k${i}`, ts: 20, value: 'b' }, { key: `k${i}`, ts: 30, value: 'c' }]).flat());
    let during: Awaited<ReturnType<MvccStore['gcPass']>> | undefined;
    const first = await storage.mvcc.gcPass(25, {
      sliceEntries: 10,
      now: frozen,
      onSlice: async () => {
        during ??= await storage.mvcc.gcPass(35);
        expect(storage.mvcc.gcRunning).toBe(true);
      },
    });
    expect(first).toMatchObject({ outcome: 'completed', removed: 30 });
    expect(during).toMatchObject({ outcome: 'busy', removed: 0 });
    expect(storage.mvcc.gcHorizon()).toBe(25);
    expect(storage.mvcc.gcRunning).toBe(false);
    expect(await storage.mvcc.gcPass(20)).toMatchObject({ outcome: 'behind', removed: 0 });
    expect(storage.mvcc.gcHorizon()).toBe(25);
    expect(await storage.mvcc.gcPass(35)).toMatchObject({ outcome: 'completed', removed: 30 });
    expect(storage.mvcc.rangeRows('', '').every(([, ts]) => ts === 30)).toBe(true);
  });

  it('writes during a pass survive it: new versions above the horizon, a snapshot restore of a range, a rewrite ahead of the cursor', async () => {
    const { storage } = fresh();
    const ref = new MemoryMvccStore();
    const rnd = prng(3);
    const writes: VersionWrite[] = [];
    for (let k = 0; k < 300; k++) for (let n = 1 + Math.floor(rnd() * 6); n > 0; n--) writes.push({ key: `k${String(k).padStart(3, '0')}`, ts: 1 + Math.floor(rnd() * 1_900), value: `${k}:${n}` });
    await load(storage.mvcc, ref, writes);
    ref.gc(HORIZON);
    // A peer's snapshot of k100..k199: the same history, uncollected.
    const peerRows = new MemoryMvccStore();
    peerRows.put(writes);
    const restoreRows = peerRows.rangeRows('k100', 'k200');
    const during: Array<() => Promise<void> | void> = [
      // A snapshot restore deletes and rewrites a range the pass is in the middle of.
      () => storage.mvcc.replaceRange('k100', 'k200', restoreRows),
      // Behind, inside and ahead of the cursor, above the horizon.
      () => storage.mvcc.put([{ key: 'k000', ts: 3_000, value: 'late' }, { key: 'k299', ts: 3_001, value: 'late' }, { key: 'k150', ts: 3_002, deleted: true }]),
      // A new key ahead of the cursor, and versions of a key already passed.
      () => storage.mvcc.put([{ key: 'k250x', ts: 3_003, value: 'new key' }, { key: 'k001', ts: 3_004, value: 'again' }]),
    ];
    const refDuring = () => {
      ref.replaceRange('k100', 'k200', restoreRows);
      ref.put([{ key: 'k000', ts: 3_000, value: 'late' }, { key: 'k299', ts: 3_001, value: 'late' }, { key: 'k150', ts: 3_002, deleted: true }]);
      ref.put([{ key: 'k250x', ts: 3_003, value: 'new key' }, { key: 'k001', ts: 3_004, value: 'again' }]);
    };
    // The restore lands while the pass is inside k130..k169 (a slice is 50 versions, the range ~140).
    const before = (key: string) => peerRows.rangeRows('', key).length;
    const [from, to, total] = [before('k130'), before('k170'), peerRows.rangeRows('', '').length];
    let scanned = 0;
    const restoredAt: number[] = [];
    const report = await storage.mvcc.gcPass(HORIZON, {
      sliceEntries: 50,
      now: frozen,
      onSlice: async (s) => {
        scanned += s.versionsScanned;
        if (during.length === 3 && scanned >= from && scanned < to) restoredAt.push(scanned);
        if (during.length < 3 || restoredAt.length > 0) await during.shift()?.();
      },
    });
    refDuring();
    expect(report.outcome).toBe('completed');
    expect(during).toHaveLength(0);
    expect(restoredAt[0]).toBeLessThan(total - 100); // two more slices at least ran after it
    const keys = [...keysOf(writes), 'k250x'];
    expectSameReads(storage.mvcc, ref, keys, [HORIZON, 1_500, 3_000, 3_002, 4_000]);
    for (const [k, ts] of [['k000', 3_000], ['k299', 3_001], ['k150', 3_002], ['k250x', 3_003], ['k001', 3_004]] as const) expect(storage.mvcc.latestVersionTs(k)).toBe(ts);
  });

  it('closing the store during a pass stops it before its next slice: nothing is written after close, nothing rejects', async () => {
    const { storage, reopen } = fresh();
    const versions = Array.from({ length: 100 }, (_, i) => [{ key: `k${String(i).padStart(3, '0')}`, ts: 10, value: 'old' }, { key: `k${String(i).padStart(3, '0')}`, ts: 20, value: 'new' }]).flat();
    await storage.mvcc.put(versions);
    let closing: Promise<void> | undefined;
    let slices = 0;
    const report = await storage.collectVersions(HORIZON, {
      sliceEntries: 20,
      now: frozen,
      onSlice: () => {
        if (++slices === 2) closing = storage.close();
      },
    });
    await closing;
    expect(report).toMatchObject({ outcome: 'stopped', slices: 2, removed: 20 });
    expect(() => storage.collectVersions(HORIZON + 1)).toThrow(/closed/);
    const again = await reopen();
    // Exactly the first two slices' deletions reached the disk.
    expect(again.mvcc.rangeRows('', '')).toHaveLength(200 - 20);
    // And the horizon they were collected at was persisted before the first of them.
    expect(again.timeMark().gcHorizonUs).toBe(HORIZON);
  });

  it('collectVersions persists the horizon only when the pass deletes something', async () => {
    const { storage } = fresh();
    await storage.mvcc.put([{ key: 'only', ts: 10, value: 1 }]);
    expect(await storage.collectVersions(500)).toMatchObject({ outcome: 'completed', removed: 0 });
    expect(storage.timeMark().gcHorizonUs).toBe(0);
    const batches = storage.stats.batchesCommitted;
    await storage.mvcc.put([{ key: 'only', ts: 20, value: 2 }]);
    expect(await storage.collectVersions(600)).toMatchObject({ outcome: 'completed', removed: 1 });
    expect(storage.timeMark().gcHorizonUs).toBe(600);
    expect(storage.stats.batchesCommitted).toBeGreaterThan(batches);
  });

  it('refuses malformed options and horizons', async () => {
    const { storage } = fresh();
    await expect(storage.mvcc.gcPass(10, { sliceEntries: 0 })).rejects.toThrow(/sliceEntries/);
    await expect(storage.mvcc.gcPass(10, { sliceEntries: 10_001 })).rejects.toThrow(/sliceEntries/);
    await expect(storage.mvcc.gcPass(10, { sliceBudgetMs: 0 })).rejects.toThrow(/sliceBudgetMs/);
    await expect(storage.mvcc.gcPass(Number.NaN)).rejects.toThrow(/bad horizon/);
    expect(storage.mvcc.gcHorizon()).toBe(0);
  });
});
