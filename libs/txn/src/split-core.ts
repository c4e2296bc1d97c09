/**
 * The transaction core of one split's replica (docs/transactions.md): read-write transactions at
 * the leader (locks, wound-wait, timestamps, commit wait), lock-free reads at any replica (t_safe),
 * closed timestamps, and the replicated outcome of every transaction. Sans-I/O: every input carries
 * the time it happens at, every effect is an output; no clock, timer or promise in here.
 */
import type {
  ApplyWrite,
  ClosedTimestamp,
  CoreLimits,
  CoreNow,
  CutRequest,
  DecidedOutcome,
  EpochBallot,
  LeadershipView,
  MvccReader,
  PreparedRecord,
  SplitCommand,
  SplitMessage,
  SplitCommandPayload,
  SplitHeader,
  TxnBroken,
  TxnError,
  TxnOutcome,
  TxnOutput,
  TxnReplyBody,
  TxnRequest,
  VersionOut,
  WriteOp,
} from './core-types.js';
import { LockTable, type LockEvents, type LockMode, type TxnRef } from './lock-table.js';
import { OutcomeTable } from './outcome-table.js';
import { TimestampOracle, commitApplies, readTimestamp } from './timestamps.js';
import { LoadSample, MAX_CUT_RECORDS, childInit, medianInside, strictlyInside, type ChildInit, type CutRecord } from './cut.js';

export const DEFAULT_CORE_LIMITS: CoreLimits = {
  maxActiveTxns: 10_000,
  maxParkedRequests: 20_000,
  maxOutcomes: 100_000,
  outcomeRetentionUs: 10 * 60 * 1_000_000,
  idleAbortUs: 10_000_000,
  closedIntervalUs: 50_000,
  maxPendingClosed: 64,
  prepareBoundUs: 5_000_000,
  inquireIntervalUs: 250_000,
  maxPrepared: 10_000,
};

/** Where a core starts: the durable header, applied index and outcome table. */
export interface ResumeState {
  header: SplitHeader;
  appliedIndex: number;
  outcomes: ReadonlyArray<readonly [string, TxnOutcome & Partial<{ slot: number; at: number }>]>;
}

export interface SplitTxnCoreOptions {
  splitId: string;
  range: { start: string; end: string };
  /** The map generation of the split entry this core serves (a header written after a cut overrides it). */
  generation?: number | undefined;
  self: string;
  reader: MvccReader;
  /** Unique per process run (or simulated incarnation): command ids are `${prefix}:${n}`. */
  commandPrefix: string;
  resume?: ResumeState | undefined;
  /** The persisted time high-water mark: no timestamp at or below it is assigned. */
  floorTs?: number | undefined;
  limits?: Partial<CoreLimits> | undefined;
  broken?: TxnBroken | undefined;
}

export interface CoreStats {
  commits: number;
  aborts: number;
  leaseReads: number;
  /** Strong reads served at the leader's last commit (docs/transactions.md, rule 9a). */
  lastCommitReads: number;
  closedSent: number;
  closedProposed: number;
  epochs: number;
  /** Keys served by reads (locking and snapshot) and keys written by applied commits: load for placement reports. */
  keysRead: number;
  keysWritten: number;
}

const LATEST = Number.MAX_SAFE_INTEGER - 1;

/** Prefix of the outcome reason of a commit or prepare refused at apply time for a key the split no longer covers. */
const OUT_OF_RANGE_REASON = 'KEY_OUT_OF_RANGE:';
/** The most stored keys the leader reads to find a median when it has no load sample (docs/transactions.md, rule 19). */
const MEDIAN_SCAN_KEYS = 10_001;

interface TxnState {
  ref: TxnRef;
  /** Which life of this id at this leader: a transaction forgotten and revived by a later read is another one. */
  incarnation: number;
  lastActiveMonoUs: number;
  /** Set once the commit is proposed: from then on only the log decides its fate. */
  commit?: { ts: number; commandId: string };
  aborted?: string;
}

/** A request waiting for something (a lock, t_safe, the barrier, commit wait, an outcome). */
interface Parked {
  reqId: number;
  deadlineMonoUs: number;
  /** Returns true when it has answered (and leaves the parked list). */
  step(now: CoreNow): boolean;
  expire(now: CoreNow): void;
  /** The earliest monotonic time waiting longer could change its answer without any input (commit wait). */
  wakeMonoUs?(now: CoreNow): number | null;
  txnId?: string;
}

/** What a proposed command is for, so a rejection or an application reaches the right waiter. */
type Proposed =
  | { kind: 'commit'; txnId: string; ts: number }
  | { kind: 'prepare'; txnId: string; ts: number }
  | { kind: 'decide'; txnId: string }
  | { kind: 'barrier'; epoch: string }
  | { kind: 'closed'; ts: number }
  | { kind: 'abort'; txnId: string }
  | { kind: 'cut'; child: string };

/** A 2PC transaction this leader coordinates, from its locks until its commit record is proposed. */
interface Coordination {
  participants: string[];
  votes: Map<string, number>;
  refused?: string;
  deadlineMonoUs: number;
}

export const formatEpoch = (b: EpochBallot) => `${b.round}.${b.node}`;

/**
 * The monotonic time by which `now.earliest` will have passed `ts`. TT.earliest advances more
 * slowly than the monotonic clock (by up to the drift bound, well under 1,000 ppm): a wake at
 * exactly the gap comes a few µs early, finds the wait not over and re-arms a timer, which
 * costs at least a millisecond more.
 */
function monoWhenPast(ts: number, now: CoreNow): number {
  return now.monoUs + Math.max(1, Math.ceil((ts - now.tt.earliest + 1) * 1.001));
}

export class SplitTxnCore {
  private readonly limits: CoreLimits;
  private readonly broken: TxnBroken;
  private readonly oracle = new TimestampOracle();
  private locks = new LockTable();
  private readonly txns = new Map<string, TxnState>();
  private parked: Parked[] = [];
  /** A request given with `deferPump` left the parked requests unstepped: `pumpOwed` steps them. */
  private pumpDue = false;
  private outputs: TxnOutput[] = [];
  private readonly outcomes: OutcomeTable;
  private readonly proposed = new Map<string, Proposed>();
  private commandSeq = 0;
  private incarnations = 0;
  /** The time of the input being handled. */
  private lastNow: CoreNow | undefined;

  // Leadership.
  private view: LeadershipView = { leading: null, leaderHint: null, leaseEndMonoUs: null, localReadOk: false };
  private epoch: string | null = null;
  private barrier: { commandId: string; appliedUpTo?: number } | null = null;
  private epochReady = false;
  private closedInFlight = false;
  private lastClosedSentMonoUs = -Infinity;
  private lastClosedSentTs = 0;
  /** The highest timestamp a waiting read at this leader needs t_safe to reach through a closed log entry. */
  private closedWanted = 0;
  /** Commits (and prepares) this leader proposed that are not yet durable here: lease reads wait for those at or below them. */
  private readonly ownPending = new Map<string, number>();
  /** Prepared, undecided transactions (replicated, in the header): t_TM_safe. */
  private readonly prepared = new Map<string, PreparedRecord>();
  /** Prepares whose decide is applied but not yet durable (its writes not yet visible): still in t_TM_safe. */
  private readonly decidedNotDurable = new Map<string, { ts: number; upTo: number }>();
  /** 2PC at this leader (volatile): transactions it coordinates, votes that came first, decisions proposed, inquiries sent. */
  private readonly coordinating = new Map<string, Coordination>();
  private readonly earlyVotes = new Map<string, Map<string, number | { refused: string }>>();
  private readonly decideProposed = new Set<string>();
  private readonly lastInquiryMonoUs = new Map<string, number>();
  /** Decisions this coordinator owes its participants, once durable (and, for a commit, once its timestamp is past). */
  private readonly decisionsOwed = new Map<string, { participants: string[]; committed: boolean; ts?: number; durable: boolean }>();

  // Replicated state (identical on every replica after the same entries).
  private maxAppliedTs = 0;
  private lastCommitTs = 0;
  private appliedIndex = 0;
  // Durable state: what reads through `reader` can see.
  private durableTs = 0;
  private durableIndex = 0;
  private durableLastCommitTs = 0;
  private readonly notDurable: Array<{ upTo: number; maxAppliedTs: number; lastCommitTs: number; decided: string[]; txns: string[] }> = [];
  /** Closed timestamps from the leader waiting for this replica to apply up to their index. */
  private pendingClosed: ClosedTimestamp[] = [];
  private closedTs = 0;
  private highestClosedBallot: EpochBallot | null = null;

  // Cuts (docs/transactions.md, "Cutting a split"). Range, generation and cuts are replicated (in the header).
  private range: { start: string; end: string };
  private generation: number;
  private cuts: CutRecord[] = [];
  /** Index after which each cut applied here is durable (absent: durable before this incarnation). */
  private readonly cutDurableAt = new Map<string, number>();
  /** The cut this leader proposed and has not yet seen durable: its T_cut caps closed timestamps and lease reads. */
  private cutPending: { commandId: string; child: string; atKey: string; ts: number } | null = null;
  /** Why a cut this replica proposed did not apply, by command id, for the waiting request. */
  private readonly cutRefusals = new Map<string, string>();
  private readonly load = new LoadSample();

  readonly statsCounters: CoreStats = { commits: 0, aborts: 0, leaseReads: 0, lastCommitReads: 0, closedSent: 0, closedProposed: 0, epochs: 0, keysRead: 0, keysWritten: 0 };

  constructor(private readonly opts: SplitTxnCoreOptions) {
    this.limits = { ...DEFAULT_CORE_LIMITS, ...opts.limits };
    this.broken = opts.broken ?? {};
    this.outcomes = new OutcomeTable(this.limits.maxOutcomes, this.limits.outcomeRetentionUs);
    this.range = { ...opts.range };
    this.generation = opts.generation ?? 0;
    if (opts.resume) this.resumeFrom(opts.resume);
    if (opts.floorTs) this.oracle.observe(opts.floorTs);
  }

  // ------------------------------------------------------------------ reads of the state

  /** Reads at or below t_safe see every write of the split here (docs/transactions.md, "t_safe"). */
  get tSafe(): number {
    const applied = this.broken.tSafeFromApplied ? this.maxAppliedTs : this.durableTs;
    const paxosSafe = Math.max(applied, this.closedTs);
    // t_safe = min(t_Paxos_safe, t_TM_safe): a prepared transaction may commit at its prepare timestamp.
    return this.broken.ignoreTmSafe ? paxosSafe : Math.min(paxosSafe, this.minPreparedTs() - 1);
  }

