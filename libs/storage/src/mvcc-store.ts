import type { Database } from 'lmdb';
import type { GroupCommitter, WriteOp } from './group-commit.js';
import { VersionGc, type GcEntry, type GcPassOptions, type GcPassReport } from './version-gc.js';
import {
  checkReadable,
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

export type { MvccRecord, MvccRow, ReadResult, VersionWrite } from './version-rule.js';

/**
 * MVCC keyspace (DESIGN §6): `[userKey, invertedTimestamp] -> version`. Inverting the timestamp
 * makes a key's newest version come first in key order, so "newest at or below t" is one seek.
 * A node holds at most one replica of any key, so ranges never overlap inside a process.
 * Which version a read sees, which reads are refused and what GC drops is version-rule.ts's
 * (shared with MemoryMvccStore); this class only enumerates versions in the order it expects.
 */
export type MvccKey = [string, number];

const invert = (ts: number) => MAX_TS - ts;

export class MvccStore {
  private readonly horizon = new GcHorizon();
  private readonly versionGc: VersionGc;

  constructor(
    private readonly db: Database<MvccRecord, MvccKey>,
    private readonly committer: GroupCommitter,
  ) {
    this.versionGc = new VersionGc({ readSlice: (after, max, over) => this.gcSlice(after, max, over), remove: (entries) => this.gcRemove(entries) }, this.horizon);
  }

  /** The value of `key` as of `ts`: its newest version at or below `ts`; undefined if none or deleted. */
  get(key: string, ts: number): ReadResult | undefined {
    checkReadable(ts, this.horizon.get());
    // The seek lands on the newest version at or below `ts`, the only one the rule can pick: one
    // entry is read (a bounded range, not the generator over every older version, which costs
    // more than the read on this path: every applied version's size is looked up through it).
    for (const { key: k, value } of this.db.getRange({ start: [key, invert(ts)], end: [key, MAX_TS], limit: 1 })) return visibleVersion(key, [[MAX_TS - k[1], value]], ts);
    return undefined;
  }

  /** Timestamp of the newest version of `key` (tombstones count), or 0. */
  latestVersionTs(key: string): number {
    for (const k of this.db.getKeys({ start: [key, 0], end: [key, MAX_TS], limit: 1 })) return MAX_TS - k[1];
    return 0;
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

  /**
   * Every version in `[start, end)` (`end` '' = unbounded) with a timestamp at or below `maxTs`,
   * in key order, read synchronously (one LMDB read snapshot). Materializes the whole range.
   */
  rangeRows(start: string, end: string, maxTs = MAX_TS - 1): MvccRow[] {
    const out: MvccRow[] = [];
    for (const row of this.rows(start, end)) if (row[1] <= maxTs) out.push(row);
    return out;
  }

  /** A write op replacing every version in `[start, end)` with `rows` (snapshot install). */
  replaceRangeOp(start: string, end: string, rows: readonly MvccRow[]): WriteOp {
    validateRows(start, end, rows);
    const range = this.bounds(start, end);
    return () => {
      // Collect first: deleting under an open cursor would skip entries.
      for (const key of Array.from(this.db.getKeys(range))) this.db.removeSync(key);
      for (const [k, ts, rec] of rows) this.db.putSync([k, invert(ts)], rec);
    };
  }

  /** Replaces every version in `[start, end)` with `rows` on its own (tests); installs use Storage.installSnapshot. */
  replaceRange(start: string, end: string, rows: readonly MvccRow[]): Promise<void> {
    return this.committer.submit(this.replaceRangeOp(start, end, rows));
  }

  /** A write op that puts `versions`, for composing with other writes into one transaction. */
  writeOp(versions: readonly VersionWrite[]): WriteOp {
    validateWrites(versions);
    const records = versions.map((w) => ({ key: [w.key, invert(w.ts)] as MvccKey, record: recordOf(w) }));
    return () => {
      for (const { key, record } of records) this.db.putSync(key, record);
    };
  }

  /** Writes versions durably on their own (tests, bulk loads); appliers use Storage.applyEntry. */
  put(versions: readonly VersionWrite[]): Promise<void> {
    return this.committer.submit(this.writeOp(versions));
  }

  /**
   * Drops versions no read at or above `horizon` can need (version-rule.ts): per key, everything
   * older than the newest version at or below the horizon (and that version too if it is a
   * tombstone). Returns how many versions it removed (0 if the horizon is not ahead, or a pass
   * was already running). The horizon only moves forward. Incremental: see `gcPass`.
   */
  async gc(horizon: number, options?: GcPassOptions): Promise<number> {
    return (await this.gcPass(horizon, options)).removed;
  }

  /**
   * One incremental GC pass at `horizon` (version-gc.ts; docs/spanserver.md, "Version GC"): reads
   * below `horizon` are refused from the call on; the keyspace is then walked in bounded slices
   * with a turn of the event loop between them. A call while a pass runs is skipped (`busy`).
   */
  gcPass(horizon: number, options?: GcPassOptions): Promise<GcPassReport> {
    return this.versionGc.pass(horizon, options);
  }

  /** Whether a GC pass is running. */
  get gcRunning(): boolean {
    return this.versionGc.busy;
  }

  /** Stops a running GC pass before its next slice and refuses new ones; resolves once it returned (Storage.close). */
  closeGc(): Promise<void> {
    return this.versionGc.close();
  }

  /** One slice of a GC pass: a bounded synchronous read that keeps no values. */
  private gcSlice(after: GcEntry | undefined, max: number, over: () => boolean): { entries: GcEntry[]; end: boolean } {
    // Timestamps are integers, so [key, inverted ts + 1] is the first possible key after `after`.
    const start = (after ? [after.key, invert(after.ts) + 1] : ['']) as unknown as MvccKey;
    const entries: GcEntry[] = [];
    let cut = false;
    for (const { key: [k, kInv], value } of this.db.getRange({ start, limit: max })) {
      entries.push({ key: k, ts: MAX_TS - kInv, tombstone: 'del' in value });
      if (over()) {
        cut = true;
        break;
      }
    }
    return { entries, end: !cut && entries.length < max };
  }

  private gcRemove(entries: readonly GcEntry[]): Promise<void> {
    const keys = entries.map((e): MvccKey => [e.key, invert(e.ts)]);
    return this.committer.submit(() => {
      for (const key of keys) this.db.removeSync(key);
    });
  }

  /** Every version in `[start, end)` in key order, per key newest first. */
  private *rows(start: string, end: string): Generator<MvccRow> {
    for (const { key: [k, kInv], value } of this.db.getRange(this.bounds(start, end))) yield [k, MAX_TS - kInv, value];
  }

  private bounds(start: string, end: string): { start: MvccKey; end?: MvccKey } {
    return end === '' ? { start: [start] as unknown as MvccKey } : { start: [start] as unknown as MvccKey, end: [end] as unknown as MvccKey };
  }
}
