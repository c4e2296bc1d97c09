import { SynodError } from '@synod/codec';
import { monotonicMicros, type PaxosHost } from '@synod/paxos-host';
import type { Replica } from '@synod/paxos';
import type { Split } from '@synod/placement';
import type { Bus } from '@synod/transport';
import type { ClosedTimestamp, CoreNow, CutRequest, SplitMessage, SplitTxnCore, TxnOutput, TxnReplyBody, TxnRequest } from '@synod/txn';
import { abortCause } from './metrics.js';
import type { TimeSource } from './time-source.js';

/** Proposals are given this long in PaxosHost; the core keeps its own deadlines, this only frees the host's waiter. */
const PROPOSE_TIMEOUT_MS = 30_000;
/** The labels of an accepted proposal's time (Metrics copies labels, so one object serves every call). */
const OUTCOME_OK = { outcome: 'ok' };
/** A wake's last millisecond is polled only while at most this many requests wait in the core. */
const POLL_MAX_PARKED = 2;

/**
 * The shell around one split's transaction core (docs/transactions.md): requests in, the core's
 * outputs out to Paxos, the bus and the waiting callers, and one timer for the core's next wake.
 * Everything the core decides is decided in the core; this file only carries it out.
 */
export class SplitShell {
  private reqSeq = 0;
  private readonly waiting = new Map<number, { resolve: (b: TxnReplyBody) => void; reject: (e: Error) => void }>();
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeImmediate: NodeJS.Immediate | undefined;
  private wakeAt: number | null = null;
  private closed = false;
  /** The leader hint last seen, to count leader changes (docs/metrics.md). */
  private lastLeader: string | null = null;
  /** Closed timestamps sent so far (a drain that sent one ticks its replica if due, see drain). */
  private closedSends = 0;
  /** The leader hint the core was last told (undefined: never synced). */
  private syncedHint: string | null | undefined = undefined;
  /**
   * poll found the core idle while its replica was quiet, and no input has reached the core since
   * (drain clears it): the next polls skip it with two field reads while the replica stays quiet.
   * A quiet replica's leadership cannot change without it leaving quiet first.
   */
  private idleWhileQuiet = false;

  constructor(
    readonly split: Split,
    private readonly self: string,
    private readonly core: SplitTxnCore,
    private readonly replica: Replica,
    private readonly host: PaxosHost,
    private readonly bus: Bus,
    private readonly tt: TimeSource,
    /** The replicas of another split (2PC messages go to all of them; its leader acts). */
    private readonly replicasOf: (split: string) => readonly string[],
  ) {}

  /** The time of an input: TrueTime, whether the clock serves, and the monotonic clock the replica's lease runs on. */
  now = (): CoreNow => {
    const r = this.tt.nowServing();
    return { tt: r.tt, serving: r.serving, monoUs: monotonicMicros() };
  };

  /**
   * The requests `requestNow` is running (at most one per nested call, so a handful), each with
   * the core's answer once it comes in that turn. A map rather than one field, so a request made
   * from inside another's drain cannot take the outer one's answer.
   */
  private readonly immediate = new Map<number, Extract<TxnOutput, { type: 'reply' | 'error' }> | undefined>();
  /** A microtask is queued to run the pump that requests given with `deferPump` owe (owePump). */
  private pumpQueued = false;

  /**
   * Every client request first touches the split's replica (PaxosHost.touch): the group does not
   * go quiet while clients use it, and a quiet one wakes before the core sees the request, so its
   * lease and closed timestamps are on their way back (docs/spanserver.md, "Quiescent splits").
   *
   * `request`, but a reply the core gives in the same turn (a read served at once: nearly every
   * strong read at the leader and stale read below t_safe) is returned (or its error thrown) as
   * is, without a promise and the microtask turns behind it; otherwise the promise `request` returns.
   */
  requestNow(req: TxnRequest | CutRequest): TxnReplyBody | Promise<TxnReplyBody> {
    if (this.closed) throw new SynodError('UNAVAILABLE', `${this.self} is shutting down`);
    this.host.touch(this.split.id);
    const reqId = ++this.reqSeq;
    this.immediate.set(reqId, undefined);
    let out: Extract<TxnOutput, { type: 'reply' | 'error' }> | undefined;
    try {
      const now = this.syncLeadership();
      this.core.request(reqId, req, now, true);
      this.owePump();
      this.drain(now);
    } finally {
      out = this.immediate.get(reqId);
      this.immediate.delete(reqId);
    }
    if (out) {
      if (out.type === 'reply') return out.body;
      throw new SynodError(out.error.code, out.error.message, out.error.hint);
    }
    // close() rejects the waiters it finds; one registered after it would never be answered.
    if (this.closed) throw new SynodError('UNAVAILABLE', `${this.self} is shutting down`);
    return new Promise<TxnReplyBody>((resolve, reject) => this.waiting.set(reqId, { resolve, reject }));
  }

