// Incremental version GC (docs/spanserver.md, "Version GC"). One pass walks the MVCC keyspace in
// slices: each slice is one bounded synchronous read (at most `sliceEntries` versions, and it stops
// early once `sliceBudgetMs` of the injected clock have passed), its deletions go to the write
// chain, then the pass yields to the event loop and resumes after the last version it looked at.
// What GC drops is version-rule.ts's; this module only decides when and in what pieces.
import { GarbageSieve, isTimestamp, type GcHorizon } from './version-rule.js';

/** Versions one slice reads at most (docs/limits.md). */
export const GC_SLICE_MAX_ENTRIES = 1_000;
/** Milliseconds after which a slice stops reading, whatever it has read (docs/limits.md). */
export const GC_SLICE_BUDGET_MS = 2;
/** The largest `sliceEntries` a caller may ask for: a slice's keys are held in memory (≤ 4 KiB each). */
export const GC_SLICE_ENTRIES_LIMIT = 10_000;

/** One version as GC sees it: no value, so a slice holds keys only. */
export interface GcEntry {
  key: string;
  ts: number;
  tombstone: boolean;
}

/** The keyspace a pass walks (MvccStore's LMDB keyspace). */
export interface GcKeyspace {
  /**
   * At most `max` versions after `after` (from the first one if undefined), in key order and per
   * key newest first, stopping early once `over()` is true (at least one version is read unless
   * the keyspace ends). `end`: nothing follows the last version returned.
   */
  readSlice(after: GcEntry | undefined, max: number, over: () => boolean): { entries: GcEntry[]; end: boolean };
  /** Submits the deletion of `entries` to the write chain now; resolves once durable. Deleting a version that is gone is fine. */
  remove(entries: readonly GcEntry[]): Promise<void>;
}

export interface GcSlice {
  versionsScanned: number;
  /** Keys seen for the first time in this pass. */
  keysScanned: number;
  removed: number;
  /** The slice's synchronous read and sieve, by the pass's clock. */
  ms: number;
}

/**
 * How a pass ended: `completed` (reached the keyspace end), `stopped` (the store closed),
 * `busy` (another pass was running: this request was skipped, the horizon did not move) or
 * `behind` (the horizon was not ahead of the current one: nothing to do).
 */
export type GcOutcome = 'completed' | 'stopped' | 'busy' | 'behind';

export interface GcPassReport {
  outcome: GcOutcome;
  horizon: number;
  slices: number;
  versionsScanned: number;
  keysScanned: number;
  removed: number;
  longestSliceMs: number;
}

export interface GcPassOptions {
  /** Versions a slice reads at most: 1 .. GC_SLICE_ENTRIES_LIMIT, default GC_SLICE_MAX_ENTRIES. */
  sliceEntries?: number;
  /** Default GC_SLICE_BUDGET_MS. */
  sliceBudgetMs?: number;
  /** Milliseconds, monotonic; default performance.now. Tests pass a constant to make slices count-based. */
  now?: () => number;
  /** Called after each slice, once its deletions are durable and the event loop has turned; awaited. */
  onSlice?: (slice: GcSlice) => void | Promise<void>;
  /**
   * Called once, right before the pass submits its first deletion, so whatever it submits to the
   * same write chain (the persisted horizon, Storage.collectVersions) is durable no later than any
   * deletion. Awaited with that deletion.
   */
  beforeFirstDelete?: () => Promise<void>;
}

/** Runs one pass at a time over a keyspace; a request while one runs is skipped (`busy`). */
export class VersionGc {
  private running: Promise<GcPassReport> | undefined;
  private closed = false;

  constructor(
    private readonly space: GcKeyspace,
    private readonly horizon: GcHorizon,
  ) {}

  /** Whether a pass is running now. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  /**
   * Starts a pass at `horizon`. Reads below it are refused from the moment this returns, before
   * any deletion is submitted, so no read ever sees half-collected history.
   */
  pass(horizon: number, options: GcPassOptions = {}): Promise<GcPassReport> {
    try {
      if (!isTimestamp(horizon)) throw new Error(`mvcc: bad horizon ${horizon}`);
      checkOptions(options);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.closed) return Promise.resolve(emptyReport('stopped', horizon));
    // Skipped, not joined: the caller learns that its horizon was not applied (and so does not
    // persist it); the next request after this pass carries a horizon at least as high.
    if (this.running) return Promise.resolve(emptyReport('busy', horizon));
    if (!this.horizon.advance(horizon)) return Promise.resolve(emptyReport('behind', horizon));
    const run = this.run(horizon, options).finally(() => {
      this.running = undefined;
    });
    this.running = run;
    return run;
  }