  private minPreparedTs(): number {
    let min = Number.MAX_SAFE_INTEGER;
    for (const p of this.prepared.values()) if (p.ts < min) min = p.ts;
    for (const d of this.decidedNotDurable.values()) if (d.ts < min) min = d.ts;
    return min;
  }

  private *minPreparedCandidates(): Iterable<number> {
    for (const p of this.prepared.values()) yield p.ts;
    for (const d of this.decidedNotDurable.values()) yield d.ts;
  }

  header(): SplitHeader {
    const h: SplitHeader = { maxAppliedTs: this.maxAppliedTs, lastCommitTs: this.lastCommitTs };
    if (this.prepared.size > 0) h.prepared = [...this.prepared.values()];
    if (this.cuts.length > 0 || this.generation > (this.opts.generation ?? 0)) Object.assign(h, { range: { ...this.range }, generation: this.generation, cuts: [...this.cuts] });
    return h;
  }

  /** The split entry this replica serves now: what KEY_OUT_OF_RANGE hints carry. */
  entry(): { split: string; start: string; end: string; generation: number } {
    return { split: this.opts.splitId, start: this.range.start, end: this.range.end, generation: this.generation };
  }

  /** The key that splits this leader's recent load in half, if its sample has one. */
  loadMedianKey(): string | undefined {
    return this.load.median(this.range);
  }

  /** Locks held and prepared transactions here, for status. */
  twoPhaseState(): { locksHeld: number; prepared: Array<{ txn: string; ts: number; coordinator: string }>; coordinating: number } {
    let locksHeld = 0;
    for (const id of this.txns.keys()) locksHeld += this.locks.heldKeys(id).length;
    return { locksHeld, prepared: [...this.prepared.values()].map((p) => ({ txn: p.txn, ts: p.ts, coordinator: p.coordinator })), coordinating: this.coordinating.size };
  }

  /** Highest timestamp applied (possibly not durable), closed or served here: the time high-water mark's input. */
  issuedFloor(): number {
    return Math.max(this.maxAppliedTs, this.oracle.floorTs);
  }

  stats(): CoreStats & { activeTxns: number; parked: number; outcomes: number; tSafe: number; lastCommitTs: number; epochReady: boolean } {
    return { ...this.statsCounters, activeTxns: this.txns.size, parked: this.parked.length, outcomes: this.outcomes.size, tSafe: this.tSafe, lastCommitTs: this.durableLastCommitTs, epochReady: this.epochReady };
  }

  outcomeOf(txnId: string): TxnOutcome | undefined {
    return this.outcomes.get(txnId);
  }

  /** The outcome table as a snapshot at `index` carries it. */
  outcomesBelow(index: number): Array<[string, DecidedOutcome]> {
    return this.outcomes.exportBelow(index);
  }

  takeOutputs(): TxnOutput[] {
    const out = this.outputs;
    this.outputs = [];
    return out;
  }

  nextWakeMonoUs(now: CoreNow): number | null {
    let wake: number | null = null;
    const consider = (t: number | null | undefined) => {
      if (t !== null && t !== undefined && Number.isFinite(t) && (wake === null || t < wake)) wake = t;
    };
    for (const p of this.parked) {
      consider(p.deadlineMonoUs);
      consider(p.wakeMonoUs?.(now));
    }
    // Without a lease nothing can be closed (a quiet group's leader): no wake for it.
    if (this.epoch !== null && this.holdsLease(now)) consider(this.nextClosedDueMonoUs());
    return wake;
  }

  // ------------------------------------------------------------------ inputs

  setLeadership(view: LeadershipView, now: CoreNow): void {
    this.lastNow = now;
    this.view = view;
    const epoch = view.leading ? formatEpoch(view.leading) : null;
    if (epoch !== this.epoch) this.newEpoch(epoch, now);
  }

  /** Requests waiting on a deadline or a condition (commit waits among them): how many wakes may be near. */
  parkedCount(): number {
    return this.parked.length;
  }

  /**
   * A follower with no transaction, no waiting request and nothing to send: time alone changes
   * nothing here, so a shell polling many splits may skip its periodic tick until an input
   * arrives or the replica's view of leadership changes (docs/spanserver.md, "Many splits").
   */
  quietFollower(): boolean {
    return this.view.leading === null && this.txns.size === 0 && this.parked.length === 0 && this.outputs.length === 0;
  }

  /**
   * A leader without a lease (a quiet group's, docs/transactions.md "Quiescent splits") and with
   * nothing in progress: like a quiet follower, time alone changes nothing until an input.
   */
  quietLeader(now: CoreNow): boolean {
    return (
      this.view.leading !== null &&
      !this.holdsLease(now) &&
      this.epochReady &&
      this.txns.size === 0 &&
      this.parked.length === 0 &&
      this.outputs.length === 0 &&
      this.prepared.size === 0 &&
      this.earlyVotes.size === 0 &&
      this.decisionsOwed.size === 0 &&
      this.proposed.size === 0
    );
  }

  tick(now: CoreNow): void {
    this.lastNow = now;
    for (const [id, t] of [...this.txns]) {
      if (t.commit || now.monoUs - t.lastActiveMonoUs <= this.limits.idleAbortUs) continue;
      if (t.aborted) this.txns.delete(id); // its requests have heard why by now
      else this.abortTxn(id, 'idle for too long');
    }
    if (this.epoch !== null && !this.barrier && now.serving) this.proposeBarrier(now);
    this.sendClosed(now);
    this.twoPhaseTick(now);
    this.pump(now);
  }

  /**
   * A client request. Every input re-steps every parked request, which costs a pass over all of
   * them per request when a batch of requests arrives at once (docs/transactions.md, "Parked
   * requests"). With `deferPump` the request itself is handled (and stepped once, if it parks)
   * but the others are left for `pumpOwed`, which the shell calls once after the batch.
   */
  request(reqId: number, req: TxnRequest | CutRequest, now: CoreNow, deferPump = false): void {
    this.lastNow = now;
    this.dispatch(reqId, req, now);
    if (deferPump) this.pumpDue = true;
    else this.pump(now);
  }

  /** Steps the parked requests if a request given with `deferPump` left them unstepped. */
  pumpOwed(now: CoreNow): void {
    if (this.pumpDue) this.pump(now);
  }

  private dispatch(reqId: number, req: TxnRequest | CutRequest, now: CoreNow): void {
    if (this.parked.length >= this.limits.maxParkedRequests && req.kind !== 'abort')
      return this.fail(reqId, 'UNAVAILABLE', `${this.opts.self}: ${this.parked.length} requests already waiting on split ${this.opts.splitId}; retry later`);
    switch (req.kind) {
      case 'read':
        return this.lockingRead(reqId, req.txn, req.keys, req.waitUs, now);
      case 'commit':
        return this.commit(reqId, req, now);
      case 'prepare':
        return this.prepare(reqId, req, now);
      case 'abort':
        this.abortTxn(req.txnId, 'aborted by the client');
        return this.reply(reqId, { kind: 'ok' });
      case 'snapshot':
        return this.snapshotRead(reqId, req, now);
      case 'status':
        return this.status(reqId, req.txnId, req.waitUs, now);
      case 'cut':
        return this.cutRequest(reqId, req, now);
    }
  }

  apply(entry: { slot: number; commands: Array<{ id: string; payload: unknown }>; duplicates: string[] }, now: CoreNow): ApplyWrite {
    this.lastNow = now;
    const versions: VersionOut[] = [];
    const decided: string[] = [];
    const outcomes: Array<[string, DecidedOutcome]> = [];
    const decide = (txn: string, outcome: TxnOutcome) => outcomes.push([txn, this.outcomes.put(txn, outcome, this.maxAppliedTs, entry.slot)]);
    let child: ChildInit | undefined;
    const write = (writes: WriteOp[], ts: number) => {
      this.statsCounters.keysWritten += writes.length;
      for (const w of writes) versions.push(w.deleted ? { key: w.key, ts, deleted: true } : { key: w.key, ts, value: w.value });
      this.maxAppliedTs = Math.max(this.maxAppliedTs, ts);
      this.lastCommitTs = Math.max(this.lastCommitTs, ts);
    };
    for (const cmd of entry.commands) {
      const c = validateSplitCommand(cmd.payload);
      decided.push(cmd.id);
      if (!c) continue;
      if (c.t === 'closed') {
        if (c.ts > this.maxAppliedTs) this.maxAppliedTs = c.ts;
        continue;
      }
      if (c.t === 'cut') {
        const r = this.applyCut(c, entry.slot);
        if (typeof r === 'string') {
          if (this.proposed.has(cmd.id)) {
            // Kept for the waiting request; one cut is pending at a time, so only a waiter that timed out leaves one behind.
            if (this.cutRefusals.size >= 16) this.cutRefusals.clear();
            this.cutRefusals.set(cmd.id, r);
          }
        } else if (r) child = r;
        continue;
      }
      if (this.outcomes.get(c.txn)) continue; // decided before: a retried commit, a late prepare or abort changes nothing
      // Rule 20: after a cut, a commit or prepare naming a key of the other half is refused here, on every replica alike.
      const outside = c.t === 'commit' || c.t === 'prepare' ? this.outsideKey(c.writes) : undefined;
      if (outside !== undefined) {
        decide(c.txn, { committed: false, reason: `${OUT_OF_RANGE_REASON} key ${JSON.stringify(outside.slice(0, 64))} is no longer in split ${this.opts.splitId}` });
        if (c.t === 'commit' && c.participants?.length) this.owe(c.txn, { committed: false }, c.participants);
        if (c.t === 'prepare' && this.view.leading) this.send(c.coordinator, { kind: 'refused', txn: c.txn, participant: this.opts.splitId, reason: 'key out of range after a cut' });
        continue;
      }
      if (c.t === 'abort') {
        if (this.prepared.has(c.txn)) continue; // a prepared transaction is decided by its coordinator alone
        if (!this.broken.forgetLoggedAbort) decide(c.txn, { committed: false, reason: 'decided aborted (status lookup or 2PC presumed abort)' });
        if (this.decisionsOwedFor(c.txn)) this.owe(c.txn, { committed: false });
      } else if (c.t === 'prepare') {
        if (this.prepared.has(c.txn)) continue;
        this.prepared.set(c.txn, { txn: c.txn, ts: c.ts, coordinator: c.coordinator, writes: c.writes, readKeys: c.readKeys });
      } else if (c.t === 'decide') {
        const p = this.prepared.get(c.txn);
        this.prepared.delete(c.txn);
        if (p) this.decidedNotDurable.set(c.txn, { ts: p.ts, upTo: entry.slot + 1 });
        if (c.committed && p && c.ts !== undefined) {
          write(p.writes, c.ts);
          decide(c.txn, { committed: true, ts: c.ts });
        } else decide(c.txn, { committed: false, reason: c.committed ? 'committed without a prepare here' : 'aborted by its coordinator' });
      } else if (!commitApplies(this.maxAppliedTs, c.ts) && !this.broken.noApplyTimeRule) {
        decide(c.txn, { committed: false, reason: `timestamp ${c.ts} is not above ${this.maxAppliedTs}` });
        if (c.participants?.length) this.owe(c.txn, { committed: false }, c.participants);
      } else {
        write(c.writes, c.ts);
        decide(c.txn, { committed: true, ts: c.ts });
        if (c.participants?.length) this.owe(c.txn, { committed: true, ts: c.ts }, c.participants);
      }
    }
    const forgotten = this.outcomes.evict(this.maxAppliedTs);
    this.appliedIndex = entry.slot + 1;
    this.notDurable.push({ upTo: this.appliedIndex, maxAppliedTs: this.maxAppliedTs, lastCommitTs: this.lastCommitTs, decided, txns: outcomes.map(([t]) => t) });
    if (this.barrier && decided.includes(this.barrier.commandId)) this.barrier.appliedUpTo = this.appliedIndex;
    this.pump(now);
    return child ? { versions, header: this.header(), outcomes, forgotten, child } : { versions, header: this.header(), outcomes, forgotten };
  }

