import { SynodError } from '@synod/codec';
import type { Command } from '@synod/paxos';
import type { Split } from '@synod/placement';
import type { MvccStore } from '@synod/storage';
import { LockTable, TimestampOracle, type LockEvents, type LockMode, type TxnRef } from '@synod/txn';
import type { SplitState } from './split-state.js';
import type { TimeSource } from './time-source.js';

/** What the leader-side transaction logic needs from its surroundings. */
export interface LeaderContext {
  split: Split;
  self: string;
  isLeader(): boolean;
  /** The current leadership (ballot) as a string; reads and commits must happen in one. */
  epoch(): string;
  leaderHint(): string | null;
  /** µs left on this leader's lease (0 without one): no other leader can act before it ends. */
  leaseRemainingUs(): number;
  /** The Paxos core's own check that a lease read is safe (lease held, term's entries applied). */
  canServeLocalRead(): boolean;
  propose(cmds: Command[], timeoutMs: number): Promise<void>;
  /**
   * A fresh Paxos command id, `prefix:n` with a prefix unique to this process run and n counting
   * up: ids never repeat across restarts, and the replica's dedupe state stays one floor per prefix.
   */
  nextCommandId(): string;
  tt: TimeSource;
  state: SplitState;
  mvcc: MvccStore;
}

interface TxnRecord {
  ref: TxnRef;
  lastActiveMs: number;
  waiting: Map<string, { resolve: () => void; reject: (e: Error) => void }>;
  committing: boolean;
  aborted?: string;
}

const LATEST = Number.MAX_SAFE_INTEGER - 1;
const LOCK_WAIT_MS = 5_000;
const IDLE_ABORT_MS = 10_000;

export const inRange = (split: Split, key: string) => key >= split.start && (split.end === '' || key < split.end);

/**
 * Read-write transactions at one split's leader (DESIGN §7, single split): reads take shared
 * locks and read the latest data, commit takes exclusive locks (wound-wait), picks a timestamp
 * above TT.now().latest and everything before it, replicates the commit through Paxos while
 * commit wait runs alongside, and releases the locks once the writes are applied.
 */
export class LeaderTxns {
  private locks = new LockTable();
  private readonly oracle = new TimestampOracle();
  private readonly txns = new Map<string, TxnRecord>();
  private currentEpoch = '';
  private epochReady: Promise<void> = Promise.resolve();
  private epochReadyDone = false;
  private closedInFlight = false;
  lastProposalMs = 0;

  constructor(private readonly ctx: LeaderContext) {}

  /** No timestamp this leader assigns is at or below `ts` (the persisted high-water mark). */
  floorTimestamps(ts: number): void {
    this.oracle.observe(ts);
  }

  async read(ref: TxnRef, keys: string[]): Promise<{ values: Array<{ key: string; value?: unknown; ts?: number }>; epoch: string }> {
    const epoch = await this.leadership();
    for (const k of keys) this.checkKey(k);
    const t = this.txn(ref);
    for (const k of keys) await this.lock(t, k, 'shared');
    this.checkAlive(t);
    const values = keys.map((key) => {
      const r = this.ctx.mvcc.get(key, LATEST);
      return r ? { key, value: r.value, ts: r.ts } : { key };
    });
    return { values, epoch };
  }

