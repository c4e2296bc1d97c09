import { strict as assert } from 'node:assert';
import type { Database } from 'lmdb';
import { SynodError } from '@synod/codec';
import type { GroupCommitter, WriteOp } from './group-commit.js';

/**
 * MVCC keyspace (DESIGN §6): `[userKey, invertedTimestamp] -> version`. Inverting the timestamp
 * makes a key's newest version come first in key order, so "newest at or below t" is one seek.
 * A node holds at most one replica of any key, so ranges never overlap inside a process.
 */
export type MvccKey = [string, number];
export type MvccRecord = { v: unknown } | { del: 1 };

/** One stored version as exported for a snapshot: `[userKey, commit ts, record]`. */
export type MvccRow = [string, number, MvccRecord];

export interface VersionWrite {
  key: string;
  /** Commit timestamp, integer µs. */
  ts: number;
  /** `undefined` with `deleted: true` writes a tombstone. */
  value?: unknown;
  deleted?: boolean;
}

interface ReadResult {
  key: string;
  value: unknown;
  /** Timestamp of the version read. */
  ts: number;
}

const MAX_TS = Number.MAX_SAFE_INTEGER;
const invert = (ts: number) => MAX_TS - ts;
const isTimestamp = (ts: unknown): ts is number => Number.isSafeInteger(ts) && (ts as number) > 0 && (ts as number) < MAX_TS;

export class MvccStore {
  private horizon = 0;

  constructor(
    private readonly db: Database<MvccRecord, MvccKey>,
    private readonly committer: GroupCommitter,
  ) {}

  /** The value of `key` as of `ts`: its newest version at or below `ts`; undefined if none or deleted. */
  get(key: string, ts: number): ReadResult | undefined {
    this.checkReadable(ts);
    for (const { key: k, value } of this.db.getRange({ start: [key, invert(ts)], end: [key, MAX_TS], limit: 1 })) {
      return 'v' in value ? { key, value: value.v, ts: MAX_TS - k[1] } : undefined;
    }
    return undefined;
  }

  /** Timestamp of the newest version of `key` (tombstones count), or 0. */
  latestVersionTs(key: string): number {
    for (const { key: k } of this.db.getRange({ start: [key, 0], end: [key, MAX_TS], limit: 1 })) return MAX_TS - k[1];
    return 0;
  }

  /** Live keys in `[start, end)` as of `ts`, in key order, at most `limit`. `end` '' means unbounded. */
  scan(start: string, end: string, ts: number, limit = 1000): ReadResult[] {
    this.checkReadable(ts);
    const out: ReadResult[] = [];
    const inv = invert(ts);
    let current: string | undefined;
    let decided = false;
    const range = end === '' ? { start: [start] as unknown as MvccKey } : { start: [start] as unknown as MvccKey, end: [end] as unknown as MvccKey };
    for (const { key: [k, kInv], value } of this.db.getRange(range)) {
      if (k !== current) {
        current = k;
        decided = false;
      }
      if (decided || kInv < inv) continue;
      decided = true;
      if ('v' in value) {
        out.push({ key: k, value: value.v, ts: MAX_TS - kInv });
        if (out.length >= limit) break;
      }
    }
    return out;
  }

  /**
   * Every version in `[start, end)` (`end` '' = unbounded) with a timestamp at or below `maxTs`,
   * in key order, read synchronously (one LMDB read snapshot). Materializes the whole range.
   */
  rangeRows(start: string, end: string, maxTs = MAX_TS - 1): MvccRow[] {
    const out: MvccRow[] = [];
    for (const { key: [k, kInv], value } of this.db.getRange(this.bounds(start, end))) {
      const ts = MAX_TS - kInv;
      if (ts <= maxTs) out.push([k, ts, value]);
    }
    return out;
  }

  /** A write op replacing every version in `[start, end)` with `rows` (snapshot install). */
  replaceRangeOp(start: string, end: string, rows: readonly MvccRow[]): WriteOp {
    for (const [k, ts, rec] of rows) {
      assert(typeof k === 'string' && k >= start && (end === '' || k < end), `mvcc: row key ${JSON.stringify(k)} outside [${start}, ${end})`);
      assert(isTimestamp(ts), `mvcc: bad timestamp ${ts} for ${k}`);
      assert(typeof rec === 'object' && rec !== null && ('v' in rec || 'del' in rec), `mvcc: malformed record for ${k}`);
    }
    const range = this.bounds(start, end);
    return () => {
      // Collect first: deleting under an open cursor would skip entries.
      for (const key of Array.from(this.db.getKeys(range))) this.db.removeSync(key);
      for (const [k, ts, rec] of rows) this.db.putSync([k, invert(ts)], rec);
    };
  }

  private bounds(start: string, end: string): { start: MvccKey; end?: MvccKey } {
    return end === '' ? { start: [start] as unknown as MvccKey } : { start: [start] as unknown as MvccKey, end: [end] as unknown as MvccKey };
  }

  /** A write op that puts `versions`, for composing with other writes into one transaction. */
  writeOp(versions: readonly VersionWrite[]): WriteOp {
    for (const w of versions) {
      assert(typeof w.key === 'string', 'mvcc: key must be a string');
      assert(isTimestamp(w.ts), `mvcc: bad timestamp ${w.ts} for ${w.key}`);
    }
    const records = versions.map((w) => ({ key: [w.key, invert(w.ts)] as MvccKey, record: (w.deleted ? { del: 1 } : { v: w.value }) as MvccRecord }));
    return () => {
      for (const { key, record } of records) this.db.putSync(key, record);
    };
  }

  /** Writes versions durably on their own (tests, bulk loads); appliers use Storage.applyEntry. */
  put(versions: readonly VersionWrite[]): Promise<void> {
    return this.committer.submit(this.writeOp(versions));
  }

  /**
   * Drops versions no read at or above `horizon` can need: per key, everything older than the
   * newest version at or below the horizon (and that version too if it is a tombstone).
   * Returns how many versions it removed. The horizon only moves forward.
   */
  async gc(horizon: number): Promise<number> {
    assert(isTimestamp(horizon), `mvcc: bad horizon ${horizon}`);
    if (horizon <= this.horizon) return 0;
    this.horizon = horizon;
    const inv = invert(horizon);
    const doomed: MvccKey[] = [];
    let current: string | undefined;
    let keptBelow = false;
    for (const { key, value } of this.db.getRange({})) {
      const [k, kInv] = key;
      if (k !== current) {
        current = k;
        keptBelow = false;
      }
      if (kInv < inv) continue; // newer than the horizon: always kept
      if (!keptBelow) {
        keptBelow = true;
        if ('v' in value) continue; // the version a read at the horizon sees
      }
      doomed.push(key);
    }
    if (doomed.length > 0)
      await this.committer.submit(() => {
        for (const key of doomed) this.db.removeSync(key);
      });
    return doomed.length;
  }

  private checkReadable(ts: number): void {
    if (!isTimestamp(ts)) throw new SynodError('INVALID_ARGUMENT', `bad read timestamp ${ts}`);
    if (ts < this.horizon) throw new SynodError('SNAPSHOT_TOO_OLD', `read at ${ts} is below the GC horizon ${this.horizon}`, { horizon: this.horizon });
  }
}
