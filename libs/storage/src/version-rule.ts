// The MVCC version-selection rule (DESIGN §6), in one place for every MVCC store: the LMDB
// keyspace (mvcc-store.ts) and the in-memory one (memory-mvcc.ts) only enumerate versions; what a
// read sees, what a read is refused and what GC may drop is decided here. Pure: no I/O, no lmdb.
//
//   - A read at `ts` sees, per key, the newest version with a timestamp at or below `ts`; if that
//     version is a tombstone the key is absent. Versions newer than `ts` are invisible.
//   - A read below the GC horizon is refused with SNAPSHOT_TOO_OLD (its versions may be gone).
//   - GC at horizon `h` keeps every version newer than `h` plus, per key, the newest version at or
//     below `h` (the one a read at `h` sees) unless that one is a tombstone; it drops the rest.
//     The horizon only moves forward. GarbageSieve applies this one version at a time.
//   - Keys are ordered by code point (= UTF-8 byte order, what LMDB's ordered-binary keys give),
//     not by JS `<` (UTF-16 code units), which differs once a key holds a character above U+FFFF.
import { SynodError } from '@synod/codec';

/** How a version is stored: a value, or a tombstone. */
export type MvccRecord = { v: unknown } | { del: 1 };

/** One stored version: `[userKey, commit ts, record]` (a snapshot row, a GC victim). */
export type MvccRow = [string, number, MvccRecord];

export interface VersionWrite {
  key: string;
  /** Commit timestamp, integer µs. */
  ts: number;
  /** `undefined` with `deleted: true` writes a tombstone. */
  value?: unknown;
  deleted?: boolean;
}

export interface ReadResult {
  key: string;
  value: unknown;
  /** Timestamp of the version read. */
  ts: number;
}

/** Above every valid timestamp (the LMDB keyspace inverts timestamps against it). */
export const MAX_TS = Number.MAX_SAFE_INTEGER;

export const isTimestamp = (ts: unknown): ts is number => Number.isSafeInteger(ts) && (ts as number) > 0 && (ts as number) < MAX_TS;

/** Code-point order of two keys (negative, zero, positive), the order both stores keep keys in. */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

// A surrogate (U+D800–DFFF) starts a code point above U+FFFF, so it ranks after U+E000–FFFF.
const codePointRank = (unit: number): number => (unit < 0xd800 ? unit : unit <= 0xdfff ? unit + 0x2000 : unit - 0x800);

/** `key` is in `[start, end)`; `end` '' means unbounded. */
export function inRange(key: string, start: string, end: string): boolean {
  return compareKeys(key, start) >= 0 && (end === '' || compareKeys(key, end) < 0);
}

/** Throws INVALID_ARGUMENT for a malformed read timestamp, SNAPSHOT_TOO_OLD for one below `horizon`. */
export function checkReadable(ts: number, horizon: number): void {
  if (!isTimestamp(ts)) throw new SynodError('INVALID_ARGUMENT', `bad read timestamp ${ts}`);
  if (ts < horizon) throw new SynodError('SNAPSHOT_TOO_OLD', `read at ${ts} is below the GC horizon ${horizon}`, { horizon });
}

/** Checks writes before anything is written (throws a plain Error: a caller bug). */
export function validateWrites(versions: readonly VersionWrite[]): void {
  for (const w of versions) {
    if (typeof w.key !== 'string') throw new Error('mvcc: key must be a string');
    if (!isTimestamp(w.ts)) throw new Error(`mvcc: bad timestamp ${w.ts} for ${w.key}`);
  }
}

export function recordOf(w: VersionWrite): MvccRecord {
  return w.deleted ? { del: 1 } : { v: w.value };
}

