// Group commit: many small writes, one LMDB write transaction, one fsync.
//
// Why our own coalescer instead of relying only on lmdb-js's event-turn batching:
// lmdb-js batches the writes of one event turn into one transaction, but a
// consensus shell persists from many callbacks (network messages of many groups)
// spread over many turns. Here a batch stays open while the previous batch's
// fsync is in flight, so under load the batch size grows with the fsync latency
// (the classic group-commit feedback loop), each batch is exactly one LMDB
// transaction, and we can count batches (`batchesCommitted`) to prove it.
//
// Deferrable writes. A write nobody waits on promptly (a follower's applied entry: only its
// t_safe waits for it, docs/transactions.md rule 2) may be submitted `deferrable`: it does not
// start a transaction of its own while the committer is idle, but rides with the next write that
// does (the follower's next accepted entry, whose vote waits for its fsync anyway), or starts
// one itself once it has waited DEFER_MAX_MS. A follower then commits one transaction per Paxos
// round instead of two (the entry's vote, then the previous entry's apply). Order is unchanged:
// deferrable or not, writes commit in submission order, and nothing resolves before its fsync.
//
// Durability comes from how the environment is opened (see storage.ts): with
// overlappingSync off and noSync off, lmdb-js's write thread runs
// mdb_txn_commit(), which fdatasync()s the data pages and then the meta page
// before it flags the transaction committed, so the `transaction()` promise
// resolves only after the fsync.

export interface TransactionRunner {
  transaction<T>(action: () => T): Promise<T>;
}

/** Runs inside the batch's write transaction: synchronous putSync/removeSync only. */
export type WriteOp = () => void;

/**
 * One step of a background deletion (log truncation below a durable snapshot), run inside a
 * batch's write transaction after the batch's ordered writes: deletes at most `budget` keys and
 * says how many it deleted and whether any remain.
 */
export type SweepStep = (budget: number) => { deleted: number; more: boolean };

/**
 * Most keys the sweeps delete in one transaction, every group's together. Deletions run on the
 * event loop inside the transaction's callback, about 3-4 µs a key: when 64 splits compacted at
 * the same moment, their truncations (256 log entries and 256 applied records each) made one
 * callback of 115 ms (docs/benchmarks.md, "the stalls that were left"). 512 keys is
 * about 2 ms, and at a hundred transactions a second still deletes far faster than writes add.
 */
export const SWEEP_KEYS_PER_TRANSACTION = 512;

export interface GroupCommitStats {
  /** Write transactions committed (each one fsync'd when the storage was opened with fsync). */
  batchesCommitted: number;
  /** Individual writes made durable by those transactions. */
  writesCommitted: number;
  largestBatch: number;
}