  /** A coordinator's decision for its participants, sent once durable (decisionsOwed). */
  private owe(txn: string, d: { committed: boolean; ts?: number }, participants?: string[]): void {
    const known = participants ?? this.decisionsOwed.get(txn)?.participants ?? this.coordinating.get(txn)?.participants;
    if (!known) return;
    if (!d.committed && this.decisionsOwed.get(txn)?.committed) return; // a commit record owed stays owed
    this.decisionsOwed.set(txn, { participants: known, durable: false, ...d });
  }

  private decisionsOwedFor(txn: string): boolean {
    return this.coordinating.has(txn) || this.decisionsOwed.has(txn);
  }

  durable(upTo: number, now: CoreNow): void {
    this.lastNow = now;
    for (const [txn, d] of this.decidedNotDurable) if (d.upTo <= upTo) this.decidedNotDurable.delete(txn);
    for (const [child, at] of this.cutDurableAt) if (at <= upTo) this.cutDurableAt.delete(child);
    while (this.notDurable.length > 0 && this.notDurable[0]!.upTo <= upTo) {
      const d = this.notDurable.shift()!;
      this.durableTs = Math.max(this.durableTs, d.maxAppliedTs);
      this.durableLastCommitTs = d.lastCommitTs;
      this.durableIndex = d.upTo;
      for (const txn of d.txns) {
        this.outcomes.markDurable(txn);
        this.txnDecided(txn);
      }
      for (const id of d.decided) this.settled(id);
    }
    this.applyPendingClosed();
    this.pump(now);
  }

  /**
   * A snapshot from a peer replaces the state: call it when the shell takes the snapshot in, in
   * log order (before any later entry is applied), and report its install write through
   * `durable(snap.appliedIndex)` like any apply.
   */
  restored(snap: ResumeState, now: CoreNow): void {
    this.lastNow = now;
    this.maxAppliedTs = Math.max(this.maxAppliedTs, snap.header.maxAppliedTs);
    this.lastCommitTs = snap.header.lastCommitTs;
    this.appliedIndex = snap.appliedIndex;
    this.outcomes.load(snap.outcomes, snap.header.maxAppliedTs, false);
    this.prepared.clear();
    for (const p of snap.header.prepared ?? []) this.prepared.set(p.txn, p);
    this.takeCutState(snap.header);
    this.notDurable.push({ upTo: snap.appliedIndex, maxAppliedTs: snap.header.maxAppliedTs, lastCommitTs: snap.header.lastCommitTs, decided: [], txns: snap.outcomes.map(([t]) => t) });
    this.pump(now);
  }

  proposalRejected(commandIds: string[], now: CoreNow): void {
    this.lastNow = now;
    for (const id of commandIds) {
      const p = this.proposed.get(id);
      if (!p) continue;
      this.proposed.delete(id);
      if (p.kind === 'commit') {
        // Never entered the log: the transaction can be aborted here and now.
        this.ownPending.delete(id);
        const t = this.txns.get(p.txnId);
        if (t?.commit?.commandId === id) {
          delete t.commit;
          this.abortTxn(p.txnId, 'its commit could not be proposed (leadership lost)');
        }
      } else if (p.kind === 'barrier' && this.barrier?.commandId === id) this.barrier = null;
      else if (p.kind === 'closed') this.closedInFlight = false;
      else if (p.kind === 'cut') {
        this.ownPending.delete(id);
        if (this.cutPending?.commandId === id) this.cutPending = null;
        if (this.cutRefusals.size >= 16) this.cutRefusals.clear();
        this.cutRefusals.set(id, 'the cut could not be proposed (leadership lost); retry');
      }
    }
    this.pump(now);
  }

  closedReceived(c: ClosedTimestamp, now: CoreNow): void {
    this.lastNow = now;
    // A deposed leader's promise stays true (its timestamps end with its lease); only order matters here.
    if (this.highestClosedBallot && compareEpoch(c.ballot, this.highestClosedBallot) < 0) return;
    this.highestClosedBallot = c.ballot;
    if (this.pendingClosed.length >= this.limits.maxPendingClosed) this.pendingClosed.shift();
    this.pendingClosed.push(c);
    this.applyPendingClosed();
    this.pump(now);
  }

  /** A 2PC message from another split's replica (only this split's leader acts on it). */
  splitMessage(fromSplit: string, msg: SplitMessage, now: CoreNow): void {
    this.lastNow = now;
    this.onSplitMessage(fromSplit, msg, now);
    this.pump(now);
  }

  private onSplitMessage(fromSplit: string, msg: SplitMessage, now: CoreNow): void {
    if (!this.view.leading || !this.isReady()) return;
    const id = msg.txn;
    if (msg.kind === 'decision') {
      // A participant: log the coordinator's decision for a transaction prepared here (or being prepared).
      if (this.outcomes.get(id) || this.decideProposed.has(id)) return;
      if (!this.prepared.has(id) && !this.txns.get(id)?.commit) {
        if (!msg.committed) this.abortTxn(id, 'aborted by its coordinator');
        return;
      }
      this.proposeDecide(id, msg.committed, msg.ts);
      return;
    }
    // A coordinator: a participant's vote (repeated until it hears the decision), or its refusal.
    const participant = msg.participant;
    if (participant !== fromSplit) return;
    const outcome = this.outcomes.get(id);
    if (outcome && this.outcomes.isDurable(id)) {
      // Decided here already: tell it (a commit only once its timestamp is past, as the client hears it).
      if (!outcome.committed) this.send(participant, { kind: 'decision', txn: id, committed: false });
      else if (now.tt.earliest > outcome.ts || this.broken.noCoordinatorCommitWait) this.send(participant, { kind: 'decision', txn: id, committed: true, ts: outcome.ts });
      return;
    }
    if (outcome) return;
    const c = this.coordinating.get(id);
    if (c) {
      if (msg.kind === 'prepared') c.votes.set(participant, msg.ts);
      else c.refused = msg.reason;
      return;
    }
    if (this.txns.get(id)?.commit) return; // its commit record is on its way into the log
    if (this.txns.get(id)?.aborted) return this.logAbort(id, [participant]); // aborted here before it could coordinate
    // The commit request has not arrived (yet): keep the vote a while; presumed abort after the bound (tick).
    let votes = this.earlyVotes.get(id);
    if (!votes) {
      if (this.earlyVotes.size >= this.limits.maxActiveTxns) return;
      this.earlyVotes.set(id, (votes = new Map()));
      this.lastInquiryMonoUs.set(id, now.monoUs);
    }
    votes.set(participant, msg.kind === 'prepared' ? msg.ts : { refused: msg.reason });
  }

  /** Decides `txn` aborted through the log (unless decided) and owes the decision to `participants`. */
  private logAbort(txn: string, participants: string[]): void {
    if (this.outcomes.get(txn) || !this.view.leading || !this.isReady()) return;
    const commandId = this.nextCommandId();
    this.proposed.set(commandId, { kind: 'abort', txnId: txn });
    this.decisionsOwed.set(txn, { participants, committed: false, durable: false });
    this.propose({ id: commandId, payload: { t: 'abort', txn } });
  }

  private proposeDecide(txn: string, committed: boolean, ts: number | undefined): void {
    this.decideProposed.add(txn);
    const commandId = this.nextCommandId();
    this.proposed.set(commandId, { kind: 'decide', txnId: txn });
    this.propose({ id: commandId, payload: committed && ts !== undefined ? { t: 'decide', txn, committed: true, ts } : { t: 'decide', txn, committed: false } });
  }

  /** A participant's vote for a transaction prepared here: its prepare timestamp, to the coordinator. */
  private vote(p: PreparedRecord, now: CoreNow): void {
    this.lastInquiryMonoUs.set(p.txn, now.monoUs);
    this.send(p.coordinator, { kind: 'prepared', txn: p.txn, participant: this.opts.splitId, ts: p.ts });
  }

