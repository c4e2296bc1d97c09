/**
 * Cutting a split in two (docs/transactions.md, "Cutting a split"): the pure pieces the core
 * uses — where to cut, the load sample that chooses it, and the child's initial state.
 */
import type { SplitHeader } from './core-types.js';

/** How a split was cut: kept in the parent's header so a repeated `split.cut` answers the same. */
export interface CutRecord {
  child: string;
  generation: number;
  atKey: string;
  ts: number;
}

/**
 * The child's initial replicated state, identical on every replica of the parent that applied
 * the cut: what the shell (or a simulated node) writes with the cut entry and builds the child's
 * SplitTxnCore from (`resume`, `floorTs`).
 */
export interface ChildInit {
  splitId: string;
  range: { start: string; end: string };
  generation: number;
  /** The cut's timestamp: the child's t_safe starts here and it assigns only above it. */
  cutTs: number;
  /**
   * Header at applied index 0; `maxAppliedTs` = T_cut makes t_safe = T_cut and floors the
   * apply-time rule. `lastCommitTs` = T_cut too: the child's versions up to T_cut are the parent's
   * commits, which its log does not hold, and a strong read of the child alone runs at or above
   * its last commit (docs/transactions.md, rule 9a).
   */
  header: SplitHeader;
}

/** The header a child starts from (applied index 0, no outcomes). */
export function childInit(child: string, range: { start: string; end: string }, generation: number, cutTs: number): ChildInit {
  return { splitId: child, range, generation, cutTs, header: { maxAppliedTs: cutTs, lastCommitTs: cutTs, range, generation, cuts: [] } };
}

/** A key strictly inside `(start, end)` (`end` '' = unbounded): a cut there leaves both halves non-empty ranges. */
export function strictlyInside(key: string, range: { start: string; end: string }): boolean {
  return key > range.start && (range.end === '' || key < range.end);
}

/** The cuts a header keeps for idempotent answers (oldest dropped). */
export const MAX_CUT_RECORDS = 16;

/**
 * The keys this leader touched most recently (reads, writes, snapshot keys), in a ring of
 * `capacity`: their median splits the recent load in half. Deterministic (no randomness): the
 * ring keeps the last `capacity` accesses, which is the "recent" part of the sample.
 */
export class LoadSample {
  private readonly ring: string[] = [];
  private next = 0;

  constructor(private readonly capacity = 512) {}

  record(key: string): void {
    if (this.ring.length < this.capacity) this.ring.push(key);
    else this.ring[this.next] = key;
    this.next = (this.next + 1) % this.capacity;
  }

  /** The median accessed key strictly inside `range`, or undefined when the sample has none. */
  median(range: { start: string; end: string }): string | undefined {
    return medianInside(this.ring.filter((k) => strictlyInside(k, range)).sort());
  }

  get size(): number {
    return this.ring.length;
  }
}

/** The middle of sorted, inside-the-range keys (undefined when empty). */
export function medianInside(sorted: readonly string[]): string | undefined {
  return sorted.length === 0 ? undefined : sorted[Math.floor(sorted.length / 2)];
}