interface Pending {
  op: WriteOp;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Longest a deferrable write waits for another write to share its transaction before it starts
 * one itself (ms). Bounds how far a follower's durable t_safe lags its applied entries on account
 * of deferral; well below the 50 ms closed-timestamp interval follower reads already wait for.
 */
export const DEFER_MAX_MS = 5;

export interface SubmitOptions {
  /** Nobody waits on this write promptly: it may wait up to DEFER_MAX_MS to share a transaction. */
  deferrable?: boolean;
}

/** The clock and timer a GroupCommitter waits with; tests pass a manual one. */
export interface DeferClock {
  /** Monotonic milliseconds. */
  now(): number;
  setTimer(fire: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

const realClock: DeferClock = {
  now: () => performance.now(),
  setTimer: (fire, ms) => setTimeout(fire, ms),
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export class GroupCommitter {
  private queue: Pending[] = [];
  /** Pending sweeps by owner (a Paxos group), oldest first; a newer sweep of an owner replaces its older one. */
  private readonly sweeps = new Map<string, SweepStep>();
  /** The queue holds a write that is not deferrable: the next batch starts as soon as it can. */
  private queueUrgent = false;
  /** When the oldest write of a queue of deferrable writes only was queued (DeferClock ms). */
  private deferredSince = 0;
  /** Starts a batch of deferrable writes once the oldest has waited DEFER_MAX_MS. */
  private deferTimer: unknown;
  private batchInFlight = false;
  private failure: Error | null = null;
  /** The latest submitted write (close() waits for it; its rejection is its submitter's to handle). */
  private lastSubmitted: Promise<void> = Promise.resolve();
  private readonly counters: GroupCommitStats = { batchesCommitted: 0, writesCommitted: 0, largestBatch: 0 };
  private transactionsCommitted = 0;

  constructor(
    private readonly runner: TransactionRunner,
    private readonly clock: DeferClock = realClock,
  ) {}

  get stats(): Readonly<GroupCommitStats> {
    return { ...this.counters };
  }

  /**
   * Write transactions the runner committed, monotone: with a durable runner, one fsync each. Unlike
   * `stats.batchesCommitted` it also counts a transaction committed with a failed op in it (lmdb-js
   * commits it anyway, see below): every flush the disk did.
   */
  get commits(): number {
    return this.transactionsCommitted;
  }

  /** A commit or fsync failed: every write from now on rejects. */
  get failed(): boolean {
    return this.failure !== null;
  }

  /**
   * Queues `op` for the next batch. Resolves once the batch holding it is durable.
   * Ops run in submission order, so a later op never becomes durable before an earlier one.
   */
  submit(op: WriteOp, options?: SubmitOptions): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const done = new Promise<void>((resolve, reject) => {
      if (this.queue.length === 0) this.deferredSince = this.clock.now();
      this.queue.push({ op, resolve, reject });
    });
    if (options?.deferrable !== true) this.queueUrgent = true;
    this.lastSubmitted = done;
    this.startBatchIfIdle();
    return done;
  }

  /**
   * Queues a background deletion of `owner`'s (replacing one it queued before, which the newer
   * one covers: truncation bounds only grow). It runs after the ordered writes of this or a
   * later transaction, so after every write submitted before it, and shares each transaction's
   * SWEEP_KEYS_PER_TRANSACTION with the other owners' sweeps. With nothing else to write it
   * starts transactions of its own, as a deferrable write would.
   */
  sweep(owner: string, step: SweepStep): void {
    if (this.failure) return;
    if (this.queue.length === 0 && this.sweeps.size === 0) this.deferredSince = this.clock.now();
    this.sweeps.delete(owner);
    this.sweeps.set(owner, step);
    this.startBatchIfIdle();
  }

  /** Forgets `owner`'s pending sweep (its data is being deleted outright, and may be written afresh). */
  cancelSweep(owner: string): void {
    this.sweeps.delete(owner);
  }

  /** Deferrable writes queued now start a transaction as soon as none is in flight (someone waits on them). */
  flush(): void {
    if (this.queue.length === 0 && this.sweeps.size === 0) return;
    this.queueUrgent = true;
    this.startBatchIfIdle();
  }

  /** Rejects later submits; resolves once everything submitted before has committed or failed. */
  close(): Promise<void> {
    this.failure ??= new Error('storage is closed');
    // Pending truncations are dropped: the next compaction's covers everything below its bound.
    this.sweeps.clear();
    this.flush();
    return this.lastSubmitted.then(
      () => undefined,
      () => undefined,
    );
  }

  private startBatchIfIdle(): void {
    if (this.batchInFlight || (this.queue.length === 0 && this.sweeps.size === 0)) return;
    if (!this.queueUrgent) {
      // Only deferrable writes: wait for a write that starts a batch, or for the deadline.
      const wait = this.deferredSince + DEFER_MAX_MS - this.clock.now();
      if (wait > 0) {
        this.deferTimer ??= this.clock.setTimer(() => {
          this.deferTimer = undefined;
          this.flush();
        }, wait);
        return;
      }
    }
    if (this.deferTimer !== undefined) {
      this.clock.clearTimer(this.deferTimer);
      this.deferTimer = undefined;
    }
    this.batchInFlight = true;
    // What the transaction takes (at the latest, when it runs) is sealed; later writes start afresh.
    this.queueUrgent = false;
    let batch: Pending[] = [];
    let opError: Error | null = null;
    // The batch is sealed when lmdb-js runs the callback on the write transaction,
    // not now, so writes submitted in the meantime still ride along.
    this.runner
      .transaction(() => {
        batch = this.queue;
        this.queue = [];
        this.queueUrgent = false;
        for (const pending of batch) {
          try {
            pending.op();
          } catch (error) {
            // lmdb-js commits a plain transaction even if its callback throws, so the
            // ops before this one (and perhaps part of this one) are written anyway.
            // Durable-but-unannounced acceptor state is safe for Paxos; continuing
            // is not, so the store stops accepting writes (fail-stop).
            opError ??= asError(error);
            break;
          }
        }
        if (opError === null)
          try {
            this.runSweeps();
          } catch (error) {
            opError = asError(error);
          }
      })
      .then(
        () => {
          this.transactionsCommitted++;
          if (opError) return this.fail(batch, opError);
          this.counters.batchesCommitted++;
          this.counters.writesCommitted += batch.length;
          this.counters.largestBatch = Math.max(this.counters.largestBatch, batch.length);
          for (const pending of batch) pending.resolve();
        },
        (error: unknown) => this.fail(batch, asError(error)),
      )
      .finally(() => {
        this.batchInFlight = false;
        this.startBatchIfIdle();
      });
  }

  /** Runs pending sweeps, oldest first, until the transaction's key budget is spent. */
  private runSweeps(): void {
    let budget = SWEEP_KEYS_PER_TRANSACTION;
    for (const [owner, step] of this.sweeps) {
      if (budget <= 0) break;
      const { deleted, more } = step(budget);
      if (!(deleted >= 0 && deleted <= budget)) throw new Error(`sweep of ${owner} deleted ${deleted} keys with a budget of ${budget}`);
      // A step that deleted nothing yet has more would loop forever on a budget it cannot use.
      if (more && deleted === 0) throw new Error(`sweep of ${owner} made no progress`);
      budget -= deleted;
      if (!more) this.sweeps.delete(owner);
    }
  }

  // After a failed commit or fsync nothing about the on-disk state can be assumed
  // (retrying an fsync after a failure can report success for lost pages), so every
  // queued and future write is rejected and the process is expected to restart.
  private fail(batch: Pending[], error: Error): void {
    this.failure = new Error(`storage write failed; store is now read-only until restart: ${error.message}`, {
      cause: error,
    });
    for (const pending of batch) pending.reject(this.failure);
    if (this.deferTimer !== undefined) this.clock.clearTimer(this.deferTimer);
    this.deferTimer = undefined;
    const queued = this.queue;
    this.queue = [];
    this.sweeps.clear();
    for (const pending of queued) pending.reject(this.failure);
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