  /** Stops the running pass before its next slice; resolves once it has returned. No write is submitted after this call. */
  close(): Promise<void> {
    this.closed = true;
    return this.running ? this.running.then(noop, noop) : Promise.resolve();
  }

  private async run(horizon: number, o: GcPassOptions): Promise<GcPassReport> {
    const sliceEntries = o.sliceEntries ?? GC_SLICE_MAX_ENTRIES;
    const budgetMs = o.sliceBudgetMs ?? GC_SLICE_BUDGET_MS;
    const now = o.now ?? (() => performance.now());
    const sieve = new GarbageSieve(horizon);
    const report = emptyReport('completed', horizon);
    let after: GcEntry | undefined;
    // The doomed tombstone a read at the horizon sees, of the key the last slice ended in: it
    // hides that key's older versions, so it is deleted with the slice that sees the key's end.
    let held: GcEntry | undefined;
    let marked: Promise<void> | undefined;
    // Bounded: every slice but the last reads at least one version and resumes after it, so a
    // pass makes at most one slice per version (plus one) and ends at the keyspace end.
    for (;;) {
      if (this.closed) return { ...report, outcome: 'stopped' };
      const t0 = now();
      const { entries, end } = this.space.readSlice(after, sliceEntries, () => now() - t0 >= budgetMs);
      if (entries.length > sliceEntries) throw new Error(`gc: a slice read ${entries.length} versions, over its bound ${sliceEntries}`);
      if (entries.length === 0 && !end) throw new Error('gc: a slice read nothing before the keyspace end');
      const keysBefore = sieve.keys;
      const doomed: GcEntry[] = [];
      const tail = end ? undefined : entries[entries.length - 1]!.key;
      if (held && held.key !== tail) {
        doomed.push(held);
        held = undefined;
      }
      for (const e of entries) {
        const verdict = sieve.verdict(e.key, e.ts, e.tombstone);
        if (verdict === 'drop') doomed.push(e);
        else if (verdict === 'drop-tombstone') {
          if (e.key === tail) held = e;
          else doomed.push(e);
        }
      }
      let committed: Promise<void> | undefined;
      if (doomed.length > 0) {
        if (!marked && o.beforeFirstDelete) marked = o.beforeFirstDelete();
        committed = this.space.remove(doomed);
      }
      const slice: GcSlice = { versionsScanned: entries.length, keysScanned: sieve.keys - keysBefore, removed: doomed.length, ms: now() - t0 };
      report.slices++;
      report.versionsScanned += slice.versionsScanned;
      report.keysScanned += slice.keysScanned;
      report.removed += slice.removed;
      report.longestSliceMs = Math.max(report.longestSliceMs, slice.ms);
      await Promise.all([marked, committed, nextTurn()]);
      await o.onSlice?.(slice);
      if (end) return report;
      after = entries[entries.length - 1];
    }
  }
}

function checkOptions(o: GcPassOptions): void {
  const n = o.sliceEntries;
  if (n !== undefined && !(Number.isSafeInteger(n) && n >= 1 && n <= GC_SLICE_ENTRIES_LIMIT)) throw new Error(`gc: sliceEntries must be an integer in 1..${GC_SLICE_ENTRIES_LIMIT}, got ${n}`);
  const ms = o.sliceBudgetMs;
  if (ms !== undefined && !(Number.isFinite(ms) && ms > 0)) throw new Error(`gc: sliceBudgetMs must be positive, got ${ms}`);
}

function emptyReport(outcome: GcOutcome, horizon: number): GcPassReport {
  return { outcome, horizon, slices: 0, versionsScanned: 0, keysScanned: 0, removed: 0, longestSliceMs: 0 };
}

/** Resolves after the event loop's pending I/O and timers had their turn. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

const noop = () => undefined;