  /** 2PC housekeeping at a leader: votes repeated until decided, presumed aborts, decisions owed. */
  private twoPhaseTick(now: CoreNow): void {
    if (!this.view.leading || !this.isReady()) return;
    for (const p of this.prepared.values()) {
      if (this.decideProposed.has(p.txn)) continue;
      const last = this.lastInquiryMonoUs.get(p.txn);
      if (last !== undefined && now.monoUs - last < this.limits.inquireIntervalUs) continue;
      if (this.broken.participantAbortsPrepared && last !== undefined && now.monoUs - last >= this.limits.inquireIntervalUs) {
        // The broken variant: a participant gives up on a prepared transaction by itself.
        this.proposeDecide(p.txn, false, undefined);
        continue;
      }
      this.vote(p, now);
    }
    for (const [id] of [...this.earlyVotes]) {
      const first = this.lastInquiryMonoUs.get(id) ?? now.monoUs;
      if (now.monoUs - first < this.limits.prepareBoundUs || this.outcomes.get(id) || this.txns.get(id)?.commit) continue;
      // Presumed abort, logged: the commit request never came; a late one finds the abort.
      const participants = [...(this.earlyVotes.get(id)?.keys() ?? [])];
      this.earlyVotes.delete(id);
      const commandId = this.nextCommandId();
      this.proposed.set(commandId, { kind: 'abort', txnId: id });
      this.decisionsOwed.set(id, { participants, committed: false, durable: false });
      this.propose({ id: commandId, payload: { t: 'abort', txn: id } });
    }
    for (const [id, d] of [...this.decisionsOwed]) {
      if (!d.durable) continue;
      if (d.committed && d.ts !== undefined && !(now.tt.earliest > d.ts) && !this.broken.noCoordinatorCommitWait) continue;
      for (const p of d.participants) this.send(p, d.committed && d.ts !== undefined ? { kind: 'decision', txn: id, committed: true, ts: d.ts } : { kind: 'decision', txn: id, committed: false });
      this.decisionsOwed.delete(id);
    }
  }

  // ------------------------------------------------------------------ leadership

  private newEpoch(epoch: string | null, now: CoreNow): void {
    // Locks belong to one leadership: a new one starts with none, and every transaction that
    // has not proposed its commit is aborted (its reads' locks are gone).
    for (const [id, t] of [...this.txns]) if (!t.commit) this.abortTxn(id, 'leadership changed');
    this.txns.clear();
    this.locks = new LockTable();
    this.ownPending.clear();
    this.cutPending = null;
    this.epoch = epoch;
    this.epochReady = false;
    this.barrier = null;
    this.closedInFlight = false;
    this.closedWanted = 0;
    this.coordinating.clear();
    this.earlyVotes.clear();
    this.decideProposed.clear();
    // Prepare and decide records proposed in an earlier term: the new term's barrier applies only
    // after every entry chosen before it, so from then on such a record has applied (and the
    // replicated prepared records show it) or will never be chosen. Kept, it would refuse every
    // cut here for good as "in flight" (docs/transactions.md, rule 19).
    for (const [id, p] of [...this.proposed]) if (p.kind === 'prepare' || p.kind === 'decide') this.proposed.delete(id);
    this.lastInquiryMonoUs.clear();
    this.decisionsOwed.clear();
    this.lastClosedSentMonoUs = -Infinity;
    if (epoch !== null) {
      this.statsCounters.epochs++;
      if (now.serving) this.proposeBarrier(now);
    }
    this.pump(now);
  }

  /**
   * A new leader first gets one entry of its own applied and durable: then every entry chosen
   * before its term is applied here, and its timestamp floor covers all earlier leaders' commits.
   */
  private proposeBarrier(now: CoreNow): void {
    this.oracle.observe(this.maxAppliedTs);
    const ts = this.oracle.assign(now.tt.latest);
    const id = this.nextCommandId();
    this.barrier = { commandId: id };
    this.proposed.set(id, { kind: 'barrier', epoch: this.epoch! });
    this.propose({ id, payload: { t: 'closed', ts } });
  }

  private isReady(): boolean {
    if (this.epoch === null) return false;
    if (this.broken.noEpochBarrier) return true;
    return this.epochReady;
  }

  private refreshReady(): void {
    if (this.epoch !== null && !this.epochReady && this.barrier?.appliedUpTo !== undefined && this.durableIndex >= this.barrier.appliedUpTo) {
      this.epochReady = true;
      this.relockPrepared();
    }
  }

  /**
   * A new leader takes the locks of every transaction prepared under an earlier one (their
   * reads and writes stay protected until the decision), before it serves anything.
   */
  private relockPrepared(): void {
    for (const p of this.prepared.values()) {
      if (this.txns.has(p.txn)) continue;
      const t: TxnState = { ref: { id: p.txn, startTs: 0 }, incarnation: ++this.incarnations, lastActiveMonoUs: this.lastNow?.monoUs ?? 0, commit: { ts: p.ts, commandId: '' } };
      this.txns.set(p.txn, t);
      for (const k of p.readKeys) this.locks.acquire(t.ref, k, 'shared');
      for (const w of p.writes) this.locks.acquire(t.ref, w.key, 'exclusive');
    }
  }

  /** The highest timestamp this leader may assign or close: inside its lease (DESIGN §4). */
  private leaseBound(now: CoreNow): number {
    if (this.broken.noLeaseBound) return Number.MAX_SAFE_INTEGER;
    const end = this.view.leaseEndMonoUs;
    if (end === null || end <= now.monoUs) return -1;
    return Math.floor(now.tt.earliest + (end - now.monoUs));
  }

  /** Why a timestamp fell outside the lease, for the refusal's message. */
  private leaseState(now: CoreNow): string {
    const end = this.view.leaseEndMonoUs;
    const lease = end === null ? 'no lease' : `lease bound ${this.leaseBound(now)}, ends in ${end - now.monoUs} µs`;
    return `${lease}; now.latest ${Math.ceil(now.tt.latest)}, floor ${this.oracle.floorTs}, last applied ${this.maxAppliedTs}`;
  }

  private leaseReadable(now: CoreNow): boolean {
    return this.isReady() && this.view.localReadOk && this.leaseBound(now) > 0;
  }

  /**
   * When the next closed timestamp is due: the next multiple of the interval after the last one
   * sent, not one interval after it, so every split a process leads closes in the same turn and
   * the transport carries all of them to a peer in one message (docs/transactions.md, rule 11).
   */
  private nextClosedDueMonoUs(): number {
    const interval = this.limits.closedIntervalUs;
    return (Math.floor(this.lastClosedSentMonoUs / interval) + 1) * interval;
  }

  /**
   * An idle leader's promise to its followers, carried outside the log: no commit at or below
   * `ts` will be chosen at or after `appliedIndex` (everything below is applied here).
   */
  private sendClosed(now: CoreNow): void {
    if (this.epoch === null || !this.view.leading || !this.epochReady || !now.serving) return;
    if (now.monoUs < this.nextClosedDueMonoUs()) return;
    let ts = Math.min(Math.ceil(now.tt.latest), this.leaseBound(now));
    // Commits proposed but not yet applied here may land at any slot: close below them.
    for (const p of this.ownPending.values()) ts = Math.min(ts, p - 1);
    if (ts <= this.lastClosedSentTs || ts <= 0) return;
    this.oracle.observe(ts);
    this.lastClosedSentTs = ts;
    this.lastClosedSentMonoUs = now.monoUs;
    this.statsCounters.closedSent++;
    const closed = { ballot: this.view.leading, ts, appliedIndex: this.appliedIndex };
    this.outputs.push({ type: 'closed', closed });
    // The promise holds here too: the leader's own t_safe follows it once its writes are durable.
    this.closedReceived(closed, now);
  }

  private applyPendingClosed(): void {
    const keep: ClosedTimestamp[] = [];
    for (const c of this.pendingClosed) {
      if (c.appliedIndex <= this.durableIndex) this.closedTs = Math.max(this.closedTs, c.ts);
      else keep.push(c);
    }
    this.pendingClosed = keep;
  }

  // ------------------------------------------------------------------ read-write transactions

  private notLeader(reqId: number): void {
    const hint = this.view.leaderHint;
    this.fail(reqId, 'NOT_LEADER', `${this.opts.self} does not lead ${this.opts.splitId}`, hint && hint !== this.opts.self ? { leader: hint } : undefined);
  }

  /** The range requests are checked against: the current one (the original with the `serveCutKeys` variant). */
  private servedRange(): { start: string; end: string } {
    return this.broken.serveCutKeys ? this.opts.range : this.range;
  }

  private checkKeys(reqId: number, keys: readonly string[]): boolean {
    const { start, end } = this.servedRange();
    for (const key of keys)
      if (key < start || (end !== '' && key >= end)) {
        // The hint is the split's current entry: a client routed by an older map refreshes it (rule 20).
        this.fail(reqId, 'KEY_OUT_OF_RANGE', `key ${JSON.stringify(key.slice(0, 64))} is outside split ${this.opts.splitId} [${JSON.stringify(start.slice(0, 64))}, ${JSON.stringify(end.slice(0, 64))}) at generation ${this.generation}`, this.entry());
        return false;
      }
    return true;
  }

  /** The first of `writes`' keys the split no longer covers (rule 20's apply-time check). */
  private outsideKey(writes: readonly WriteOp[]): string | undefined {
    if (this.broken.serveCutKeys) return undefined;
    const { start, end } = this.range;
    return writes.find((w) => w.key < start || (end !== '' && w.key >= end))?.key;
  }

  /** While this leader's cut is pending, keys at or above its cut key take no new locks (rule 21). */
  private checkNotCutting(reqId: number, keys: readonly string[]): boolean {
    const c = this.cutPending;
    if (!c || this.broken.cutKeepsUpperLocks) return true;
    if (!keys.some((k) => k >= c.atKey)) return true;
    this.fail(reqId, 'UNAVAILABLE', `split ${this.opts.splitId} is being cut at ${JSON.stringify(c.atKey.slice(0, 64))}; retry`, { reason: 'cut in progress' });
    return false;
  }

  private recordLoad(keys: readonly string[]): void {
    for (const k of keys) this.load.record(k);
  }

  /** The transaction's state here, created on first use; undefined (after answering) if it cannot take more requests. */
  private txnFor(reqId: number, ref: TxnRef, now: CoreNow): TxnState | undefined {
    let t = this.txns.get(ref.id);
    if (!t) {
      if (this.txns.size >= this.limits.maxActiveTxns) {
        this.fail(reqId, 'UNAVAILABLE', `${this.txns.size} transactions already active on split ${this.opts.splitId}; retry later`);
        return undefined;
      }
      this.txns.set(ref.id, (t = { ref, incarnation: ++this.incarnations, lastActiveMonoUs: now.monoUs }));
    }
    if (t.aborted) {
      this.fail(reqId, 'TXN_ABORTED', `${ref.id}: ${t.aborted}; retry the transaction`);
      return undefined;
    }
    if (t.commit) {
      this.fail(reqId, 'INVALID_ARGUMENT', `${ref.id} is already committing`);
      return undefined;
    }
    t.lastActiveMonoUs = now.monoUs;
    return t;
  }

  /** The epoch a transaction's reads report and its commit must echo: the leadership, then the transaction's life here. */
  private txnEpoch(t: TxnState): string {
    return `${this.epoch}/${t.incarnation}`;
  }