/** Checks snapshot rows for a range before anything is replaced (throws a plain Error). */
export function validateRows(start: string, end: string, rows: readonly MvccRow[]): void {
  for (const [k, ts, rec] of rows) {
    if (typeof k !== 'string' || !inRange(k, start, end)) throw new Error(`mvcc: row key ${JSON.stringify(k)} outside [${start}, ${end})`);
    if (!isTimestamp(ts)) throw new Error(`mvcc: bad timestamp ${ts} for ${k}`);
    if (typeof rec !== 'object' || rec === null || !('v' in rec || 'del' in rec)) throw new Error(`mvcc: malformed record for ${k}`);
  }
}

/**
 * What a read of one key at `ts` sees, given that key's versions newest first (a store may start
 * the enumeration at its first version at or below `ts`; newer ones are skipped here anyway).
 */
export function visibleVersion(key: string, newestFirst: Iterable<readonly [number, MvccRecord]>, ts: number): ReadResult | undefined {
  for (const [vts, rec] of newestFirst) {
    if (vts > ts) continue;
    return 'v' in rec ? { key, value: rec.v, ts: vts } : undefined;
  }
  return undefined;
}

/**
 * Live keys as of `ts`, at most `limit`, from versions in key order and, per key, newest first
 * (the caller bounds the range).
 */
export function visibleRows(rows: Iterable<MvccRow>, ts: number, limit: number): ReadResult[] {
  const out: ReadResult[] = [];
  if (limit <= 0) return out;
  let current: string | undefined;
  let decided = false;
  for (const [k, vts, rec] of rows) {
    if (k !== current) {
      current = k;
      decided = false;
    }
    if (decided || vts > ts) continue;
    decided = true;
    if ('v' in rec) {
      out.push({ key: k, value: rec.v, ts: vts });
      if (out.length >= limit) break;
    }
  }
  return out;
}

/**
 * The versions GC at `horizon` drops, from versions in key order and, per key, newest first:
 * everything older than the newest version at or below the horizon, and that one too if it is a
 * tombstone. Versions newer than the horizon are always kept.
 */
export function garbageBelow(rows: Iterable<MvccRow>, horizon: number): MvccRow[] {
  const sieve = new GarbageSieve(horizon);
  const doomed: MvccRow[] = [];
  for (const row of rows) if (sieve.verdict(row[0], row[1], 'del' in row[2]) !== 'keep') doomed.push(row);
  return doomed;
}

/**
 * What GC does with one version: keep it, drop it, or drop it as the tombstone a read at the
 * horizon sees. Such a tombstone hides the key's older versions until they are gone too, so an
 * incremental pass deletes it no earlier than them (docs/spanserver.md, "Version GC").
 */
export type GcVerdict = 'keep' | 'drop' | 'drop-tombstone';

/**
 * `garbageBelow` one version at a time. Its per-key state survives between calls, so an
 * incremental pass that reads the keyspace in slices decides a key whose versions span two
 * slices exactly as one whole-keyspace read would.
 */
export class GarbageSieve {
  private current: string | undefined;
  private seenBelow = false;
  /** Distinct keys offered so far (a key spanning two slices counts once). */
  keys = 0;

  constructor(readonly horizon: number) {}

  /** Versions must be offered in key order and, per key, newest first. */
  verdict(key: string, ts: number, tombstone: boolean): GcVerdict {
    if (key !== this.current) {
      this.current = key;
      this.seenBelow = false;
      this.keys++;
    }
    if (ts > this.horizon) return 'keep';
    if (this.seenBelow) return 'drop';
    this.seenBelow = true; // the version a read at the horizon sees
    return tombstone ? 'drop-tombstone' : 'keep';
  }
}

/** The GC horizon of one store: reads below it are refused; it only moves forward. */
export class GcHorizon {
  private value = 0;

  get(): number {
    return this.value;
  }

  /** Moves the horizon to `horizon` if that is forward; returns whether it moved. Throws on a malformed one. */
  advance(horizon: number): boolean {
    if (!isTimestamp(horizon)) throw new Error(`mvcc: bad horizon ${horizon}`);
    if (horizon <= this.value) return false;
    this.value = horizon;
    return true;
  }
}
