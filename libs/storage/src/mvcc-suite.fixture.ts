// One behavioural suite for every MVCC store (the LMDB keyspace and the in-memory one): both must
// follow the version-selection rule of version-rule.ts exactly. Run it with `mvccStoreSuite`.
import { Prng } from '@synod/prng';
import { describe, expect, it } from 'vitest';
import type { MvccRow, ReadResult, VersionWrite } from './version-rule.js';

/** What the suite needs of a store; writes and GC may be synchronous or durable-on-resolve. */
export interface SuiteStore {
  put(versions: readonly VersionWrite[]): void | Promise<void>;
  get(key: string, ts: number): ReadResult | undefined;
  scan(start: string, end: string, ts: number, limit?: number): ReadResult[];
  latestVersionTs(key: string): number;
  rangeRows(start: string, end: string, maxTs?: number): MvccRow[];
  replaceRange(start: string, end: string, rows: readonly MvccRow[]): void | Promise<void>;
  gc(horizon: number): number | Promise<number>;
  gcHorizon(): number;
}

/** The project's seeded PRNG: the many-versions case is the same run every time. */
function prng(seed: number): () => number {
  const p = new Prng(seed);
  return () => p.next();
}

/** The rule spelled out naively over a list of writes (a later write at the same key and ts wins). */
class Model {
  readonly writes: VersionWrite[] = [];
  horizon = 0;
  versionsOf(key: string): VersionWrite[] {
    const byTs = new Map<number, VersionWrite>();
    for (const w of this.writes) if (w.key === key) byTs.set(w.ts, w);
    return [...byTs.values()].sort((a, b) => b.ts - a.ts);
  }
  get(key: string, ts: number): ReadResult | undefined {
    const v = this.versionsOf(key).find((w) => w.ts <= ts);
    return v && !v.deleted ? { key, value: v.value, ts: v.ts } : undefined;
  }
  keys(): string[] {
    return [...new Set(this.writes.map((w) => w.key))].sort();
  }
}

const tooOld = expect.objectContaining({ code: 'SNAPSHOT_TOO_OLD' });