  /** Whether the request may run now at this leader; otherwise it is answered or parked until the barrier. */
  private whenReady(reqId: number, waitUs: number, now: CoreNow, run: () => void): void {
    if (!this.view.leading) return this.notLeader(reqId);
    if (this.isReady() && this.holdsLease(now)) return run();
    this.park({
      reqId,
      deadlineMonoUs: now.monoUs + waitUs,
      step: (at) => {
        if (!this.view.leading) {
          this.notLeader(reqId);
          return true;
        }
        if (!this.isReady() || !this.holdsLease(at)) return false;
        run();
        return true;
      },
      expire: () =>
        this.fail(reqId, 'UNAVAILABLE', this.isReady() ? `${this.opts.self} holds no lease on ${this.opts.splitId}; retry` : `${this.opts.self} is still taking over ${this.opts.splitId}; retry`),
    });
  }

  /**
   * Whether this leader's lease covers now. Without one it can assign no timestamp, so a request
   * waits for it rather than aborting: a quiet group's lease comes back a round trip after the
   * request woke it (docs/transactions.md, "Quiescent splits").
   */
  private holdsLease(now: CoreNow): boolean {
    return this.broken.noLeaseBound === true || this.leaseBound(now) > 0;
  }

  private lockingRead(reqId: number, ref: TxnRef, keys: string[], waitUs: number, now: CoreNow): void {
    if (!this.checkKeys(reqId, keys)) return;
    this.whenReady(reqId, waitUs, now, () => {
      if (!this.checkNotCutting(reqId, keys)) return;
      const t = this.txnFor(reqId, ref, now);
      if (!t) return;
      const epoch = this.txnEpoch(t);
      this.recordLoad(keys);
      this.lockThen(reqId, t, keys, 'shared', waitUs, now, () => {
        // A cut may have applied while the locks were awaited: the upper half is not ours to read any more.
        if (!this.checkKeys(reqId, keys)) return this.abortTxn(t.ref.id, 'its keys left the split in a cut');
        this.statsCounters.keysRead += keys.length;
        const values = keys.map((key) => {
          const r = this.opts.reader.get(key, LATEST);
          return r ? { key, value: r.value, ts: r.ts } : { key };
        });
        this.reply(reqId, { kind: 'values', values, epoch });
      });
    });
  }

  /** Requests `mode` locks on `keys` for `t`, then runs `then` once all are held (parked meanwhile). */
  private lockThen(reqId: number, t: TxnState, keys: string[], mode: LockMode, waitUs: number, now: CoreNow, then: (now: CoreNow) => void): void {
    const wounded: string[] = [];
    for (const key of keys) wounded.push(...this.locks.acquire(t.ref, key, mode).wounded);
    const epoch = this.epoch;
    const held = () => keys.every((k) => this.locks.holds(t.ref.id, k, mode));
    this.park({
      reqId,
      txnId: t.ref.id,
      deadlineMonoUs: now.monoUs + waitUs,
      step: (n) => {
        if (t.aborted || this.epoch !== epoch) {
          this.fail(reqId, 'TXN_ABORTED', `${t.ref.id}: ${t.aborted ?? 'leadership changed'}; retry the transaction`);
          return true;
        }
        if (!held()) return false;
        then(n);
        return true;
      },
      expire: () => {
        this.abortTxn(t.ref.id, `waited over ${Math.round(waitUs / 1000)} ms for a lock`);
        this.fail(reqId, 'TXN_ABORTED', `${t.ref.id}: waited over ${Math.round(waitUs / 1000)} ms for a lock; retry the transaction`);
      },
    });
    for (const id of wounded) this.wound(id);
  }

  private commit(reqId: number, req: Extract<TxnRequest, { kind: 'commit' }>, now: CoreNow): void {
    const participants = (req.participants ?? []).filter((p) => p !== this.opts.splitId);
    // A coordinator that refuses the commit logs its abort at once: the participants, which may
    // have prepared already, hear the decision now rather than after the vote bound.
    const refused = participants.length > 0 ? () => this.logAbort(req.txn.id, participants) : undefined;
    this.admit(reqId, req, now, 'commit', refused, (t, n) =>
      participants.length > 0 ? this.coordinate(reqId, t, req.writes, participants, req.waitUs, n) : this.proposeCommit(reqId, t, req.writes, req.waitUs, n),
    );
  }

  /** A 2PC participant's part: the same checks and locks as a commit, then a prepare record. */
  private prepare(reqId: number, req: Extract<TxnRequest, { kind: 'prepare' }>, now: CoreNow): void {
    this.admit(reqId, req, now, 'prepare', (reason) => this.send(req.coordinator, { kind: 'refused', txn: req.txn.id, participant: this.opts.splitId, reason }), (t, n) =>
      this.proposePrepare(reqId, t, req, n),
    );
  }

  /**
   * What a commit and a prepare share: idempotency by transaction id, the leadership, the epoch
   * and read-lock checks, and exclusive locks on the writes; then `locked`.
   */
  private admit(
    reqId: number,
    req: Extract<TxnRequest, { kind: 'commit' | 'prepare' }>,
    now: CoreNow,
    kind: 'commit' | 'prepare',
    refused: ((reason: string) => void) | undefined,
    locked: (t: TxnState, now: CoreNow) => void,
  ): void {
    const id = req.txn.id;
    // Idempotent: a commit (prepare) seen before answers with its outcome, or joins the one in flight.
    const seen = () => this.outcomes.get(id) || this.txns.get(id)?.commit || (kind === 'prepare' && this.prepared.has(id));
    if (seen()) return this.awaitOutcome(reqId, id, req.waitUs, now, kind);
    // Nothing decides this transaction, or starts its commit, while this call runs: the check is
    // repeated only by a step that runs later, parked (each look-up in the outcome table misses
    // the CPU cache; three per commit were 1.4% of a leader's time under puts).
    let later = false;
    const seenSince = () => later && seen();
    // Read keys too: a read lock in a half cut away is gone, so a commit that relies on it must not pass (rule 20).
    const keys = [...req.writes.map((w) => w.key), ...req.readKeys];
    if (!this.checkKeys(reqId, keys)) return refused?.('key out of range');
    const refuse = (message: string) => {
      refused?.(message);
      this.fail(reqId, 'TXN_ABORTED', message);
    };
    this.whenReady(reqId, req.waitUs, now, () => {
      if (seenSince()) return this.awaitOutcome(reqId, id, req.waitUs, now, kind);
      if (!this.checkKeys(reqId, keys)) return refused?.('key out of range');
      if (!this.checkNotCutting(reqId, keys)) return refused?.('cut in progress');
      this.recordLoad(req.writes.map((w) => w.key));
      // The reads' epoch names the leadership and the life of the transaction they ran in: a
      // commit from another leadership, or from a transaction whose record lapsed and was revived
      // by a later read, computed its writes from reads whose locks are gone.
      const known = this.txns.get(id);
      if (req.epoch !== undefined && (!known || req.epoch !== this.txnEpoch(known)) && !this.broken.noEpochCheck) {
        this.abortTxn(id, 'leadership changed since the reads, or their locks lapsed');
        return refuse(`${id}: leadership of ${this.opts.splitId} changed since the reads, or their locks lapsed; retry the transaction`);
      }
      // The reads are valid only while their locks are still held: a transaction whose locks
      // lapsed (aborted, wounded, idle, another leadership) must start over.
      if (req.readKeys.length > 0 && !this.broken.noReadLockCheck) {
        const t = this.txns.get(id);
        if (!t || t.aborted || req.readKeys.some((k) => !this.locks.holds(id, k, 'shared'))) return refuse(`${id}: its read locks are no longer held${t?.aborted ? ` (${t.aborted})` : ''}; retry the transaction`);
      }
      const t = this.txnFor(reqId, req.txn, now);
      if (!t) return refused?.('not admitted');
      // Two copies of one request may both wait for the locks: only the first goes on to commit.
      this.lockThen(reqId, t, req.writes.map((w) => w.key), 'exclusive', req.waitUs, now, (n) => (seenSince() ? this.awaitOutcome(reqId, id, req.waitUs, n, kind) : locked(t, n)));
    });
    later = true;
  }

  private proposeCommit(reqId: number, t: TxnState, writes: WriteOp[], waitUs: number, now: CoreNow): void {
    // Serving state is checked when a timestamp is assigned (and again before the reply).
    if (!now.serving) {
      this.abortTxn(t.ref.id, 'clock not within bounds');
      return this.fail(reqId, 'UNAVAILABLE', `${this.opts.self}: clock not within bounds; not serving`);
    }
    if (!this.broken.oracleIgnoresApplied) this.oracle.observe(this.maxAppliedTs);
    const ts = this.oracle.assign(now.tt.latest);
    if (ts > this.leaseBound(now)) {
      this.abortTxn(t.ref.id, 'lease does not cover its timestamp');
      return this.fail(reqId, 'TXN_ABORTED', `${this.opts.self}'s lease on ${this.opts.splitId} does not cover timestamp ${ts} (${this.leaseState(now)}); retry the transaction`);
    }
    const commandId = this.nextCommandId();
    t.commit = { ts, commandId };
    this.ownPending.set(commandId, ts);
    this.proposed.set(commandId, { kind: 'commit', txnId: t.ref.id, ts });
    this.propose({ id: commandId, payload: { t: 'commit', txn: t.ref.id, ts, writes } });
    this.awaitOutcome(reqId, t.ref.id, waitUs, now, 'commit');
  }

  /** A 2PC participant logs its prepare: locks stay held until the coordinator's decision is applied here. */
  private proposePrepare(reqId: number, t: TxnState, req: Extract<TxnRequest, { kind: 'prepare' }>, now: CoreNow): void {
    const refuse = (code: TxnError['code'], message: string) => {
      this.abortTxn(t.ref.id, message);
      this.send(req.coordinator, { kind: 'refused', txn: t.ref.id, participant: this.opts.splitId, reason: message });
      this.fail(reqId, code, message);
    };
    if (!now.serving) return refuse('UNAVAILABLE', `${this.opts.self}: clock not within bounds; not serving`);
    if (this.prepared.size >= this.limits.maxPrepared) return refuse('UNAVAILABLE', `${this.prepared.size} transactions already prepared on split ${this.opts.splitId}`);
    if (!this.broken.oracleIgnoresApplied) this.oracle.observe(this.maxAppliedTs);
    // Above every timestamp this leader assigned: the commit timestamp will be at least this.
    const ts = this.oracle.assign(now.tt.latest);
    if (ts > this.leaseBound(now)) return refuse('TXN_ABORTED', `${this.opts.self}'s lease on ${this.opts.splitId} does not cover prepare timestamp ${ts}; retry the transaction`);
    const commandId = this.nextCommandId();
    t.commit = { ts, commandId };
    this.ownPending.set(commandId, ts);
    this.proposed.set(commandId, { kind: 'prepare', txnId: t.ref.id, ts });
    this.propose({ id: commandId, payload: { t: 'prepare', txn: t.ref.id, ts, writes: req.writes, readKeys: req.readKeys, coordinator: req.coordinator } });
    this.awaitOutcome(reqId, t.ref.id, req.waitUs, now, 'prepare');
  }