  /** Sends a request through the core; resolves with its reply, rejects with its SynodError. */
  request(req: TxnRequest | CutRequest): Promise<TxnReplyBody> {
    if (this.closed) return Promise.reject(new SynodError('UNAVAILABLE', `${this.self} is shutting down`));
    this.host.touch(this.split.id);
    const reqId = ++this.reqSeq;
    const answer = new Promise<TxnReplyBody>((resolve, reject) => this.waiting.set(reqId, { resolve, reject }));
    const now = this.syncLeadership();
    this.core.request(reqId, req, now, true);
    this.owePump();
    this.drain(now);
    return answer;
  }

  /**
   * Requests reach the core with `deferPump`: the frames of one request batch (one NATS message,
   * docs/transport.md "Request batching") arrive in one synchronous run, and re-stepping every
   * parked request after each of them was a pass over all of them per request. The pass they owe
   * runs once, in a microtask after the run (before any I/O or timer), and arms the wake timer.
   */
  private owePump(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    queueMicrotask(this.runOwedPump);
  }

  private readonly runOwedPump = (): void => {
    this.pumpQueued = false;
    if (this.closed) return;
    const now = this.syncLeadership();
    this.core.pumpOwed(now);
    this.drain(now);
  };

  closedReceived(c: ClosedTimestamp): void {
    const now = this.syncLeadership();
    this.core.closedReceived(c, now);
    this.drain(now);
  }

  splitMessage(fromSplit: string, msg: SplitMessage): void {
    const now = this.syncLeadership();
    this.core.splitMessage(fromSplit, msg, now);
    this.drain(now);
  }

  /**
   * The spanserver's periodic poll of every split: a quiet follower whose replica still follows
   * the same leader is left alone (its core's own deadlines arm the wake timer; inputs tick it).
   */
  poll(): void {
    const r = this.replica;
    // Found idle while quiet, and no input since (every input drains): still nothing to do.
    if (this.idleWhileQuiet && r.isQuiet()) return;
    if (!r.isLeader() && r.leaderHint() === this.syncedHint && this.core.quietFollower()) {
      this.idleWhileQuiet = r.isQuiet();
      return;
    }
    // A quiescent leader (docs/spanserver.md, "Quiescent splits") whose core, without a lease, has
    // nothing in progress: only an input (which touches and wakes the replica first) gives it work.
    // One holding a transaction is still polled: its idle abort runs on the core's tick.
    if (r.isQuiet() && r.leaderHint() === this.syncedHint && this.core.quietLeader(this.now())) {
      this.idleWhileQuiet = true;
      return;
    }
    this.tick();
  }

  tick(): void {
    const now = this.syncLeadership();
    this.core.tick(now);
    this.drain(now);
  }

  /** Pushes the replica's view of leadership to the core (it acts only on a change). */
  private syncLeadership(): CoreNow {
    const now = this.now();
    const r = this.replica;
    const leading = r.isLeader() ? r.ballot() : null;
    const hint = r.leaderHint();
    this.syncedHint = hint;
    if (hint && hint !== this.lastLeader) {
      if (this.lastLeader !== null) this.bus.metrics.inc('synod_split_leader_changes_total', { split: this.split.id });
      this.lastLeader = hint;
    }
    this.core.setLeadership({ leading, leaderHint: hint, leaseEndMonoUs: r.leaseValidUntil(now.monoUs), localReadOk: r.canServeLocalRead(now.monoUs) }, now);
    return now;
  }

  /**
   * Carries out everything the core asked for, then re-arms the wake timer. `now` is the time of
   * the input just given to the core, when there was one: the wake is computed from it rather than
   * from a second reading of the clocks (the core's wake times are monotonic deadlines, or are
   * derived from `now` consistently, so a reading from the same synchronous turn is as good).
   */
  drain = (now?: CoreNow): void => {
    this.idleWhileQuiet = false;
    const closedBefore = this.closedSends;
    for (let round = 0; round < 100; round++) {
      const outs = this.core.takeOutputs();
      if (outs.length === 0) break;
      for (const o of outs) this.carryOut(o);
    }
    // Heartbeats and closed timestamps are due on the same grid (multiples of 50 ms): ticking the
    // replica in the turn its closed timestamp left queues its heartbeat beside it, one NATS
    // message per follower instead of two (the host's own ticker would tick it a few ms later).
    // After the loop, not inside it: a tick's Ready must not run in the middle of a drain.
    if (this.closedSends !== closedBefore) this.host.tickIfDue(this.split.id);
    // With a pump owed, its drain arms the timer from the state after it (a wake computed now
    // would walk every parked request once more for a deadline about to be recomputed).
    if (!this.pumpQueued) this.armWake(now);
  };