export function mvccStoreSuite(name: string, makeStore: () => SuiteStore): void {
  describe(`MVCC version rule: ${name}`, () => {
    it('reads the newest version at or below the read timestamp', async () => {
      const m = makeStore();
      await m.put([
        { key: 'a', ts: 100, value: 'a1' },
        { key: 'a', ts: 200, value: 'a2' },
        { key: 'a', ts: 300, deleted: true },
        { key: 'b', ts: 150, value: 'b1' },
      ]);
      expect(m.get('a', 99)).toBeUndefined();
      expect(m.get('a', 100)).toEqual({ key: 'a', value: 'a1', ts: 100 });
      expect(m.get('a', 199)).toEqual({ key: 'a', value: 'a1', ts: 100 });
      expect(m.get('a', 200)).toEqual({ key: 'a', value: 'a2', ts: 200 });
      expect(m.get('a', 250)).toEqual({ key: 'a', value: 'a2', ts: 200 });
      expect(m.get('a', 300)).toBeUndefined();
      expect(m.get('b', 1_000)).toEqual({ key: 'b', value: 'b1', ts: 150 });
      expect(m.get('nope', 1_000)).toBeUndefined();
      expect(m.latestVersionTs('a')).toBe(300);
      expect(m.latestVersionTs('b')).toBe(150);
      expect(m.latestVersionTs('zzz')).toBe(0);
    });

    it('a later write at the same key and timestamp replaces the version; writes may arrive out of order', async () => {
      const m = makeStore();
      await m.put([{ key: 'k', ts: 50, value: 'late' }]);
      await m.put([{ key: 'k', ts: 20, value: 'early' }]);
      await m.put([{ key: 'k', ts: 50, value: 'again' }]);
      expect(m.get('k', 30)).toEqual({ key: 'k', value: 'early', ts: 20 });
      expect(m.get('k', 60)).toEqual({ key: 'k', value: 'again', ts: 50 });
      expect(m.rangeRows('', '')).toEqual([
        ['k', 50, { v: 'again' }],
        ['k', 20, { v: 'early' }],
      ]);
    });

    it('a tombstone hides the key from its timestamp on, until a newer version', async () => {
      const m = makeStore();
      await m.put([
        { key: 't', ts: 10, value: 'v10' },
        { key: 't', ts: 20, deleted: true },
        { key: 't', ts: 30, value: 'v30' },
        { key: 'u', ts: 5, deleted: true },
      ]);
      expect(m.get('t', 19)).toMatchObject({ value: 'v10', ts: 10 });
      expect(m.get('t', 20)).toBeUndefined();
      expect(m.get('t', 29)).toBeUndefined(); // not the older v10 behind the tombstone
      expect(m.get('t', 30)).toMatchObject({ value: 'v30', ts: 30 });
      expect(m.get('u', 100)).toBeUndefined();
      expect(m.latestVersionTs('u')).toBe(5);
      expect(m.scan('', '', 25).map((r) => r.key)).toEqual([]);
      expect(m.scan('', '', 35).map((r) => r.key)).toEqual(['t']);
      // Falsy values are values, not tombstones.
      await m.put([
        { key: 'z', ts: 1, value: 0 },
        { key: 'z', ts: 2, value: null },
        { key: 'z', ts: 3, value: '' },
      ]);
      expect(m.get('z', 1)).toEqual({ key: 'z', value: 0, ts: 1 });
      expect(m.get('z', 2)).toEqual({ key: 'z', value: null, ts: 2 });
      expect(m.get('z', 3)).toEqual({ key: 'z', value: '', ts: 3 });
    });

    it('scans a range as of a timestamp, skipping deleted and not-yet-written keys', async () => {
      const m = makeStore();
      await m.put([
        { key: 'k1', ts: 10, value: 1 },
        { key: 'k2', ts: 10, value: 2 },
        { key: 'k2', ts: 20, deleted: true },
        { key: 'k3', ts: 30, value: 3 },
        { key: 'k10', ts: 10, value: 10 },
        { key: 'x', ts: 10, value: 'out of range' },
      ]);
      const keys = (ts: number, limit?: number) => m.scan('k', 'l', ts, limit).map((r) => `${r.key}=${String(r.value)}`);
      expect(keys(15)).toEqual(['k1=1', 'k10=10', 'k2=2']);
      expect(keys(25)).toEqual(['k1=1', 'k10=10']);
      expect(keys(35)).toEqual(['k1=1', 'k10=10', 'k3=3']);
      expect(keys(35, 2)).toEqual(['k1=1', 'k10=10']);
      expect(m.scan('', '', 35).map((r) => r.key)).toEqual(['k1', 'k10', 'k3', 'x']);
    });

    it('scan bounds: start inclusive, end exclusive, open end; the limit counts live keys only', async () => {
      const m = makeStore();
      await m.put([
        { key: 'a', ts: 10, value: 'a' },
        { key: 'b', ts: 10, deleted: true },
        { key: 'c', ts: 10, value: 'c' },
        { key: 'c', ts: 20, value: 'c2' },
        { key: 'd', ts: 10, value: 'd' },
        { key: 'e', ts: 40, value: 'e' },
      ]);
      const scan = (s: string, e: string, ts: number, limit?: number) => m.scan(s, e, ts, limit).map((r) => `${r.key}@${r.ts}`);
      expect(scan('b', 'd', 30)).toEqual(['c@20']);
      expect(scan('c', '', 30)).toEqual(['c@20', 'd@10']);
      expect(scan('c', '', 50)).toEqual(['c@20', 'd@10', 'e@40']);
      expect(scan('a', '', 15, 2)).toEqual(['a@10', 'c@10']); // the tombstoned b takes no slot
      expect(scan('a', '', 15, 1)).toEqual(['a@10']);
      expect(scan('d', 'c', 50)).toEqual([]);
      expect(scan('f', '', 50)).toEqual([]);
    });

    it('orders keys by code point, as LMDB does (not by UTF-16 code unit)', async () => {
      const m = makeStore();
      const keys = ['b', '\u{10000}', '\uffff', '\ue000', 'a\u0000', 'a', 'A', '\u00e9'];
      await m.put(keys.map((key, i) => ({ key, ts: 10, value: i })));
      expect(m.scan('', '', 10).map((r) => r.key)).toEqual(['A', 'a', 'a\u0000', 'b', '\u00e9', '\ue000', '\uffff', '\u{10000}']);
      expect(m.scan('\uffff', '', 10).map((r) => r.key)).toEqual(['\uffff', '\u{10000}']);
      expect(m.scan('\ue000', '\u{10000}', 10).map((r) => r.key)).toEqual(['\ue000', '\uffff']);
    });

    it('rangeRows returns every version in the range at or below maxTs, newest first per key', async () => {
      const m = makeStore();
      await m.put([
        { key: 'a', ts: 10, value: 1 },
        { key: 'a', ts: 20, deleted: true },
        { key: 'b', ts: 30, value: 3 },
        { key: 'c', ts: 5, value: 'c' },
      ]);
      expect(m.rangeRows('a', 'c')).toEqual([
        ['a', 20, { del: 1 }],
        ['a', 10, { v: 1 }],
        ['b', 30, { v: 3 }],
      ]);
      expect(m.rangeRows('', '', 20)).toEqual([
        ['a', 20, { del: 1 }],
        ['a', 10, { v: 1 }],
        ['c', 5, { v: 'c' }],
      ]);
    });

    it('replaceRange swaps a range for snapshot rows and leaves the rest', async () => {
      const m = makeStore();
      await m.put([
        { key: 'a', ts: 5, value: 'old' },
        { key: 'b', ts: 5, value: 'old' },
        { key: 'z', ts: 5, value: 'other split' },
      ]);
      await m.replaceRange('', 'm', [
        ['b', 7, { v: 'new' }],
        ['b', 3, { v: 'older' }],
        ['c', 9, { del: 1 }],
      ]);
      expect(m.get('a', 10)).toBeUndefined();
      expect(m.get('b', 10)).toMatchObject({ value: 'new', ts: 7 });
      expect(m.get('b', 4)).toMatchObject({ value: 'older', ts: 3 });
      expect(m.latestVersionTs('c')).toBe(9);
      expect(m.get('z', 10)).toMatchObject({ value: 'other split' });
      expect(() => m.replaceRange('', 'm', [['q', 1, { v: 1 }]])).toThrow(/outside/);
    });

    it('GC keeps what reads at or above the horizon need and refuses older reads', async () => {
      const m = makeStore();
      await m.put([
        { key: 'a', ts: 10, value: 'a10' },
        { key: 'a', ts: 20, value: 'a20' },
        { key: 'a', ts: 40, value: 'a40' },
        { key: 'd', ts: 10, value: 'd10' },
        { key: 'd', ts: 20, deleted: true },
      ]);
      expect(m.gcHorizon()).toBe(0);
      const removed = await m.gc(30);
      expect(removed).toBe(3); // a@10, d@10 and d's tombstone
      expect(m.gcHorizon()).toBe(30);
      expect(m.get('a', 30)).toMatchObject({ value: 'a20' });
      expect(m.get('a', 45)).toMatchObject({ value: 'a40' });
      expect(m.get('d', 30)).toBeUndefined();
      expect(m.rangeRows('', '')).toEqual([
        ['a', 40, { v: 'a40' }],
        ['a', 20, { v: 'a20' }],
      ]);
      expect(() => m.get('a', 29)).toThrow(tooOld);
      expect(await m.gc(25)).toBe(0); // the horizon only moves forward
      expect(m.gcHorizon()).toBe(30);
    });

    it('GC at a version’s own timestamp keeps it (or drops it if it is a tombstone); newer versions always stay', async () => {
      const m = makeStore();
      await m.put([
        { key: 'p', ts: 10, value: 'p10' },
        { key: 'p', ts: 30, value: 'p30' },
        { key: 'q', ts: 10, value: 'q10' },
        { key: 'q', ts: 30, deleted: true },
        { key: 'q', ts: 50, value: 'q50' },
        { key: 'r', ts: 40, value: 'r40' },
        { key: 'r', ts: 45, deleted: true },
      ]);
      expect(await m.gc(30)).toBe(3); // p@10, q@10, q's tombstone @30
      expect(m.rangeRows('', '')).toEqual([
        ['p', 30, { v: 'p30' }],
        ['q', 50, { v: 'q50' }],
        ['r', 45, { del: 1 }],
        ['r', 40, { v: 'r40' }],
      ]);
      expect(m.get('p', 30)).toMatchObject({ value: 'p30' });
      expect(m.get('q', 30)).toBeUndefined();
      expect(m.get('q', 49)).toBeUndefined();
      expect(m.get('r', 42)).toMatchObject({ value: 'r40' });
      expect(await m.gc(46)).toBe(2); // r's tombstone and the r40 behind it
      expect(m.latestVersionTs('r')).toBe(0);
      expect(m.get('q', 60)).toMatchObject({ value: 'q50' });
    });

    it('refuses reads below the GC horizon with SNAPSHOT_TOO_OLD (get and scan), and malformed timestamps', async () => {
      const m = makeStore();
      await m.put([{ key: 'a', ts: 10, value: 1 }]);
      await m.gc(100);
      expect(m.get('a', 100)).toMatchObject({ value: 1 }); // at the horizon: fine
      expect(() => m.get('a', 99)).toThrow(tooOld);
      expect(() => m.get('never-written', 1)).toThrow(tooOld);
      expect(() => m.scan('', '', 99)).toThrow(tooOld);
      expect(m.scan('', '', 100)).toHaveLength(1);
      try {
        m.get('a', 50);
        expect.unreachable();
      } catch (err) {
        expect(err).toMatchObject({ code: 'SNAPSHOT_TOO_OLD', hint: { horizon: 100 } });
      }
      expect(() => m.get('a', -1)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
      expect(() => m.get('a', 1.5)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
      expect(() => m.put([{ key: 'a', ts: 1.5, value: 1 }])).toThrow(/bad timestamp/);
      expect(() => m.put([{ key: 'a', ts: 0, value: 1 }])).toThrow(/bad timestamp/);
      await expect(async () => m.gc(-5)).rejects.toThrow(/bad horizon/);
    });

    it('many versions per key, written out of order: every read matches the rule, before and after GC', async () => {
      const m = makeStore();
      const model = new Model();
      const rnd = prng(7);
      const keys = Array.from({ length: 12 }, (_, i) => `key-${i}`);
      const writes: VersionWrite[] = [];
      for (const key of keys) {
        for (let n = 0; n < 120; n++) {
          const ts = 1 + Math.floor(rnd() * 2_000);
          writes.push(rnd() < 0.15 ? { key, ts, deleted: true } : { key, ts, value: `${key}@${ts}#${n}` });
        }
      }
      // Shuffled and written in several batches.
      for (let i = writes.length - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1));
        [writes[i], writes[j]] = [writes[j]!, writes[i]!];
      }
      for (let i = 0; i < writes.length; i += 97) {
        const batch = writes.slice(i, i + 97);
        await m.put(batch);
        model.writes.push(...batch);
      }
      const check = (from: number) => {
        for (let ts = from; ts <= 2_100; ts += 13) {
          for (const key of keys) expect(m.get(key, ts), `${key} at ${ts}`).toEqual(model.get(key, ts));
          const live = model.keys().flatMap((k) => model.get(k, ts) ?? []);
          expect(m.scan('', '', ts), `scan at ${ts}`).toEqual(live);
          expect(m.scan('key-3', 'key-7', ts, 2)).toEqual(live.filter((r) => r.key >= 'key-3' && r.key < 'key-7').slice(0, 2));
        }
        for (const key of keys) expect(m.latestVersionTs(key)).toBe(model.versionsOf(key)[0]?.ts ?? 0);
      };
      check(1);
      const before = m.rangeRows('', '').length;
      const removed = await m.gc(1_000);
      expect(removed).toBeGreaterThan(0);
      expect(m.rangeRows('', '').length).toBe(before - removed);
      // At most one version per key at or below the horizon survives, and never a tombstone.
      for (const key of keys) {
        const below = m.rangeRows(key, `${key}\u0000`).filter(([, ts]) => ts <= 1_000);
        expect(below.length).toBeLessThanOrEqual(1);
        if (below[0]) expect(below[0][2]).toHaveProperty('v');
      }
      expect(() => m.get('key-0', 999)).toThrow(tooOld);
      check(1_000);
    });
  });
}