  /**
   * The coordinator, once its own locks are held: collects every participant's prepare timestamp
   * (within prepareBoundUs, else it logs an abort), then logs the commit record at
   * s ≥ every prepare timestamp, above TT.now().latest and every timestamp it assigned.
   */
  private coordinate(reqId: number, t: TxnState, writes: WriteOp[], participants: string[], waitUs: number, now: CoreNow): void {
    const id = t.ref.id;
    if (this.coordinating.size >= this.limits.maxActiveTxns) {
      this.abortTxn(id, 'too many transactions coordinated here');
      return this.fail(reqId, 'UNAVAILABLE', `${this.coordinating.size} transactions already coordinated on split ${this.opts.splitId}; retry later`);
    }
    if (!this.broken.oracleIgnoresApplied) this.oracle.observe(this.maxAppliedTs);
    const floor = this.oracle.assign(now.tt.latest);
    const c: Coordination = { participants, votes: new Map(), deadlineMonoUs: now.monoUs + Math.min(waitUs, this.limits.prepareBoundUs) };
    for (const [split, v] of this.earlyVotes.get(id) ?? []) {
      if (typeof v === 'number') c.votes.set(split, v);
      else c.refused = v.refused;
    }
    this.earlyVotes.delete(id);
    this.coordinating.set(id, c);
    // From here on only the log decides: the transaction is not wounded while it waits for votes.
    t.commit = { ts: floor, commandId: '' };
    const decideAbort = (reason: string) => {
      this.coordinating.delete(id);
      const commandId = this.nextCommandId();
      t.commit = { ts: floor, commandId };
      this.owe(id, { committed: false }, participants);
      this.proposed.set(commandId, { kind: 'abort', txnId: id });
      this.propose({ id: commandId, payload: { t: 'abort', txn: id } });
      void reason;
    };
    this.park({
      reqId: -1,
      deadlineMonoUs: c.deadlineMonoUs,
      step: (n) => {
        if (!this.coordinating.has(id)) return true;
        if (c.refused) {
          decideAbort(c.refused);
          return true;
        }
        if (participants.some((p) => !c.votes.has(p))) return false;
        // Above everything assigned, closed or served here since the locks were granted (the
        // oracle's floor), and at or above every prepare timestamp.
        if (!this.broken.oracleIgnoresApplied) this.oracle.observe(this.maxAppliedTs);
        let s = this.broken.commitBelowPrepare ? floor : this.oracle.assign(n.tt.latest);
        if (!this.broken.commitBelowPrepare) for (const v of c.votes.values()) s = Math.max(s, v);
        this.oracle.observe(s);
        if (!n.serving || s > this.leaseBound(n)) {
          decideAbort(!n.serving ? 'clock not within bounds' : `lease does not cover commit timestamp ${s}`);
          return true;
        }
        this.coordinating.delete(id);
        const commandId = this.nextCommandId();
        t.commit = { ts: s, commandId };
        this.ownPending.set(commandId, s);
        this.proposed.set(commandId, { kind: 'commit', txnId: id, ts: s });
        this.propose({ id: commandId, payload: { t: 'commit', txn: id, ts: s, writes, participants } });
        return true;
      },
      expire: () => decideAbort(`not every participant prepared within ${Math.round(this.limits.prepareBoundUs / 1000)} ms`),
    });
    this.awaitOutcome(reqId, id, waitUs + this.limits.prepareBoundUs, now, 'commit');
  }

  /**
   * Answers a commit once its outcome is applied here, its timestamp is surely past (commit
   * wait) and the clock still serves; a status lookup or prepare once the outcome is also
   * durable here. An applied entry is chosen (on disk at a quorum), so a commit need not wait for
   * this replica's apply to be durable: reads of its writes wait for that (rule 8).
   */
  private awaitOutcome(reqId: number, txnId: string, waitUs: number, now: CoreNow, kind: 'commit' | 'status' | 'prepare'): void {
    let knownAtMonoUs: number | null = null;
    // The outcome and its durability as last looked up, valid while the table has not changed:
    // every input re-steps every parked request and asks each for its wake, and hashing each
    // waiter's id twice per input made nextWakeMonoUs and these steps 5.8% of a leader's busy time
    // under puts (docs/benchmarks.md, "After round 5").
    let seenAt = -1;
    let outcome: TxnOutcome | undefined;
    let durable = false;
    const look = (): TxnOutcome | undefined => {
      const changes = this.outcomes.changes;
      if (changes !== seenAt) {
        seenAt = changes;
        const found = this.outcomes.find(txnId);
        outcome = found?.outcome;
        durable = found?.durable === true;
      }
      return outcome;
    };
    const settled = (): boolean => kind === 'commit' || durable;
    this.park({
      reqId,
      deadlineMonoUs: now.monoUs + waitUs,
      step: (n) => {
        const outcome = look();
        const prepared = kind === 'prepare' ? this.prepared.get(txnId) : undefined;
        if (prepared && !outcome) {
          this.vote(prepared, n);
          this.reply(reqId, { kind: 'prepared', ts: prepared.ts });
          return true;
        }
        if (!outcome && kind === 'commit' && this.broken.ackBeforeApplied) {
          // The broken variant: answer from the proposal, chosen or not.
          const proposed = this.txns.get(txnId)?.commit;
          if (proposed !== undefined && n.tt.earliest > proposed.ts) {
            this.reply(reqId, { kind: 'committed', ts: proposed.ts, commitWaitUs: 0 });
            return true;
          }
        }
        if (!outcome || !settled()) return false;
        if (!outcome.committed) {
          if (kind === 'status') this.reply(reqId, { kind: 'status', state: 'aborted', reason: outcome.reason });
          else if (outcome.reason.startsWith(OUT_OF_RANGE_REASON)) this.fail(reqId, 'KEY_OUT_OF_RANGE', `${txnId} refused: ${outcome.reason.slice(OUT_OF_RANGE_REASON.length).trim()}`, this.entry());
          else this.fail(reqId, 'TXN_ABORTED', `commit of ${txnId} refused: ${outcome.reason}; retry the transaction`);
          return true;
        }
        if (kind === 'prepare') {
          this.reply(reqId, { kind: 'prepared', ts: outcome.ts });
          return true;
        }
        knownAtMonoUs ??= n.monoUs;
        const skipWait = this.broken.noCommitWait || (this.broken.noCoordinatorCommitWait && this.decisionsOwed.has(txnId));
        if (!skipWait && !(n.tt.earliest > outcome.ts)) return false;
        if (!n.serving) {
          // The commit is decided; only this replica's clock is in doubt. The client learns the outcome from a status lookup.
          this.fail(reqId, 'UNAVAILABLE', `${this.opts.self}: clock found out of bounds before acknowledging ${txnId}; look up its status`, { txn: txnId });
          return true;
        }
        if (kind === 'status') this.reply(reqId, { kind: 'status', state: 'committed', ts: outcome.ts });
        else this.reply(reqId, { kind: 'committed', ts: outcome.ts, commitWaitUs: Math.max(0, n.monoUs - knownAtMonoUs) });
        return true;
      },
      wakeMonoUs: (n) => {
        const outcome = look();
        return outcome?.committed && settled() ? monoWhenPast(outcome.ts, n) : null;
      },
      expire: () => {
        if (kind === 'status') this.reply(reqId, { kind: 'status', state: 'pending' });
        else if (kind === 'prepare') this.fail(reqId, 'TIMEOUT', `the prepare of ${txnId} is not applied yet`, { txn: txnId });
        else this.fail(reqId, 'TIMEOUT', `the outcome of ${txnId} is not known yet; look up its status`, { txn: txnId });
      },
    });
  }

  /**
   * A transaction's outcome is durable here: its locks go (a later transaction on its keys reads
   * what it wrote, which LMDB shows once committed), its waiters may answer, and a coordinator's
   * decision may leave.
   */
  private txnDecided(txnId: string): void {
    const t = this.txns.get(txnId);
    if (t?.commit) this.finishTxn(txnId);
    const owed = this.decisionsOwed.get(txnId);
    if (owed) owed.durable = true;
    this.coordinating.delete(txnId);
    this.earlyVotes.delete(txnId);
    this.decideProposed.delete(txnId);
    this.lastInquiryMonoUs.delete(txnId);
  }

  private settled(commandId: string): void {
    const p = this.proposed.get(commandId);
    if (!p) return;
    this.proposed.delete(commandId);
    if (p.kind === 'prepare') {
      this.ownPending.delete(commandId);
      return;
    }
    if (p.kind === 'commit') {
      this.ownPending.delete(commandId);
      this.finishTxn(p.txnId);
      if (this.outcomes.get(p.txnId)?.committed) this.statsCounters.commits++;
    } else if (p.kind === 'closed') this.closedInFlight = false;
    else if (p.kind === 'cut') {
      this.ownPending.delete(commandId);
      if (this.cutPending?.commandId === commandId) this.cutPending = null;
    }
  }

  private status(reqId: number, txnId: string, waitUs: number, now: CoreNow): void {
    if (this.outcomes.get(txnId) || this.txns.get(txnId)?.commit) return this.awaitOutcome(reqId, txnId, waitUs, now, 'status');
    // Unknown here: only the leader may decide it, by logging an abort a late commit cannot pass.
    this.whenReady(reqId, waitUs, now, () => {
      if (!this.outcomes.get(txnId) && !this.txns.get(txnId)?.commit) {
        this.abortTxn(txnId, 'decided aborted by a status lookup');
        const id = this.nextCommandId();
        this.proposed.set(id, { kind: 'abort', txnId });
        this.propose({ id, payload: { t: 'abort', txn: txnId } });
      }
      this.awaitOutcome(reqId, txnId, waitUs, now, 'status');
    });
  }