  async commit(ref: TxnRef, epoch: string | undefined, readKeys: string[], writes: Array<{ key: string; value?: unknown; deleted?: boolean }>): Promise<{ ts: number; commitWaitUs: number }> {
    const current = await this.leadership();
    if (epoch !== undefined && epoch !== current) {
      this.abort(ref.id, 'leadership changed since the reads');
      throw new SynodError('TXN_ABORTED', `leadership of ${this.ctx.split.id} changed since the reads; retry the transaction`);
    }
    for (const w of writes) this.checkKey(w.key);
    // The reads are only valid while their locks are still held here: a transaction whose record
    // is gone (aborted, idle, a retried commit) or whose locks lapsed must start over.
    if (readKeys.length > 0) {
      const held = new Set(this.locks.heldKeys(ref.id));
      const record = this.txns.get(ref.id);
      if (!record || record.aborted || readKeys.some((k) => !held.has(k)))
        throw new SynodError('TXN_ABORTED', `${ref.id}: its read locks are no longer held${record?.aborted ? ` (${record.aborted})` : ''}; retry the transaction`);
    }
    const t = this.txn(ref);
    let expected: ReturnType<SplitState['expectOutcome']> | undefined;
    let proposalFailed = false;
    try {
      for (const w of writes) await this.lock(t, w.key, 'exclusive');
      this.checkAlive(t);
      // From here on the transaction cannot be wounded: its commit is on its way into the log.
      t.committing = true;
      this.oracle.observe(this.ctx.state.maxApplied);
      const now = this.ctx.tt.now();
      const ts = this.oracle.assign(now.latest);
      // A leader never assigns a timestamp beyond its lease (DESIGN §4): leases of successive
      // leaders are disjoint, so neither are their timestamps.
      if (ts > now.earliest + this.ctx.leaseRemainingUs())
        throw new SynodError('TXN_ABORTED', `${this.ctx.self}'s lease on ${this.ctx.split.id} does not cover timestamp ${ts}; retry the transaction`);
      const commandId = this.ctx.nextCommandId();
      expected = this.ctx.state.expectOutcome(commandId);
      const outcome = expected.outcome;
      this.lastProposalMs = Date.now();
      let replicatedAt = 0;
      const replicated = this.ctx
        .propose([{ id: commandId, payload: { t: 'commit', txn: ref.id, ts, writes } }], 10_000)
        .catch((err: unknown) => {
          proposalFailed = true;
          throw err;
        })
        .then(() => outcome)
        .then((o) => ((replicatedAt = performance.now()), o));
      // Commit wait overlaps replication: the reply waits for whichever ends last.
      const waited = this.ctx.tt.waitUntilAfter(ts).then(() => performance.now());
      const [result, waitedAt] = await Promise.all([replicated, waited]);
      if (!result.committed) throw new SynodError('TXN_ABORTED', `commit refused: ${result.reason}; retry the transaction`);
      return { ts, commitWaitUs: Math.max(0, Math.round((waitedAt - replicatedAt) * 1000)) };
    } finally {
      // A proposal that timed out may still be chosen later: its locks stay until its outcome is
      // known (or the epoch ends, which drops the whole lock table).
      if (proposalFailed && expected) void expected.outcome.then(() => this.finish(ref.id), () => this.finish(ref.id));
      else this.finish(ref.id);
    }
  }

  abort(txnId: string, reason = 'aborted by the client'): void {
    const t = this.txns.get(txnId);
    if (!t || t.committing) return;
    t.aborted = reason;
    for (const w of t.waiting.values()) w.reject(new SynodError('TXN_ABORTED', `${txnId}: ${reason}`));
    t.waiting.clear();
    this.process(this.locks.release(txnId));
  }

  /** Periodic housekeeping: drop idle transactions; when idle, advance t_safe with a closed timestamp. */
  tick(nowMs: number, closedIntervalMs: number): void {
    for (const [id, t] of this.txns) {
      if (t.aborted && nowMs - t.lastActiveMs > IDLE_ABORT_MS) this.txns.delete(id);
      else if (!t.committing && !t.aborted && nowMs - t.lastActiveMs > IDLE_ABORT_MS) this.abort(id, 'idle for too long');
    }
    if (!this.ctx.isLeader()) {
      if (this.currentEpoch !== '') this.resetEpoch('');
      return;
    }
    if (nowMs - this.lastProposalMs >= closedIntervalMs) this.closeNow();
  }

  /**
   * Whether a strong read may run at t_safe right here, with no wait and no round trip: this
   * replica leads under a lease, its epoch barrier is applied, and every commit it acknowledged
   * is applied (acknowledgement waits for that), so t_safe covers everything committed so far.
   */
  leaseReadReady(): boolean {
    return this.ctx.isLeader() && this.epochReadyDone && this.ctx.epoch() === this.currentEpoch && this.ctx.canServeLocalRead();
  }

  /**
   * A read here needs t_safe to reach a fresh timestamp: rather than wait for the idle timer,
   * close one now. One proposal serves every read waiting at that moment.
   */
  closeNow(): void {
    // A clock outside its bounds must not promise timestamps (they could be far in the future).
    if (!this.ctx.isLeader() || this.closedInFlight || !this.ctx.tt.isServing()) return;
    this.closedInFlight = true;
    this.proposeClosed()
      .catch(() => undefined)
      .finally(() => (this.closedInFlight = false));
  }

