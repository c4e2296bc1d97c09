import type { MvccReader, VersionOut } from '@synod/txn';

/**
 * The span simulation's MVCC store of one node: per key, versions in timestamp order. It holds
 * only durable versions: the node's shell writes an applied entry's versions here when the
 * entry's simulated disk write completes, so a read never sees a version before its write is
 * durable, and a crash loses nothing that is here.
 *
 * Stand-in until `MemoryMvccStore` (@synod/storage, branch `store`) is on main; same rule: a
 * read at `ts` sees, per key, the newest version with a timestamp at or below `ts`.
 */
export class SimMvccStore implements MvccReader {
  /** key -> versions, ascending by ts. */
  private readonly versions = new Map<string, Array<{ ts: number; value: unknown; deleted: boolean }>>();
  private sortedKeys: string[] | null = [];
  writes = 0;

  /** Makes `versions` visible (their write is durable). A rewrite of a (key, ts) keeps the first (applies are deterministic). */
  write(versions: readonly VersionOut[]): void {
    for (const v of versions) {
      let list = this.versions.get(v.key);
      if (!list) {
        this.versions.set(v.key, (list = []));
        this.sortedKeys = null;
      }
      const i = upperBound(list, v.ts);
      if (i > 0 && list[i - 1]!.ts === v.ts) continue;
      list.splice(i, 0, { ts: v.ts, value: v.deleted ? undefined : v.value, deleted: v.deleted === true });
      this.writes++;
    }
  }

  get(key: string, ts: number): { value: unknown; ts: number } | undefined {
    const list = this.versions.get(key);
    if (!list) return undefined;
    const i = upperBound(list, ts);
    if (i === 0) return undefined;
    const v = list[i - 1]!;
    return v.deleted ? undefined : { value: v.value, ts: v.ts };
  }

  scan(start: string, end: string, ts: number, limit: number): Array<{ key: string; value: unknown; ts: number }> {
    if (this.sortedKeys === null) this.sortedKeys = [...this.versions.keys()].sort();
    const out: Array<{ key: string; value: unknown; ts: number }> = [];
    for (const key of this.sortedKeys) {
      if (out.length >= limit) break;
      if (key < start || (end !== '' && key >= end)) continue;
      const v = this.get(key, ts);
      if (v) out.push({ key, value: v.value, ts: v.ts });
    }
    return out;
  }

  /** No version GC in the simulation. */
  gcHorizon(): number {
    return 0;
  }

  /** Whether a version of `key` at exactly `ts` is visible (the tSafeNotAhead checker's question). */
  has(key: string, ts: number): boolean {
    const list = this.versions.get(key);
    if (!list) return false;
    const i = upperBound(list, ts);
    return i > 0 && list[i - 1]!.ts === ts;
  }
}

/** First index whose ts is above `ts`. */
function upperBound(list: ReadonlyArray<{ ts: number }>, ts: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]!.ts <= ts) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