  private wound(txnId: string): void {
    // A coordinator still collecting votes can be wounded (it then logs an abort): otherwise two
    // cross-split transactions coordinated from each other's participants would wait on each
    // other until the prepare bound.
    const c = this.coordinating.get(txnId);
    if (c) {
      c.refused ??= 'wounded by an older transaction';
      return;
    }
    const t = this.txns.get(txnId);
    if (t && !t.commit) this.abortTxn(txnId, 'wounded by an older transaction');
  }

  private abortTxn(txnId: string, reason: string): void {
    const t = this.txns.get(txnId);
    if (!t || t.commit || t.aborted) return;
    t.aborted = reason;
    this.statsCounters.aborts++;
    this.processLocks(this.locks.release(txnId));
    // The aborted record stays (so later requests of the transaction hear why) until idle.
    t.lastActiveMonoUs = this.lastNow?.monoUs ?? t.lastActiveMonoUs;
  }

  private finishTxn(txnId: string): void {
    this.txns.delete(txnId);
    this.processLocks(this.locks.release(txnId));
  }

  private processLocks(events: LockEvents): void {
    for (const id of events.wounded) this.wound(id);
  }

  // ------------------------------------------------------------------ cuts (docs/transactions.md, "Cutting a split")

  /**
   * `split.cut` at the leader (rule 19): answers a cut already made into `req.child`; otherwise
   * refuses while 2PC work is in the split, picks the key, assigns T_cut like a commit timestamp
   * and proposes the cut entry. Answered once the entry is applied and durable here.
   */
  private cutRequest(reqId: number, req: CutRequest, now: CoreNow): void {
    const known = () => this.cuts.find((c) => c.child === req.child);
    const awaitCut = (commandId: string | undefined, n: CoreNow) =>
      this.park({
        reqId,
        deadlineMonoUs: n.monoUs + req.waitUs,
        step: () => {
          const c = known();
          if (c && (this.cutDurableAt.get(c.child) ?? 0) <= this.durableIndex) {
            this.reply(reqId, { kind: 'cut', child: c.child, generation: c.generation, atKey: c.atKey, cutTs: c.ts });
            return true;
          }
          const refused = commandId === undefined ? undefined : this.cutRefusals.get(commandId);
          if (refused === undefined) return false;
          this.cutRefusals.delete(commandId!);
          this.fail(reqId, 'UNAVAILABLE', `cut of ${this.opts.splitId} into ${req.child} did not apply: ${refused}`, { reason: refused });
          return true;
        },
        expire: () => this.fail(reqId, 'TIMEOUT', `the cut of ${this.opts.splitId} into ${req.child} is not applied yet; ask again`),
      });
    if (known()) return awaitCut(undefined, now);
    this.whenReady(reqId, req.waitUs, now, () => {
      if (known()) return awaitCut(undefined, now);
      const pending = this.cutPending;
      if (pending?.child === req.child) return awaitCut(pending.commandId, now);
      if (pending) return this.fail(reqId, 'UNAVAILABLE', `split ${this.opts.splitId} is already being cut into ${pending.child}; retry`, { reason: 'cut in progress' });
      if (req.generation <= this.generation)
        return this.fail(reqId, 'INVALID_ARGUMENT', `generation ${req.generation} is not above split ${this.opts.splitId}'s ${this.generation}`, this.entry());
      const busy = this.twoPhaseWork();
      if (busy) return this.fail(reqId, 'UNAVAILABLE', `split ${this.opts.splitId} cannot be cut now: ${busy}; retry`, { reason: busy });
      const atKey = req.atKey ?? this.load.median(this.range) ?? this.storedMedian();
      if (atKey === undefined || !strictlyInside(atKey, this.range))
        return this.fail(reqId, 'INVALID_ARGUMENT', `cut key ${JSON.stringify((atKey ?? '(none: the split is empty)').slice(0, 64))} is not strictly inside split ${this.opts.splitId}`, this.entry());
      if (!now.serving) return this.fail(reqId, 'UNAVAILABLE', `${this.opts.self}: clock not within bounds; not serving`);
      // T_cut is assigned like a commit timestamp: above everything assigned, closed, served or applied here.
      this.oracle.observe(this.maxAppliedTs);
      const ts = this.oracle.assign(now.tt.latest);
      if (ts > this.leaseBound(now)) return this.fail(reqId, 'UNAVAILABLE', `${this.opts.self}'s lease does not cover cut timestamp ${ts}; retry`, { reason: 'lease' });
      // Rule 21: a transaction holding locks in the upper half may have read there; with its commit
      // landing after the cut at a timestamp above T_cut, the child could have written those keys below it.
      if (!this.broken.cutKeepsUpperLocks) this.abortHoldersFrom(atKey, 'its keys are being cut into another split');
      const commandId = this.nextCommandId();
      this.proposed.set(commandId, { kind: 'cut', child: req.child });
      if (!this.broken.cutNotPending) this.ownPending.set(commandId, ts);
      this.cutPending = { commandId, child: req.child, atKey, ts };
      this.propose({ id: commandId, payload: { t: 'cut', child: req.child, generation: req.generation, atKey, ts } });
      awaitCut(commandId, now);
    });
  }

  /** What 2PC work keeps the split from being cut now, if any (rule 19). */
  private twoPhaseWork(): string | undefined {
    if (this.prepared.size > 0) return `${this.prepared.size} prepared transaction(s)`;
    if (this.coordinating.size > 0) return `${this.coordinating.size} transaction(s) being coordinated`;
    for (const p of this.proposed.values()) if (p.kind === 'prepare' || p.kind === 'decide') return `a ${p.kind} record in flight`;
    return undefined;
  }

  /** The median of the stored keys of the range (at most MEDIAN_SCAN_KEYS read: of those, past that many). */
  private storedMedian(): string | undefined {
    const keys = this.opts.reader.scan(this.range.start, this.range.end, LATEST, MEDIAN_SCAN_KEYS).map((r) => r.key);
    return medianInside(keys.filter((k) => strictlyInside(k, this.range)));
  }

  /** Aborts every transaction not yet committing that holds a lock at or above `atKey` (its locks go with it). */
  private abortHoldersFrom(atKey: string, reason: string): void {
    for (const [id, t] of [...this.txns]) {
      if (t.commit || t.aborted) continue;
      if (this.locks.heldKeys(id).some((k) => k >= atKey)) this.abortTxn(id, reason);
    }
  }

  /**
   * The cut entry, on every replica alike (rules 19 and 20): a no-op (with the reason) when the
   * split already made this cut, holds prepared transactions, or the generation, key or timestamp
   * is stale; otherwise the range shrinks to `[start, atKey)` and the child's initial state is returned.
   */
  private applyCut(c: Extract<SplitCommandPayload, { t: 'cut' }>, slot: number): ChildInit | string | undefined {
    if (this.cuts.some((x) => x.child === c.child)) return undefined;
    if (this.prepared.size > 0 && !this.broken.cutIgnoresPrepared) return `${this.prepared.size} prepared transaction(s) in the split when the cut applied`;
    if (c.generation <= this.generation) return `generation ${c.generation} is not above ${this.generation}`;
    if (!strictlyInside(c.atKey, this.range)) return `cut key is not strictly inside the range`;
    if (!commitApplies(this.maxAppliedTs, c.ts)) return `cut timestamp ${c.ts} is not above ${this.maxAppliedTs}`;
    const upper = { start: c.atKey, end: this.range.end };
    this.range = { start: this.range.start, end: c.atKey };
    this.generation = c.generation;
    this.cuts = [...this.cuts, { child: c.child, generation: c.generation, atKey: c.atKey, ts: c.ts }].slice(-MAX_CUT_RECORDS);
    this.cutDurableAt.set(c.child, slot + 1);
    // Every write of the upper half at or below T_cut is applied before this entry (the apply-time rule): the child's t_safe.
    this.maxAppliedTs = c.ts;
    // Locks in the upper half are released: the transactions holding them (not yet committing) are aborted.
    if (!this.broken.cutKeepsUpperLocks) this.abortHoldersFrom(c.atKey, 'its keys were cut into another split');
    return childInit(c.child, upper, c.generation, c.ts);
  }

  // ------------------------------------------------------------------ lock-free reads

  private snapshotRead(reqId: number, req: Extract<TxnRequest, { kind: 'snapshot' }>, now: CoreNow): void {
    if (!this.checkKeys(reqId, req.keys ?? [])) return;
    if (this.view.leading) this.recordLoad(req.keys ?? []);
    if (!now.serving) return this.fail(reqId, 'UNAVAILABLE', `${this.opts.self}: clock not within bounds; not serving`);
    const mode = req.mode;
    let ts: number;
    if ('strong' in mode) {
      if (this.broken.oldLeaseRead && req.leaseRead && this.view.leading && this.leaseReadable(now)) {
        // The old rule (teeth only): the newest timestamp safe here (then advanced by closed
        // entries, now by the closed timestamps this leader sends) and surely past, no wait.
        return this.serveRead(reqId, req, Math.min(Math.max(this.tSafe, this.lastClosedSentTs), Math.floor(now.tt.earliest)));
      }
      const last = this.lastCommitReadTs(req, now);
      if (last !== undefined) {
        ts = last;
        this.statsCounters.lastCommitReads++;
      } else {
        // A strong read must see every write any replica may have shown, and anything shown is
        // below true time, so below now.latest.
        ts = Math.ceil(now.tt.latest);
      }
    } else if ('ts' in mode) ts = mode.ts;
    else ts = readTimestamp({ maxStalenessUs: mode.maxStalenessUs }, now.tt, this.tSafe).ts;
    // At a leader whose lease covers `ts`, no commit at or below it can come from anyone else,
    // and its own later commits go above it: it needs only its own pending commits below `ts`
    // durable. Beyond the lease, a closed log entry carries t_safe there.
    let leaderCovers = false;
    if (ts > this.tSafe && this.view.leading && this.leaseReadable(now) && ts <= this.leaseBound(now)) {
      this.oracle.observe(ts);
      leaderCovers = true;
      this.statsCounters.leaseReads++;
    } else if (ts > this.tSafe && this.view.leading && this.isReady()) this.closedWanted = Math.max(this.closedWanted, ts);
    if (ts < this.opts.reader.gcHorizon()) return this.fail(reqId, 'SNAPSHOT_TOO_OLD', `read timestamp ${ts} is below the GC horizon ${this.opts.reader.gcHorizon()}`, { horizon: this.opts.reader.gcHorizon() });
    // Nearly every read can be served at once (a strong read at the leader under rule 9a, a
    // stale read below t_safe): the parked request's first step, decided here without building
    // it and its closures. The same test as `step` with the same reading (park steps with
    // `lastNow`); anything else, including a clock found not serving, parks as before.
    const n = this.lastNow;
    if (n && n.serving && ts < n.tt.earliest && (leaderCovers && this.epoch !== null ? this.ownCovers(ts) : ts <= this.tSafe)) return this.serveRead(reqId, req, ts);
    const covered = () => (leaderCovers && this.epoch !== null ? this.ownCovers(ts) : ts <= this.tSafe);
    this.park({
      reqId,
      deadlineMonoUs: now.monoUs + req.waitUs,
      step: (n) => {
        if (!covered()) return false;
        // A version at a timestamp not surely past may still be in its commit wait: the reply
        // must not show it before its commit could have been acknowledged (DESIGN §5).
        if (ts >= n.tt.earliest) return false;
        if (!n.serving) {
          this.fail(reqId, 'UNAVAILABLE', `${this.opts.self}: clock not within bounds; not serving`);
          return true;
        }
        this.serveRead(reqId, req, ts);
        return true;
      },
      wakeMonoUs: (n) => (covered() ? monoWhenPast(ts, n) : null),
      expire: () => this.fail(reqId, 'UNAVAILABLE', `t_safe ${this.tSafe} on ${this.opts.self} did not reach ${ts} in time`, { tSafe: this.tSafe }),
    });
  }