  /** Leadership this replica can serve in, once the epoch's barrier entry is applied. */
  private async leadership(): Promise<string> {
    if (!this.ctx.isLeader()) {
      const hint = this.ctx.leaderHint();
      throw new SynodError('NOT_LEADER', `${this.ctx.self} does not lead ${this.ctx.split.id}`, hint && hint !== this.ctx.self ? { leader: hint } : undefined);
    }
    const epoch = this.ctx.epoch();
    if (epoch !== this.currentEpoch) {
      this.resetEpoch(epoch);
      // A new leader first gets one entry of its own applied: then everything chosen before it
      // is applied here too, and its timestamp floor covers all earlier leaders' commits.
      this.epochReadyDone = false;
      this.epochReady = this.proposeClosed().then(
        () => {
          if (this.currentEpoch === epoch) this.epochReadyDone = true;
        },
        (err: unknown) => {
          // Let the next request try the barrier again rather than fail the whole term.
          if (this.currentEpoch === epoch) this.currentEpoch = '';
          throw err;
        },
      );
    }
    await this.epochReady;
    return epoch;
  }

  private resetEpoch(epoch: string): void {
    for (const id of [...this.txns.keys()]) this.abort(id, 'leadership changed');
    this.txns.clear();
    this.locks = new LockTable();
    this.currentEpoch = epoch;
    this.epochReadyDone = false;
  }

  private async proposeClosed(): Promise<void> {
    this.oracle.observe(this.ctx.state.maxApplied);
    const ts = this.oracle.assign(this.ctx.tt.now().latest);
    this.lastProposalMs = Date.now();
    await this.ctx.propose([{ id: this.ctx.nextCommandId(), payload: { t: 'closed', ts } }], 5_000);
    await this.ctx.state.waitForSafe(ts, 5_000);
  }

  private txn(ref: TxnRef): TxnRecord {
    let t = this.txns.get(ref.id);
    if (!t) this.txns.set(ref.id, (t = { ref, lastActiveMs: Date.now(), waiting: new Map(), committing: false }));
    this.checkAlive(t);
    if (t.committing) throw new SynodError('INVALID_ARGUMENT', `${ref.id} is already committing`);
    t.lastActiveMs = Date.now();
    return t;
  }

  private checkAlive(t: TxnRecord): void {
    if (t.aborted) throw new SynodError('TXN_ABORTED', `${t.ref.id}: ${t.aborted}; retry the transaction`);
  }

  private checkKey(key: string): void {
    if (!inRange(this.ctx.split, key))
      throw new SynodError('KEY_OUT_OF_RANGE', `key ${JSON.stringify(key)} is outside split ${this.ctx.split.id}`, { split: this.ctx.split.id, start: this.ctx.split.start, end: this.ctx.split.end });
  }

  private lock(t: TxnRecord, key: string, mode: LockMode): Promise<void> {
    // An abort between two of this transaction's lock requests must not leave a lock behind.
    this.checkAlive(t);
    const r = this.locks.acquire(t.ref, key, mode);
    if (r.granted) {
      for (const id of r.wounded) this.wound(id);
      return Promise.resolve();
    }
    const granted = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.abort(t.ref.id, `waited over ${LOCK_WAIT_MS} ms for a lock on ${key}`), LOCK_WAIT_MS);
      t.waiting.set(key, {
        resolve: () => (clearTimeout(timer), resolve()),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
    });
    // Wound only once the waiter is registered: the wounded release their locks right away,
    // which may grant this very request.
    for (const id of r.wounded) this.wound(id);
    return granted;
  }

  private wound(txnId: string): void {
    const t = this.txns.get(txnId);
    if (t && !t.committing) this.abort(txnId, 'wounded by an older transaction');
  }

  private finish(txnId: string): void {
    this.txns.delete(txnId);
    this.process(this.locks.release(txnId));
  }

  private process(events: LockEvents): void {
    for (const g of events.granted) {
      const t = this.txns.get(g.txn);
      const w = t?.waiting.get(g.key);
      if (w) {
        t!.waiting.delete(g.key);
        w.resolve();
      }
    }
    for (const id of events.wounded) this.wound(id);
  }
}