  private carryOut(o: TxnOutput): void {
    switch (o.type) {
      case 'propose': {
        const ids = o.commands.map((c) => c.id);
        const t0 = performance.now();
        const proposed = this.host.propose(this.split.id, o.commands, PROPOSE_TIMEOUT_MS);
        // One pair of handlers per proposal: its time, and on a refusal the core told.
        proposed.then(
          () => this.bus.metrics.observe('synod_paxos_commit_seconds', (performance.now() - t0) / 1000, OUTCOME_OK),
          (err: unknown) => {
            this.bus.metrics.observe('synod_paxos_commit_seconds', (performance.now() - t0) / 1000, { outcome: err instanceof SynodError ? err.code : 'error' });
            // Only a refusal before the log counts as rejected; a timeout may still be chosen.
            if (err instanceof SynodError && (err.code === 'NOT_LEADER' || err.code === 'TXN_TOO_LARGE' || err.code === 'UNAVAILABLE')) {
              const now = this.now();
              this.core.proposalRejected(ids, now);
              this.drain(now);
            }
          },
        );
        return;
      }
      case 'reply':
      case 'error': {
        if (this.immediate.has(o.reqId)) {
          // requestNow's own request, answered in its turn: it returns this itself.
          if (o.type === 'error' && o.error.code === 'TXN_ABORTED') this.bus.metrics.inc('synod_txn_aborts_total', { cause: abortCause(o.error.message) });
          this.immediate.set(o.reqId, o);
          return;
        }
        const w = this.waiting.get(o.reqId);
        if (!w) return;
        this.waiting.delete(o.reqId);
        if (o.type === 'error' && o.error.code === 'TXN_ABORTED') this.bus.metrics.inc('synod_txn_aborts_total', { cause: abortCause(o.error.message) });
        if (o.type === 'reply') w.resolve(o.body);
        else w.reject(new SynodError(o.error.code, o.error.message, o.error.hint));
        return;
      }
      case 'closed':
        for (const peer of this.split.replicas) if (peer !== this.self) this.bus.send(peer, 'split.closed', o.closed, this.split.id);
        this.closedSends++;
        return;
      case 'send':
        for (const node of this.replicasOf(o.toSplit)) this.bus.send(node, 'split.2pc', { fromSplit: this.split.id, msg: o.msg }, o.toSplit);
        return;
    }
  }

  private armWake(now: CoreNow = this.now()): void {
    if (this.closed) return;
    const at = this.core.nextWakeMonoUs(now);
    if (at === null || at === this.wakeAt) return;
    this.cancelWake();
    this.wakeAt = at;
    const delayUs = at - monotonicMicros();
    const wake = () => {
      this.wakeTimer = this.wakeImmediate = undefined;
      this.wakeAt = null;
      this.tick();
    };
    // A commit wait ends at a µs instant, and timers fire in whole ms of the loop's cached clock
    // (often already a few hundred µs behind): a timer for the last millisecond came early or
    // late by up to a millisecond, on every commit's path. With few requests waiting, the last
    // millisecond is polled instead, one loop turn at a time, other I/O served in between; with
    // more, polling would fill every idle moment of a busy leader, and one late timer releases
    // many commits at once (docs/spanserver.md, "The wake timer").
    // A poll looks at the clock only; the core is ticked once, when the deadline has come.
    const poll = () => {
      if (monotonicMicros() < at) this.wakeImmediate = setImmediate(poll);
      else wake();
    };
    // A deadline already past when armed is one the core could not act on yet (it waits on
    // something else too): it is looked at again at timer pace, as before polling, never in a
    // loop of immediates. Polling only ever covers the time until a deadline still ahead.
    if (delayUs <= 0 || this.core.parkedCount() > POLL_MAX_PARKED) this.wakeTimer = setTimeout(wake, Math.max(1, Math.ceil(delayUs / 1_000)));
    else if (delayUs < 1_000) this.wakeImmediate = setImmediate(poll);
    else this.wakeTimer = setTimeout(poll, Math.floor(delayUs / 1_000));
  }

  private cancelWake(): void {
    clearTimeout(this.wakeTimer);
    clearImmediate(this.wakeImmediate);
    this.wakeTimer = this.wakeImmediate = undefined;
  }

  close(): void {
    this.closed = true;
    this.cancelWake();
    for (const w of this.waiting.values()) w.reject(new SynodError('UNAVAILABLE', `${this.self} is shutting down`));
    this.waiting.clear();
  }
}
