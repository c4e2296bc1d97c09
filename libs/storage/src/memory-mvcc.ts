// An in-memory MVCC store with the LMDB keyspace's rule (version-rule.ts) and read API, for the
// simulator and for tests: synchronous, no lmdb (import it from '@synod/storage/memory-mvcc' to
// load no native module at all). It implements @synod/txn's MvccReader structurally.
import {
  checkReadable,
  compareKeys,
  garbageBelow,
  GcHorizon,
  MAX_TS,
  recordOf,
  validateRows,
  validateWrites,
  visibleRows,
  visibleVersion,
  type MvccRecord,
  type MvccRow,
  type ReadResult,
  type VersionWrite,
} from './version-rule.js';

/** One version of a key: `[commit ts, record]`. */
type Version = [number, MvccRecord];

/**
 * Values are stored and returned by reference (the LMDB store returns copies): callers must treat a
 * value as immutable once written or read.
 */
export class MemoryMvccStore {
  /** Per key, its versions ascending by timestamp (the newest is appended). */
  private readonly versions = new Map<string, Version[]>();
  /** Every key with a version, in code-point order (compareKeys). */
  private keys: string[] = [];
  private readonly horizon = new GcHorizon();

  /** Writes `versions` (a version at an existing key and timestamp replaces it). */
  put(versions: readonly VersionWrite[]): void {
    validateWrites(versions);
    for (const w of versions) this.insert(w.key, w.ts, recordOf(w));
  }

  /** The value of `key` as of `ts`: its newest version at or below `ts`; undefined if none or deleted. */
  get(key: string, ts: number): ReadResult | undefined {
    checkReadable(ts, this.horizon.get());
    const list = this.versions.get(key);
    return list ? visibleVersion(key, newestFirst(list), ts) : undefined;
  }

  /** Timestamp of the newest version of `key` (tombstones count), or 0. */
  latestVersionTs(key: string): number {
    const list = this.versions.get(key);
    return list && list.length > 0 ? list[list.length - 1]![0] : 0;
  }

  /** Live keys in `[start, end)` as of `ts`, in key order, at most `limit`. `end` '' means unbounded. */
  scan(start: string, end: string, ts: number, limit = 1000): ReadResult[] {
    checkReadable(ts, this.horizon.get());
    return visibleRows(this.rows(start, end), ts, limit);
  }

  /** Reads below this timestamp are refused (SNAPSHOT_TOO_OLD); 0 before the first GC. */
  gcHorizon(): number {
    return this.horizon.get();
  }

  /** Every version in `[start, end)` (`end` '' = unbounded) with a timestamp at or below `maxTs`, in key order. */
  rangeRows(start: string, end: string, maxTs = MAX_TS - 1): MvccRow[] {
    const out: MvccRow[] = [];
    for (const row of this.rows(start, end)) if (row[1] <= maxTs) out.push(row);
    return out;
  }

  /** Replaces every version in `[start, end)` with `rows` (snapshot install). */
  replaceRange(start: string, end: string, rows: readonly MvccRow[]): void {
    validateRows(start, end, rows);
    const [from, to] = this.keyIndexes(start, end);
    for (const k of this.keys.slice(from, to)) this.versions.delete(k);
    this.keys.splice(from, to - from);
    for (const [k, ts, rec] of rows) this.insert(k, ts, rec);
  }

  /**
   * Drops versions no read at or above `horizon` can need (version-rule.ts). Returns how many it
   * removed; 0 if the horizon does not move forward.
   */
  gc(horizon: number): number {
    if (!this.horizon.advance(horizon)) return 0;
    const doomed = garbageBelow(this.rows('', ''), horizon);
    const byKey = new Map<string, Set<number>>();
    for (const [k, ts] of doomed) {
      let set = byKey.get(k);
      if (!set) byKey.set(k, (set = new Set()));
      set.add(ts);
    }
    for (const [k, tss] of byKey) {
      const kept = this.versions.get(k)!.filter(([ts]) => !tss.has(ts));
      if (kept.length > 0) this.versions.set(k, kept);
      else this.versions.delete(k);
    }
    if (this.keys.length !== this.versions.size) this.keys = this.keys.filter((k) => this.versions.has(k));
    return doomed.length;
  }

  /** Keys with at least one version (tombstones count). */
  get keyCount(): number {
    return this.keys.length;
  }

  private insert(key: string, ts: number, rec: MvccRecord): void {
    let list = this.versions.get(key);
    if (!list) {
      this.versions.set(key, (list = []));
      this.keys.splice(this.lowerBound(key), 0, key);
    }
    // Commits arrive in timestamp order almost always: append; otherwise insert in place.
    let i = list.length;
    while (i > 0 && list[i - 1]![0] > ts) i--;
    if (i > 0 && list[i - 1]![0] === ts) list[i - 1] = [ts, rec];
    else list.splice(i, 0, [ts, rec]);
  }

  /** Every version in `[start, end)` in key order, per key newest first: what the rule reads. */
  private *rows(start: string, end: string): Generator<MvccRow> {
    const [from, to] = this.keyIndexes(start, end);
    for (let i = from; i < to; i++) {
      const k = this.keys[i]!;
      for (const [ts, rec] of newestFirst(this.versions.get(k)!)) yield [k, ts, rec];
    }
  }

  /** Indexes `[from, to)` of the keys in `[start, end)`. */
  private keyIndexes(start: string, end: string): [number, number] {
    const from = this.lowerBound(start);
    const to = end === '' ? this.keys.length : Math.max(from, this.lowerBound(end));
    return [from, to];
  }

  /** First index whose key is at or above `key`. */
  private lowerBound(key: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(this.keys[mid]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

function* newestFirst(list: readonly Version[]): Generator<Version> {
  for (let i = list.length - 1; i >= 0; i--) yield list[i]!;
}
