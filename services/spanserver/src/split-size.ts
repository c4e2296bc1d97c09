import type { VersionWrite } from '@synod/storage';
import type { MvccReader } from '@synod/txn';

const LATEST = Number.MAX_SAFE_INTEGER - 1;
/** The most keys read to seed a split's size when it is hosted: past that, the size is counted from there on. */
export const SIZE_SEED_KEYS = 100_000;
/**
 * The most keys whose size a split keeps in memory, and the most key characters among them (keys
 * may be up to 4 KiB): about 100,000 short keys or 4 MiB of key text per hosted split.
 */
export const SIZE_TRACKED_KEYS = 100_000;
export const SIZE_TRACKED_KEY_CHARS = 4 * 1024 * 1024;

/**
 * The size counted for one key's newest version: key length plus the value's length (a string's
 * length + 2, its JSON length when nothing in it needs escaping; any other value's JSON length).
 */
export function sizeOf(key: string, value: unknown): number {
  if (value === undefined) return key.length;
  if (typeof value === 'string') return key.length + value.length + 2;
  return key.length + (JSON.stringify(value)?.length ?? 0);
}

/**
 * The approximate size of a split for placement reports (docs/spanserver.md): its live keys and
 * the bytes of their newest versions (sizeOf). Seeded by reading at most SIZE_SEED_KEYS keys when
 * the split is hosted, then kept by each applied entry's versions.
 *
 * Each key's counted size is kept in memory (bounded by SIZE_TRACKED_KEYS and
 * SIZE_TRACKED_KEY_CHARS), so a write costs a map lookup, not a storage read: while every live key
 * of the split is tracked (`complete`: the seed saw the whole range and nothing was evicted since),
 * a key not tracked is a new key. Past the bounds the oldest tracked keys are evicted, and a write
 * to a key not tracked reads its newest version from storage as it is applied (then a key written
 * twice before the first write is durable is counted twice).
 */
export class SplitSize {
  keys = 0;
  bytes = 0;
  /** Counted size per tracked key, oldest insertion first (evicted first). */
  private readonly tracked = new Map<string, number>();
  private trackedChars = 0;
  /** Every live key of the split is in `tracked`. */
  private complete = true;

  seed(reader: MvccReader, range: { start: string; end: string }): void {
    this.keys = 0;
    this.bytes = 0;
    this.tracked.clear();
    this.trackedChars = 0;
    const rows = reader.scan(range.start, range.end, LATEST, SIZE_SEED_KEYS);
    // A full page may have left keys unread: those are found by a storage read when written.
    this.complete = rows.length < SIZE_SEED_KEYS;
    for (const r of rows) {
      const n = sizeOf(r.key, r.value);
      this.keys++;
      this.bytes += n;
      this.track(r.key, n);
    }
  }

  applied(versions: readonly VersionWrite[], reader: MvccReader): void {
    for (const v of versions) {
      let old = this.tracked.get(v.key);
      if (old === undefined && !this.complete) {
        const row = reader.get(v.key, LATEST);
        if (row) old = sizeOf(v.key, row.value);
      }
      if (old !== undefined) {
        this.keys--;
        this.bytes -= old;
      }
      if (v.deleted) {
        this.untrack(v.key);
      } else {
        const n = sizeOf(v.key, v.value);
        this.keys++;
        this.bytes += n;
        this.track(v.key, n);
      }
    }
    this.keys = Math.max(0, this.keys);
    this.bytes = Math.max(0, this.bytes);
  }

  /**
   * The split's range shrank to `range` (a cut): the keys past it left with the child. While every
   * key is tracked they are dropped from memory, exactly and without reading storage (whose newest
   * writes may not be durable yet); otherwise the range is seeded again.
   */
  keepRange(reader: MvccReader, range: { start: string; end: string }): void {
    if (!this.complete) return this.seed(reader, range);
    for (const [key, n] of this.tracked) {
      if (key >= range.start && (range.end === '' || key < range.end)) continue;
      this.keys--;
      this.bytes -= n;
      this.untrack(key);
    }
    this.keys = Math.max(0, this.keys);
    this.bytes = Math.max(0, this.bytes);
  }

  /**
   * A snapshot from a peer replaced the split's keyspace: what is tracked no longer says which keys
   * exist, so from now on every write reads storage (the totals are carried on, as before a seed).
   */
  forget(): void {
    this.tracked.clear();
    this.trackedChars = 0;
    this.complete = false;
  }

  /** Keys whose size is held in memory now (for tests). */
  get trackedKeys(): number {
    return this.tracked.size;
  }

  private track(key: string, n: number): void {
    if (this.tracked.has(key)) {
      this.tracked.set(key, n);
      return;
    }
    this.tracked.set(key, n);
    this.trackedChars += key.length;
    while (this.tracked.size > SIZE_TRACKED_KEYS || this.trackedChars > SIZE_TRACKED_KEY_CHARS) {
      const oldest = this.tracked.keys().next().value as string;
      this.untrack(oldest);
      this.complete = false;
    }
  }

  private untrack(key: string): void {
    if (this.tracked.delete(key)) this.trackedChars -= key.length;
  }
}