  /**
   * Rule 9a (docs/transactions.md): a strong read of this split alone at a ready leader holding
   * its lease, with no 2PC transaction prepared or decided-not-durable here, runs at the newest
   * commit any replica may have shown (every commit of this split's log: earlier leaders' are
   * applied here by the barrier, this leader's applied ones are in lastCommitTs, the rest in
   * ownPending), or just below now.earliest if that is higher: already past, so an idle split
   * answers at once. Undefined: rule 9 (now.latest).
   */
  private lastCommitReadTs(req: Extract<TxnRequest, { kind: 'snapshot' }>, now: CoreNow): number | undefined {
    if (!req.soleSplit && !this.broken.lastCommitReadAcrossSplits) return undefined;
    if (!this.view.leading || !this.isReady() || !this.leaseReadable(now)) return undefined;
    // A prepared transaction may already be committed and acknowledged by its coordinator at
    // s ≥ its prepare timestamp, above this split's last commit.
    if ((this.prepared.size > 0 || this.decidedNotDurable.size > 0) && !this.broken.lastCommitReadIgnoresPrepared) return undefined;
    let ts = Math.max(this.lastCommitTs, Math.floor(now.tt.earliest) - 1);
    if (!this.broken.lastCommitReadSkipsPending) for (const p of this.ownPending.values()) ts = Math.max(ts, p);
    return ts;
  }

  /** At the leader: every commit at or below `ts` is durable here (those of earlier leaders by the barrier). */
  private ownCovers(ts: number): boolean {
    if (!this.isReady()) return false;
    for (const p of this.ownPending.values()) if (p <= ts) return false;
    if (!this.broken.ignoreTmSafe) for (const p of this.minPreparedCandidates()) if (p <= ts) return false;
    return true;
  }

  private proposeClosed(now: CoreNow, atLeast: number): void {
    if (this.closedInFlight || !now.serving) return;
    this.oracle.observe(Math.max(this.maxAppliedTs, atLeast - 1));
    const ts = this.oracle.assign(now.tt.latest);
    const id = this.nextCommandId();
    this.closedInFlight = true;
    this.statsCounters.closedProposed++;
    this.proposed.set(id, { kind: 'closed', ts });
    this.propose({ id, payload: { t: 'closed', ts } });
  }

  private serveRead(reqId: number, req: Extract<TxnRequest, { kind: 'snapshot' }>, ts: number): void {
    // A cut may have applied while the read waited: keys of the other half are refused, scans clipped (rule 20).
    if (!this.checkKeys(reqId, req.keys ?? [])) return;
    const reader = this.opts.reader;
    // A GC pass may have started while the read waited and moved the horizon past `ts`: the
    // versions it needs may be going, and the reader throws below the horizon, which here would
    // escape the pump (from a tick or an apply: an uncaught exception in the spanserver) and take
    // every other parked request with it.
    const horizon = reader.gcHorizon();
    if (ts < horizon) return this.fail(reqId, 'SNAPSHOT_TOO_OLD', `read timestamp ${ts} fell below the GC horizon ${horizon} while it waited`, { horizon });
    let values: Array<{ key: string; value?: unknown; ts?: number }>;
    if (req.scan) {
      const { start: s0, end: e0 } = this.servedRange();
      const start = req.scan.start > s0 ? req.scan.start : s0;
      const ends = [req.scan.end, e0].filter((e) => e !== '');
      const end = ends.length === 0 ? '' : ends.sort()[0]!;
      values = reader.scan(start, end, ts, req.scan.limit).map((r) => ({ key: r.key, value: r.value, ts: r.ts }));
    } else {
      this.statsCounters.keysRead += req.keys?.length ?? 0;
      values = (req.keys ?? []).map((key) => {
        const r = reader.get(key, ts);
        return r ? { key, value: r.value, ts: r.ts } : { key };
      });
    }
    this.reply(reqId, { kind: 'values', values, ts });
  }

  // ------------------------------------------------------------------ plumbing

  private park(p: Parked): void {
    const now = this.lastNow;
    if (now && p.step(now)) return;
    this.parked.push(p);
  }

  /** Re-evaluates every parked request, in arrival order, until none makes progress. */
  private pump(now: CoreNow): void {
    this.lastNow = now;
    this.pumpDue = false;
    this.refreshReady();
    if (this.closedWanted > this.tSafe && !this.closedInFlight && this.view.leading && this.isReady()) this.proposeClosed(now, this.closedWanted);
    for (let round = 0; round < 8; round++) {
      let progressed = false;
      const still: Parked[] = [];
      const list = this.parked;
      this.parked = [];
      for (const p of list) {
        if (p.step(now)) progressed = true;
        else if (now.monoUs >= p.deadlineMonoUs) {
          p.expire(now);
          progressed = true;
        } else still.push(p);
      }
      this.parked = still.concat(this.parked);
      if (!progressed) break;
    }
  }

  private resumeFrom(s: ResumeState): void {
    this.prepared.clear();
    this.decidedNotDurable.clear();
    for (const p of s.header.prepared ?? []) this.prepared.set(p.txn, p);
    this.maxAppliedTs = s.header.maxAppliedTs;
    this.lastCommitTs = s.header.lastCommitTs;
    this.durableTs = Math.max(this.durableTs, s.header.maxAppliedTs);
    this.durableLastCommitTs = s.header.lastCommitTs;
    this.appliedIndex = s.appliedIndex;
    this.durableIndex = s.appliedIndex;
    this.outcomes.load(s.outcomes, s.header.maxAppliedTs, true);
    this.takeCutState(s.header);
  }

  /** The range, generation and cuts a header carries (a header from before any cut carries none). */
  private takeCutState(h: SplitHeader): void {
    if (h.range) this.range = { ...h.range };
    if (h.generation !== undefined) this.generation = h.generation;
    if (h.cuts) this.cuts = [...h.cuts];
  }

  private nextCommandId(): string {
    return `${this.opts.commandPrefix}:${++this.commandSeq}`;
  }

  private send(toSplit: string, msg: SplitMessage): void {
    this.outputs.push({ type: 'send', toSplit, msg });
  }

  private propose(cmd: SplitCommand): void {
    this.outputs.push({ type: 'propose', commands: [cmd] });
  }

  private reply(reqId: number, body: TxnReplyBody): void {
    this.outputs.push({ type: 'reply', reqId, body });
  }

  private fail(reqId: number, code: TxnError['code'], message: string, hint?: Record<string, string | number>): void {
    this.outputs.push({ type: 'error', reqId, error: hint ? { code, message, hint } : { code, message } });
  }
}

function compareEpoch(a: EpochBallot, b: EpochBallot): number {
  if (a.round !== b.round) return a.round < b.round ? -1 : 1;
  return a.node === b.node ? 0 : a.node < b.node ? -1 : 1;
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null;
const isTs = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x > 0;

/** The structural check of a log command (the shell validates wire input with zod before it is proposed). */
export function validateSplitCommand(p: unknown): SplitCommandPayload | undefined {
  if (!isObj(p)) return undefined;
  if (p.t === 'closed') return isTs(p.ts) ? { t: 'closed', ts: p.ts } : undefined;
  if (p.t === 'abort') return typeof p.txn === 'string' ? { t: 'abort', txn: p.txn } : undefined;
  if (p.t === 'cut') {
    if (typeof p.child !== 'string' || typeof p.atKey !== 'string' || !isTs(p.ts) || !Number.isSafeInteger(p.generation) || (p.generation as number) < 1) return undefined;
    return { t: 'cut', child: p.child, generation: p.generation as number, atKey: p.atKey, ts: p.ts };
  }
  if (p.t === 'decide') {
    if (typeof p.txn !== 'string' || typeof p.committed !== 'boolean') return undefined;
    if (!p.committed) return { t: 'decide', txn: p.txn, committed: false };
    return isTs(p.ts) ? { t: 'decide', txn: p.txn, committed: true, ts: p.ts } : undefined;
  }
  if (p.t !== 'commit' && p.t !== 'prepare') return undefined;
  if (typeof p.txn !== 'string' || !isTs(p.ts) || !Array.isArray(p.writes)) return undefined;
  const writes: WriteOp[] = [];
  for (const w of p.writes) {
    if (!isObj(w) || typeof w.key !== 'string') return undefined;
    writes.push(w.deleted === true ? { key: w.key, deleted: true } : { key: w.key, value: w.value });
  }
  const strings = (x: unknown): string[] | undefined => (Array.isArray(x) && x.every((k) => typeof k === 'string') ? (x as string[]) : undefined);
  if (p.t === 'prepare') {
    const readKeys = strings(p.readKeys);
    if (typeof p.coordinator !== 'string' || !readKeys) return undefined;
    return { t: 'prepare', txn: p.txn, ts: p.ts, writes, readKeys, coordinator: p.coordinator };
  }
  if (p.participants === undefined) return { t: 'commit', txn: p.txn, ts: p.ts, writes };
  const participants = strings(p.participants);
  return participants ? { t: 'commit', txn: p.txn, ts: p.ts, writes, participants } : undefined;
}
