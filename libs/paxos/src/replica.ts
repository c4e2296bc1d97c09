import { ballotEquals, compareBallot, formatBallot, ZERO_BALLOT, type Ballot } from './ballot.js';
import { MESSAGE_FRAME_BYTES, resolveConfig, validateMembership, majority, type ReplicaConfig, type ResolvedConfig } from './config.js';
import { Dedupe } from './dedupe.js';
import { invariant } from './invariant.js';
import { MAX_BALLOT_ROUND } from '@synod/limits';
import { acceptedEntryBytes, chunkByBudget, commandBytes, fitInBudget, slotValueBytes } from './budget.js';
import type {
  AcceptMsg,
  AcceptedMsg,
  CatchupReplyMsg,
  CatchupRequestMsg,
  ForwardMsg,
  HeartbeatAckMsg,
  HeartbeatMsg,
  MessageBody,
  NackMsg,
  PaxosMessage,
  PrepareMsg,
  PreVoteMsg,
  PreVoteReplyMsg,
  PromiseMsg,
  SnapshotChunkMsg,
  SnapshotRequestMsg,
} from './messages.js';
import {
  JSON_SNAPSHOT_TRANSFER,
  type AppliedState,
  type SnapshotTransfer,
  type ApplyEntry,
  type DurableState,
  type LeadershipChange,
  type Membership,
  type ProposalResult,
  type Ready,
  type Snapshot,
} from './output.js';
import type { Rng } from './rng.js';
import { NOOP, valuesEqual, type AcceptedEntry, type Command, type ConfigValue, type SlotValue, type Value } from './value.js';

export type ReconfigureStatus = 'queued' | 'not_leader' | 'busy';

export interface LeaseInterval {
  /** Local clock: when the current unbroken lease began. */
  startUs: number;
  /** Local clock: the lease is valid strictly before this. */
  endUs: number;
}

export type Role = 'follower' | 'candidate' | 'leader';

interface InFlight {
  value: Value;
  acks: Set<string>;
  sentAtUs: number;
}

/**
 * One replica of one Multi-Paxos group: acceptor, learner and potential
 * proposer, as a deterministic sans-I/O state machine.
 *
 * Every public mutator (`step`, `tick`, `propose`, `reconfigure`,
 * `snapshotTaken`) takes the current time of this node's own clock in integer
 * microseconds and returns the `Ready` the shell must carry out (persist, then
 * send, then apply — see `Ready`). Messages a replica sends to itself are
 * delivered internally and never appear in `Ready.send`.
 *
 * Slots start at 0; `chosenUpTo()` / `appliedUpTo()` are exclusive bounds.
 */
export class Replica {
  readonly config: ResolvedConfig;
  private readonly rng: Rng;
  private readonly transfer: SnapshotTransfer;

  // Durable acceptor state (mirrors what the shell persisted).
  private promised: Ballot;
  private readonly log = new Map<number, { ballot: Ballot; value: Value }>();
  private snapshot: Snapshot | null = null;
  private snapshotText: string | null = null;

  // Learner state: volatile, re-learned after restart (or restored from the snapshot).
  private readonly chosen = new Map<number, Value>();
  private chosenPrefix: number;
  private applied: number;
  private dedupe: Dedupe;
  /** Applied configurations, ascending by fromSlot; the first governs from slot 0 (or the snapshot). */
  private configs: Membership[];
  /** Highest chosenUpTo a leader advertised, and who: where catch-up fetches from. */
  private knownChosenUpTo = 0;
  private catchupSource: string | null = null;
  private catchupRetryAtUs = 0;
  private pendingSnapshot: { upTo: number; dedupe: Snapshot['dedupe']; configs: Membership[] } | null = null;
  private incoming: { upTo: number; chunks: number; parts: string[]; from: string } | null = null;

  // Lease, acceptor side: a vote for `voteBallot` until `voteUntilUs` (own clock).
  private voteBallot: Ballot | null = null;
  private voteUntilUs = Number.NEGATIVE_INFINITY;

  // Proposer state.
  private role: Role = 'follower';
  private myBallot: Ballot = ZERO_BALLOT;
  private maxRoundSeen: number;
  private leaderBallot: Ballot | null = null;
  private lastLeaderContactUs = Number.NEGATIVE_INFINITY;
  private electionDeadlineUs: number;
  private nowUs: number;
  /** Acceptors whose promise for myBallot is complete (every chunk received). */
  private readonly promisers = new Set<string>();
  /** Highest-ballot accepted entry per slot >= prepareFromSlot, from every promise chunk so far. */
  private readonly reported = new Map<number, AcceptedEntry>();
  private readonly prepared = new Set<string>();
  /** Pre-vote: the ballot this replica would campaign with, and who said they would follow. */
  private preVoteBallot: Ballot | null = null;
  private readonly preVotes = new Set<string>();
  private prepareFromSlot = 0;
  private nextSlot = 0;
  /** First slot after the re-proposals of phase 1: local reads wait until it is applied. */
  private termStartSlot = 0;
  private readonly inflight = new Map<number, InFlight>();
  /** Phase-1 results not yet re-proposed, ascending by slot; sent within the window by flushQueue. */
  private reproposals: SlotValue[] = [];
  private queue: Command[] = [];
  private readonly queuedIds = new Set<string>();
  private queuedConfig: ConfigValue | null = null;
  /** Config values this leader proposed at its ballot, by slot (they govern from slot + window). */
  private readonly pendingConfigs = new Map<number, Membership>();
  private nextHeartbeatUs = 0;
  // Lease, leader side: per voter, the send time of the latest request it voted on.
  private readonly votes = new Map<string, number>();
  private readonly heard = new Map<string, number>();
  private leaseStartUs: number | null = null;
  private leaseEndUs: number | null = null;

  // The Ready being accumulated by the current call.
  private out: Ready = emptyReady();
  private persistAccepted = new Map<number, AcceptedEntry>();
  private readonly loopback: PaxosMessage[] = [];
  private lastLeadership: { isLeader: boolean; hint: string | null } = { isLeader: false, hint: null };

  constructor(
    config: ReplicaConfig,
    rng: Rng,
    opts: { durable?: DurableState; applied?: AppliedState; nowUs?: number; snapshotTransfer?: SnapshotTransfer } = {},
  ) {
    this.transfer = opts.snapshotTransfer ?? JSON_SNAPSHOT_TRANSFER;
    this.config = resolveConfig(config);
    this.rng = rng;
    this.nowUs = opts.nowUs ?? 0;
    this.configs = [{ fromSlot: 0, peers: [...this.config.peers], q1: this.config.q1, q2: this.config.q2 }];

    const durable = opts.durable;
    const snap = durable?.snapshot ?? null;
    this.promised = durable && !this.config.broken.forgetPromiseOnRestart ? durable.promised : ZERO_BALLOT;
    let appliedFrom = 0;
    if (snap) {
      this.snapshot = snap;
      this.configs = snap.configs.map(cloneMembership);
      appliedFrom = snap.upTo;
    }
    if (durable) {
      const entries: Iterable<[number, { ballot: Ballot; value: Value }]> = Array.isArray(durable.accepted)
        ? (durable.accepted as AcceptedEntry[]).map((e) => [e.slot, { ballot: e.ballot, value: e.value }])
        : (durable.accepted as ReadonlyMap<number, { ballot: Ballot; value: Value }>).entries();
      const forgetBallots = this.config.broken.forgetAcceptedBallotsOnRestart === true;
      for (const [slot, e] of entries) {
        if (slot < appliedFrom) continue; // covered by the snapshot; truncation may not have run
        this.log.set(slot, { ballot: forgetBallots ? ZERO_BALLOT : e.ballot, value: e.value });
      }
    }
    let maxRound = this.promised.round;
    for (const e of this.log.values()) maxRound = Math.max(maxRound, e.ballot.round);
    this.maxRoundSeen = maxRound;

    this.applied = appliedFrom;
    this.dedupe = new Dedupe(snap?.dedupe);
    if (opts.applied && opts.applied.upTo > appliedFrom) {
      // Resume where the shell's durable state is: rebuild the dedupe set and the configurations
      // from the records of the applied slots after the snapshot; apply none of them again.
      let next = appliedFrom;
      for (const r of opts.applied.records) {
        invariant(r.slot === next, 'applied records are contiguous from the snapshot', () => `expected slot ${next}, got ${r.slot} at ${this.config.self}`);
        for (const id of r.commandIds) this.dedupe.add(id);
        if (r.config) this.applyConfig(r.slot, r.config);
        next = r.slot + 1;
        this.applied = next;
      }
      invariant(next === opts.applied.upTo, 'applied records reach the applied index', () => `records end at ${next}, applied ${opts.applied!.upTo} at ${this.config.self}`);
    }
    this.chosenPrefix = this.applied;
    this.nextSlot = this.chosenPrefix;
    this.electionDeadlineUs = this.nowUs + this.electionTimeout();
    // Every vote is granted right after a durable promise of its ballot, and a vote for one
    // ballot ends before a promise to another node's. So the only vote a restarted acceptor
    // may have forgotten is one for its durable `promised` ballot: honor it for a lease.
    if (this.promised.round > 0 && !this.config.broken.acceptorIgnoresLease) {
      this.voteBallot = this.promised;
      this.voteUntilUs = this.nowUs + this.config.leaseDurationUs;
    }
  }

  // ---------------------------------------------------------------- queries

  isLeader(): boolean {
    return this.role === 'leader';
  }

  getRole(): Role {
    return this.role;
  }

  /** Who this replica believes leads the group (itself if leader), or null. */
  leaderHint(): string | null {
    if (this.role === 'leader') return this.config.self;
    if (this.role === 'candidate') return null;
    return this.leaderBallot?.node ?? null;
  }

  /** Exclusive: slots below this are known chosen here. */
  chosenUpTo(): number {
    return this.chosenPrefix;
  }

  /** Exclusive: slots below this have been handed to the shell for applying. */
  appliedUpTo(): number {
    return this.applied;
  }

  /** Highest ballot this replica has promised (durable). */
  ballot(): Ballot {
    return this.promised;
  }

  /** The ballot this replica leads (or campaigns) with; ZERO_BALLOT if it never tried. */
  ownBallot(): Ballot {
    return this.myBallot;
  }

  chosenValue(slot: number): Value | undefined {
    return this.chosen.get(slot);
  }

  isApplied(commandId: string): boolean {
    return this.dedupe.has(commandId);
  }

  /** The configuration governing slot `slot` as far as this replica knows. */
  membershipAt(slot: number): Membership {
    return cloneMembership(this.configAt(slot));
  }

  /** The configuration governing the next slot to be chosen. */
  membership(): Membership {
    return this.membershipAt(this.chosenPrefix);
  }

  /** Whether this replica is a voting member of a configuration governing unchosen slots. */
  isMember(): boolean {
    return this.governing(this.chosenPrefix).some((c) => c.peers.includes(this.config.self));
  }

  /** Log compaction point: slots below it are only in the snapshot. */
  snapshotUpTo(): number {
    return this.snapshot?.upTo ?? 0;
  }

  /** Sizes of the in-memory structures that must stay bounded on long runs. */
  footprint(): { log: number; chosen: number; dedupe: number; configs: number } {
    return { log: this.log.size, chosen: this.chosen.size, dedupe: this.dedupe.size(), configs: this.configs.length };
  }

  /**
   * Local-clock instant before which this replica holds a leader lease, or null if it holds
   * none at `nowUs`. No other replica of the group can hold a lease at any real instant
   * before it: it is timed from when the leader sent the requests a phase-2 quorum
   * voted on, shrunk by the drift bound, so it ends before any of their votes does.
   */
  leaseValidUntil(nowUs: number): number | null {
    const end = this.computeLeaseEnd();
    return end !== null && nowUs < end ? end : null;
  }

  hasLease(nowUs: number): boolean {
    return this.leaseValidUntil(nowUs) !== null;
  }

  /**
   * The current unbroken lease as a local-clock interval [startUs, endUs), or null. The
   * transaction layer keeps the timestamps it assigns inside it (DESIGN §4).
   */
  leaseInterval(nowUs: number): LeaseInterval | null {
    const end = this.leaseValidUntil(nowUs);
    if (end === null || this.leaseStartUs === null || nowUs < this.leaseStartUs) return null;
    return { startUs: this.leaseStartUs, endUs: end };
  }

  /**
   * Whether a read at `nowUs` may be served from the local state machine without a round
   * trip: this replica holds a lease and has applied everything chosen before its term
   * began. The read must see the state machine at `appliedUpTo()` (the shell waits for its
   * pending applies up to that index).
   */
  canServeLocalRead(nowUs: number): boolean {
    if (this.role !== 'leader' || this.applied < this.termStartSlot) return false;
    if (this.config.broken.readsWithoutLease) return true;
    return this.hasLease(nowUs);
  }

  // ---------------------------------------------------------------- inputs

  step(msg: PaxosMessage, nowUs: number): Ready {
    this.advanceClock(nowUs);
    // Any sender of the group is heard: members change by reconfiguration, and the
    // shell has already checked that `from` is who sent it.
    if (msg.group === this.config.group && msg.from !== '') this.handle(msg);
    return this.finish();
  }

  tick(nowUs: number): Ready {
    this.advanceClock(nowUs);
    if (this.role === 'leader') {
      if (!this.isMember() || !this.quorumHeard()) {
        this.stepDown();
      } else {
        if (this.nowUs >= this.nextHeartbeatUs) this.sendHeartbeats();
        this.resendStaleAccepts();
        this.flushQueue();
      }
    } else if (this.nowUs >= this.electionDeadlineUs) {
      if (!this.isMember()) this.electionDeadlineUs = this.nowUs + this.electionTimeout();
      else if (this.config.features.preVote && this.role === 'follower') this.startPreVote();
      else this.startElection();
    }
    if (this.chosenPrefix < this.knownChosenUpTo || this.incoming !== null) this.requestCatchup();
    return this.finish();
  }

  propose(cmds: Command[], nowUs: number): Ready {
    this.advanceClock(nowUs);
    const results: ProposalResult[] = [];
    const hint = this.leaderHint();
    const fits = (c: Command) => commandBytes(c) <= this.config.maxCommandBytes;
    const tooLarge = cmds.filter((c) => !fits(c));
    if (tooLarge.length > 0) results.push({ ids: tooLarge.map((c) => c.id), status: 'too_large', leaderHint: hint });
    const applied = cmds.filter((c) => fits(c) && this.dedupe.has(c.id));
    if (applied.length > 0) results.push({ ids: applied.map((c) => c.id), status: 'already_applied', leaderHint: hint });
    const fresh = cmds.filter((c) => fits(c) && !this.dedupe.has(c.id));
    if (fresh.length > 0) {
      const ids = fresh.map((c) => c.id);
      if (this.role === 'leader') {
        this.enqueue(fresh);
        this.flushQueue();
        results.push({ ids, status: 'queued', leaderHint: this.config.self });
      } else if (hint !== null && hint !== this.config.self && this.leaderIsLive()) {
        for (const part of chunkByBudget(fresh, commandBytes, Number.MAX_SAFE_INTEGER, this.messageBudget())) this.send(hint, { type: 'forward', cmds: part });
        results.push({ ids, status: 'forwarded', leaderHint: hint });
      } else {
        results.push({ ids, status: 'not_leader', leaderHint: hint });
      }
    }
    this.out.proposalResults = results;
    return this.finish();
  }

  /**
   * Proposes a membership change through the log (leader only). The change chosen at slot
   * `i` governs slots from `i + window`. Throws if the membership breaks the quorum rule
   * (q1 + q2 > n, quorums within 1..n); defaults to majority quorums. One change at a time:
   * `busy` while an earlier one is not yet applied here.
   */
  reconfigure(change: { peers: string[]; q1?: number; q2?: number }, nowUs: number): Ready {
    this.advanceClock(nowUs);
    const n = change.peers.length;
    const q1 = change.q1 ?? majority(n);
    const q2 = change.q2 ?? majority(n);
    validateMembership(change.peers, q1, q2);
    if (this.role !== 'leader') {
      this.out.reconfigureResult = { status: 'not_leader', leaderHint: this.leaderHint() };
    } else if (this.queuedConfig !== null || this.pendingConfigs.size > 0 || this.configs.some((c) => c.fromSlot > this.chosenPrefix)) {
      this.out.reconfigureResult = { status: 'busy', leaderHint: this.config.self };
    } else {
      this.queuedConfig = { kind: 'config', peers: [...change.peers], q1, q2 };
      this.flushQueue();
      this.out.reconfigureResult = { status: 'queued', leaderHint: this.config.self };
    }
    return this.finish();
  }

  /**
   * The shell captured its state machine right after applying slot `upTo - 1` (the entry
   * marked `takeSnapshot`). The replica records the snapshot and compacts: the Ready
   * persists it and truncates the log below it. Stale calls are ignored.
   */
  snapshotTaken(upTo: number, data: unknown, nowUs: number): Ready {
    this.advanceClock(nowUs);
    const p = this.pendingSnapshot;
    if (p !== null && p.upTo === upTo) {
      this.pendingSnapshot = null;
      const at = this.config.broken.snapshotOffByOne ? Math.min(upTo + 1, this.applied) : upTo;
      if (at > this.snapshotUpTo()) this.compactTo({ upTo: at, data, dedupe: p.dedupe, configs: p.configs });
    }
    return this.finish();
  }

  // ---------------------------------------------------------------- dispatch

  private handle(msg: PaxosMessage): void {
    switch (msg.type) {
      case 'prepare':
        return this.onPrepare(msg);
      case 'promise':
        return this.onPromise(msg);
      case 'preVote':
        return this.onPreVote(msg);
      case 'preVoteReply':
        return this.onPreVoteReply(msg);
      case 'nack':
        return this.onNack(msg);
      case 'accept':
        return this.onAccept(msg);
      case 'accepted':
        return this.onAccepted(msg);
      case 'heartbeat':
        return this.onHeartbeat(msg);
      case 'heartbeatAck':
        return this.onHeartbeatAck(msg);
      case 'catchupRequest':
        return this.onCatchupRequest(msg);
      case 'catchupReply':
        return this.onCatchupReply(msg);
      case 'forward':
        return this.onForward(msg);
      case 'snapshotChunk':
        return this.onSnapshotChunk(msg);
      case 'snapshotRequest':
        return this.onSnapshotRequest(msg);
    }
  }

  // ---------------------------------------------------------------- acceptor

  /** A vote for another ballot (or a possibly forgotten one, after restart) forbids promising. */
  private mayPromise(b: Ballot): boolean {
    return this.mayAcceptFor(b);
  }

  private mayAcceptFor(b: Ballot): boolean {
    if (this.config.broken.acceptorIgnoresLease) return true;
    // A newer ballot of the node we voted for is fine: a node drops its lease whenever it
    // campaigns again (and loses it when it restarts), so it never holds two.
    return this.voteBallot === null || this.nowUs >= this.voteUntilUs || this.voteBallot.node === b.node;
  }

  private grantVote(b: Ballot): void {
    this.voteBallot = b;
    this.voteUntilUs = this.nowUs + this.config.leaseDurationUs;
  }

  private onPrepare(m: PrepareMsg): void {
    this.observeRound(m.ballot.round);
    const fromSelf = m.from === this.config.self;
    // A Nack promises nothing: lower ballots hear about our promise even while we wait out votes.
    if (compareBallot(m.ballot, this.promised) < 0) {
      this.send(m.from, { type: 'nack', ballot: m.ballot, promised: this.promised });
      return;
    }
    if (!this.mayPromise(m.ballot)) return;
    // Leader stickiness: a replica that merely lost touch must not depose a
    // leader the rest of us still hear from (dueling proposers).
    if (
      !fromSelf &&
      compareBallot(m.ballot, this.promised) !== 0 && // a continuation of a promise already given
      this.config.features.leaderStickiness &&
      !this.config.broken.acceptorIgnoresLease &&
      this.leaderIsLive() &&
      m.from !== this.leaderHint()
    ) {
      return;
    }
    if (compareBallot(m.ballot, this.promised) < 0) {
      this.send(m.from, { type: 'nack', ballot: m.ballot, promised: this.promised });
      return;
    }
    this.setPromised(m.ballot);
    let preempted = false;
    if (!fromSelf) {
      if (this.role !== 'follower' && compareBallot(m.ballot, this.myBallot) > 0) {
        this.stepDown();
        preempted = true;
      }
      // Give the candidate we just promised a chance to win before we run ourselves.
      else if (this.role === 'follower') this.electionDeadlineUs = this.nowUs + this.electionTimeout();
    }
    const accepted: AcceptedEntry[] = [];
    for (const [slot, e] of this.log) {
      if (slot >= m.fromSlot) accepted.push({ slot, ballot: e.ballot, value: e.value });
    }
    accepted.sort((a, b) => a.slot - b.slot);
    // A long suffix travels in parts: the candidate asks again from `continueFrom`.
    const end = fitInBudget(accepted, 0, acceptedEntryBytes, this.config.maxEntriesPerMessage, this.messageBudget());
    this.send(m.from, {
      type: 'promise',
      ballot: m.ballot,
      fromSlot: m.fromSlot,
      accepted: end < accepted.length ? accepted.slice(0, end) : accepted,
      chosenUpTo: this.chosenPrefix,
      snapshotUpTo: this.snapshotUpTo(),
      ...(end < accepted.length ? { continueFrom: accepted[end]!.slot } : {}),
    });
    // Without backoff a preempted proposer fights back at once: the naive
    // behaviour that produces dueling proposers.
    if (preempted && !this.config.features.backoff) this.startElection();
  }

  /**
   * The acceptor's common gate for a leader's Accept or Heartbeat: a lower ballot is nacked,
   * one its lease vote forbids is ignored; otherwise it promises the ballot and notes the leader.
   */
  private admitLeaderMessage(m: { ballot: Ballot; from: string }): boolean {
    this.observeRound(m.ballot.round);
    if (compareBallot(m.ballot, this.promised) < 0) {
      this.send(m.from, { type: 'nack', ballot: m.ballot, promised: this.promised });
      return false;
    }
    if (!this.mayAcceptFor(m.ballot)) return false;
    this.setPromised(m.ballot);
    this.noteLeader(m.ballot);
    return true;
  }

  private onAccept(m: AcceptMsg): void {
    if (!this.admitLeaderMessage(m)) return;
    const slots: number[] = [];
    const compacted = this.snapshotUpTo();
    for (const e of m.entries) {
      slots.push(e.slot);
      // Below the snapshot the slot is chosen, and any later proposal carries the chosen value.
      if (e.slot < compacted) continue;
      this.log.set(e.slot, { ballot: m.ballot, value: e.value });
      this.persistAccepted.set(e.slot, { slot: e.slot, ballot: m.ballot, value: e.value });
    }
    this.grantVote(m.ballot);
    this.send(m.from, { type: 'accepted', ballot: m.ballot, slots, sentAtUs: m.sentAtUs });
    this.learnFromLeader(m.ballot, m.chosenUpTo, m.from);
  }

  private onHeartbeat(m: HeartbeatMsg): void {
    // Votes follow a durable promise (the ack waits for it), so that a replica with empty
    // durable state provably never voted, and a restarted one knows which vote it may have forgotten.
    if (!this.admitLeaderMessage(m)) return;
    this.grantVote(m.ballot);
    this.send(m.from, { type: 'heartbeatAck', ballot: m.ballot, sentAtUs: m.sentAtUs, chosenUpTo: this.chosenPrefix });
    this.learnFromLeader(m.ballot, m.chosenUpTo, m.from);
  }

  private setPromised(b: Ballot): void {
    const cmp = compareBallot(b, this.promised);
    invariant(cmp >= 0, 'promised ballot never decreases', () =>
      `${formatBallot(this.promised)} -> ${formatBallot(b)} at ${this.config.self}`,
    );
    if (cmp > 0) {
      this.promised = b;
      this.out.persist = { ...this.out.persist, promised: b };
    }
  }

  // ---------------------------------------------------------------- learner

  /**
   * The ballot-match rule: an accepted entry whose ballot equals the leader's
   * ballot holds the value that leader proposed, which is the chosen one for
   * every slot below its chosenUpTo. Anything else must be fetched.
   */
  private learnFromLeader(ballot: Ballot, leaderChosenUpTo: number, from: string): void {
    if (from === this.config.self) return;
    const matchAny = this.config.broken.learnWithoutBallotMatch === true;
    for (let s = this.chosenPrefix; s < leaderChosenUpTo; s++) {
      if (this.chosen.has(s)) continue;
      const e = this.log.get(s);
      if (e && (matchAny || ballotEquals(e.ballot, ballot))) this.markChosen(s, e.value);
    }
    this.knownChosenUpTo = Math.max(this.knownChosenUpTo, leaderChosenUpTo);
    this.catchupSource = from;
    this.advanceChosenPrefix();
    if (this.chosenPrefix < this.knownChosenUpTo) this.requestCatchup();
  }

  private requestCatchup(): void {
    if (this.incoming !== null && this.incoming.upTo <= this.applied) this.incoming = null; // overtaken by the log
    if (this.nowUs < this.catchupRetryAtUs) return;
    const inc = this.incoming;
    if (inc !== null) {
      this.catchupRetryAtUs = this.nowUs + 2 * this.config.heartbeatIntervalUs;
      this.send(inc.from, { type: 'snapshotRequest', upTo: inc.upTo, chunk: inc.parts.length });
      return;
    }
    if (this.catchupSource === null || this.catchupSource === this.config.self) return;
    this.catchupRetryAtUs = this.nowUs + 2 * this.config.heartbeatIntervalUs;
    const toSlot = Math.min(this.knownChosenUpTo, this.chosenPrefix + this.config.maxEntriesPerMessage);
    this.send(this.catchupSource, { type: 'catchupRequest', fromSlot: this.chosenPrefix, toSlot });
  }

  private onCatchupRequest(m: CatchupRequestMsg): void {
    if (this.snapshot !== null && m.fromSlot < this.snapshot.upTo) {
      this.sendSnapshotChunk(m.from, 0);
      return;
    }
    // Only a contiguous run from fromSlot helps the asker: a reply with a hole at its start
    // would not advance it (a replica resumed at its applied index holds no values below it).
    const entries: SlotValue[] = [];
    const end = Math.min(m.toSlot, m.fromSlot + this.config.maxEntriesPerMessage);
    for (let s = Math.max(0, m.fromSlot); s < end; s++) {
      const v = this.chosen.get(s);
      if (v === undefined) break;
      entries.push({ slot: s, value: v });
    }
    // The follower asks again from where this reply ends.
    entries.length = fitInBudget(entries, 0, slotValueBytes, this.config.maxEntriesPerMessage, this.messageBudget());
    this.send(m.from, { type: 'catchupReply', entries, chosenUpTo: this.chosenPrefix });
  }

  private onCatchupReply(m: CatchupReplyMsg): void {
    const before = this.chosenPrefix;
    for (const e of m.entries) this.markChosen(e.slot, e.value);
    this.knownChosenUpTo = Math.max(this.knownChosenUpTo, m.chosenUpTo);
    this.advanceChosenPrefix();
    // Ask again at once only after progress; otherwise the retry timer paces the requests.
    if (this.chosenPrefix > before) {
      this.catchupRetryAtUs = 0;
      if (this.chosenPrefix < this.knownChosenUpTo) this.requestCatchup();
    }
  }

  // ---------------------------------------------------------------- snapshots

  private sendSnapshotChunk(to: string, chunk: number): void {
    const snap = this.snapshot;
    if (snap === null) return;
    this.snapshotText ??= this.transfer.encode(snap);
    const size = this.config.snapshotChunkChars;
    const chunks = Math.max(1, Math.ceil(this.snapshotText.length / size));
    if (chunk < 0 || chunk >= chunks) return;
    const data = this.snapshotText.slice(chunk * size, (chunk + 1) * size);
    this.send(to, { type: 'snapshotChunk', upTo: snap.upTo, chunk, chunks, data });
  }

  private onSnapshotRequest(m: SnapshotRequestMsg): void {
    if (this.snapshot === null || this.snapshot.upTo < m.upTo) return;
    // A newer snapshot replaced the one being fetched: start that one over.
    this.sendSnapshotChunk(m.from, this.snapshot.upTo === m.upTo ? m.chunk : 0);
  }

  private onSnapshotChunk(m: SnapshotChunkMsg): void {
    if (this.incoming !== null && this.incoming.upTo <= this.applied) this.incoming = null;
    if (m.upTo <= this.applied) return;
    let inc = this.incoming;
    if (inc === null || inc.upTo !== m.upTo || inc.chunks !== m.chunks) {
      if (m.chunk !== 0 || (inc !== null && inc.upTo > m.upTo)) return;
      inc = this.incoming = { upTo: m.upTo, chunks: m.chunks, parts: [], from: m.from };
    }
    if (m.chunk !== inc.parts.length) return; // duplicate or out of order: the pull resumes it
    inc.parts.push(m.data);
    inc.from = m.from;
    this.catchupRetryAtUs = 0;
    if (inc.parts.length < inc.chunks) {
      this.requestCatchup();
      return;
    }
    this.incoming = null;
    this.installSnapshot(this.transfer.decode(inc.parts.join('')));
  }

  /** A snapshot from a peer replaces everything below its index. */
  private installSnapshot(snap: Snapshot): void {
    if (snap.upTo <= this.applied) return;
    if (this.role !== 'follower') this.stepDown();
    // Entries below the snapshot that this call already handed out are subsumed by it.
    this.out.apply = this.out.apply.filter((e) => e.slot >= snap.upTo);
    this.pendingSnapshot = null;
    this.dedupe = new Dedupe(snap.dedupe);
    this.configs = snap.configs.map(cloneMembership);
    this.applied = snap.upTo;
    this.chosenPrefix = Math.max(this.chosenPrefix, snap.upTo);
    this.nextSlot = Math.max(this.nextSlot, snap.upTo);
    this.knownChosenUpTo = Math.max(this.knownChosenUpTo, snap.upTo);
    this.out.installSnapshot = { upTo: snap.upTo, data: snap.data };
    this.compactTo(snap);
    this.advanceChosenPrefix();
  }

  /** Records `snap` as the durable snapshot and drops everything below it. */
  private compactTo(snap: Snapshot): void {
    invariant(snap.upTo <= this.applied, 'a snapshot covers only applied slots', () =>
      `snapshot ${snap.upTo} > applied ${this.applied} at ${this.config.self}`,
    );
    this.snapshot = snap;
    this.snapshotText = null;
    for (const s of this.log.keys()) if (s < snap.upTo) this.log.delete(s);
    for (const s of this.chosen.keys()) if (s < snap.upTo) this.chosen.delete(s);
    for (const s of this.persistAccepted.keys()) if (s < snap.upTo) this.persistAccepted.delete(s);
    this.out.persist = { ...this.out.persist, snapshot: snap, truncateBelow: snap.upTo };
  }

  private markChosen(slot: number, value: Value): void {
    const prev = this.chosen.get(slot);
    if (prev !== undefined) {
      invariant(valuesEqual(prev, value), 'a chosen slot never changes value', () =>
        `slot ${slot} at ${this.config.self}: ${JSON.stringify(prev)} vs ${JSON.stringify(value)}`,
      );
      return;
    }
    if (slot < this.chosenPrefix) return; // already applied and possibly compacted: value not kept
    this.chosen.set(slot, value);
  }

  private advanceChosenPrefix(): void {
    while (this.chosen.has(this.chosenPrefix)) this.chosenPrefix++;
    this.applyChosen();
  }

  private applyChosen(): void {
    const interval = this.config.snapshotIntervalEntries;
    while (this.applied < this.chosenPrefix) {
      const slot = this.applied;
      const value = this.chosen.get(slot);
      invariant(value !== undefined, 'applied entries are chosen', () => `slot ${slot} at ${this.config.self}`);
      const entry: ApplyEntry = { slot, value, commands: [], duplicates: [] };
      if (value.kind === 'batch') {
        for (const c of value.cmds) {
          if (this.dedupe.has(c.id)) entry.duplicates.push(c.id);
          else {
            this.dedupe.add(c.id);
            entry.commands.push(c);
          }
          this.queuedIds.delete(c.id);
        }
      } else if (value.kind === 'config') {
        this.applyConfig(slot, value);
      }
      const next = slot + 1;
      invariant(next > this.applied, 'applied index only grows', () => `${this.applied} -> ${next}`);
      this.applied = next;
      if (this.pendingSnapshot !== null && next - this.pendingSnapshot.upTo >= Math.max(interval, 1) * 2) {
        this.pendingSnapshot = null; // the shell never answered (it restarted?): ask again
      }
      if (interval > 0 && this.pendingSnapshot === null && next - this.snapshotUpTo() >= interval) {
        entry.takeSnapshot = true;
        this.pendingSnapshot = { upTo: next, dedupe: this.dedupe.export(), configs: this.configs.map(cloneMembership) };
      }
      this.out.apply.push(entry);
    }
  }

  private applyConfig(slot: number, v: ConfigValue): void {
    const m: Membership = { fromSlot: slot + this.config.window, peers: [...v.peers], q1: v.q1, q2: v.q2 };
    this.pendingConfigs.delete(slot);
    this.configs.push(m);
    // Drop configurations that govern only applied slots.
    while (this.configs.length > 1 && this.configs[1]!.fromSlot <= this.applied) this.configs.shift();
  }

  // ---------------------------------------------------------------- configurations

  /** The configuration governing `slot`: applied ones, plus (at the leader) those it proposed. */
  private configAt(slot: number): Membership {
    let best = this.configs[0]!;
    for (const c of this.configs) if (c.fromSlot <= slot && c.fromSlot >= best.fromSlot) best = c;
    if (this.role === 'leader') {
      for (const c of this.pendingConfigs.values()) if (c.fromSlot <= slot && c.fromSlot >= best.fromSlot) best = c;
    }
    return best;
  }

  /** Every configuration governing some slot >= `from`. */
  private governing(from: number, extra: Iterable<Membership> = []): Membership[] {
    const first = this.configAt(from);
    const out = [first];
    const later = [...this.configs, ...(this.role === 'leader' ? this.pendingConfigs.values() : []), ...extra];
    for (const c of later) if (c !== first && c.fromSlot > from) out.push(c);
    return out;
  }

  private activePeers(): string[] {
    const peers = new Set<string>();
    for (const c of this.governing(this.chosenPrefix)) for (const p of c.peers) peers.add(p);
    return [...peers];
  }

  // ---------------------------------------------------------------- proposer

  /** The round a new campaign would use, or null past MAX_BALLOT_ROUND (reachable only through hostile input the codec let by). */
  private nextRound(): number | null {
    const round = Math.max(this.maxRoundSeen, this.promised.round, this.myBallot.round) + 1;
    if (round > MAX_BALLOT_ROUND) {
      this.electionDeadlineUs = this.nowUs + this.electionTimeout();
      return null;
    }
    return round;
  }

  /** Asks the group whether a phase-1 quorum would follow a campaign; starts one if so. */
  private startPreVote(): void {
    const round = this.nextRound();
    if (round === null) return;
    this.preVoteBallot = { round, node: this.config.self };
    this.preVotes.clear();
    this.electionDeadlineUs = this.nowUs + this.electionTimeout();
    for (const p of [this.config.self, ...this.activePeers()]) this.send(p, { type: 'preVote', ballot: this.preVoteBallot });
  }

  /**
   * Grants only while no live leader is heard here and no lease vote forbids it: a replica that
   * merely lost touch gets no quorum and keeps its ballot. Changes nothing here.
   */
  private onPreVote(m: PreVoteMsg): void {
    const leaderHeard = this.leaderIsLive() && m.from !== this.leaderHint() && m.from !== this.config.self;
    const granted = this.mayPromise(m.ballot) && !leaderHeard;
    // The round is not judged here: the reply carries our promise, so the campaign that follows
    // picks a round above it.
    this.send(m.from, { type: 'preVoteReply', ballot: m.ballot, granted, promised: this.promised });
  }

  private onPreVoteReply(m: PreVoteReplyMsg): void {
    this.observeRound(m.promised.round);
    if (this.role !== 'follower' || this.preVoteBallot === null || !ballotEquals(m.ballot, this.preVoteBallot) || !m.granted) return;
    this.preVotes.add(m.from);
    if (this.quorumOf(this.preVotes, this.governing(this.chosenPrefix), 'q1')) this.startElection();
  }

  /** Whether `voters` hold a quorum (phase-1 or phase-2 size) in every configuration of `configs`. */
  private quorumOf(voters: ReadonlySet<string>, configs: readonly Membership[], q: 'q1' | 'q2'): boolean {
    for (const c of configs) {
      let n = 0;
      for (const p of c.peers) if (voters.has(p)) n++;
      if (n < c[q]) return false;
    }
    return true;
  }

  private startElection(): void {
    const round = this.nextRound();
    if (round === null) return;
    this.maxRoundSeen = round;
    this.preVoteBallot = null;
    if (this.role === 'leader') this.clearLeaderState();
    this.role = 'candidate';
    this.myBallot = { round, node: this.config.self };
    this.promisers.clear();
    this.reported.clear();
    this.prepared.clear();
    this.prepareFromSlot = this.chosenPrefix;
    // If phase 1 stalls (lost messages, ignored by sticky acceptors) try again later.
    this.electionDeadlineUs = this.nowUs + this.electionTimeout();
    this.prepareTo([this.config.self, ...this.activePeers()]);
  }

  private prepareTo(peers: Iterable<string>): void {
    for (const p of peers) {
      if (this.prepared.has(p)) continue;
      this.prepared.add(p);
      this.send(p, { type: 'prepare', ballot: this.myBallot, fromSlot: this.prepareFromSlot });
    }
  }

  private onPromise(m: PromiseMsg): void {
    if (this.role !== 'candidate' || !ballotEquals(m.ballot, this.myBallot)) return;
    if (m.snapshotUpTo > this.prepareFromSlot) {
      // That acceptor compacted slots we have not learned: we cannot run phase 1 for them.
      // Catch up from its snapshot first; campaign again later.
      this.knownChosenUpTo = Math.max(this.knownChosenUpTo, m.snapshotUpTo);
      this.catchupSource = m.from;
      this.stepDown();
      this.catchupRetryAtUs = 0;
      this.requestCatchup();
      return;
    }
    for (const e of m.accepted) {
      if (e.slot < this.prepareFromSlot) continue;
      const cur = this.reported.get(e.slot);
      if (!cur || compareBallot(e.ballot, cur.ballot) > 0) this.reported.set(e.slot, e);
    }
    if (m.continueFrom !== undefined) {
      // A part of a long promise: ask for the rest (a reply that does not advance is ignored).
      // Phase 1 is making progress, so the campaign's timer starts over: a long suffix must
      // not make every candidate give up before its promises are complete.
      if (m.continueFrom > m.fromSlot) {
        this.electionDeadlineUs = this.nowUs + this.electionTimeout();
        this.send(m.from, { type: 'prepare', ballot: this.myBallot, fromSlot: m.continueFrom });
      }
      return;
    }
    this.promisers.add(m.from);
    const best = this.reported;
    // Configurations reported in the promises may govern slots past what we know: their
    // members must promise too (and are asked to).
    const reported: Membership[] = [];
    for (const [slot, e] of best) {
      const v = this.chosen.get(slot) ?? e.value;
      if (v.kind === 'config') reported.push({ fromSlot: slot + this.config.window, peers: v.peers, q1: v.q1, q2: v.q2 });
    }
    const needed = this.governing(this.prepareFromSlot, reported);
    for (const c of needed) this.prepareTo(c.peers);
    if (this.quorumOf(this.promisers, needed, 'q1')) this.becomeLeader(best);
  }

  private becomeLeader(best: ReadonlyMap<number, AcceptedEntry>): void {
    let maxSlot = this.prepareFromSlot - 1;
    for (const s of best.keys()) maxSlot = Math.max(maxSlot, s);
    this.promisers.clear();
    this.role = 'leader';
    this.leaderBallot = this.myBallot;
    this.lastLeaderContactUs = this.nowUs;
    this.inflight.clear();
    this.pendingConfigs.clear();
    this.votes.clear();
    this.heard.clear();
    this.leaseStartUs = null;
    this.leaseEndUs = null;
    const reproposals: SlotValue[] = [];
    const ignoreValues = this.config.broken.ignorePromiseValues === true;
    for (let s = this.prepareFromSlot; s <= maxSlot; s++) {
      const known = this.chosen.get(s);
      const reported = best.get(s);
      // Highest-ballot value or, for holes, a no-op. A slot we already know
      // chosen keeps its value (it must equal the highest-ballot one anyway).
      const value = ignoreValues ? NOOP : (known ?? reported?.value ?? NOOP);
      if (known !== undefined && s < this.chosenPrefix) continue;
      reproposals.push({ slot: s, value });
      if (value.kind === 'config') {
        this.pendingConfigs.set(s, { fromSlot: s + this.config.window, peers: [...value.peers], q1: value.q1, q2: value.q2 });
      }
    }
    this.reported.clear();
    this.nextSlot = Math.max(maxSlot + 1, this.chosenPrefix);
    this.termStartSlot = this.nextSlot;
    for (const p of this.activePeers()) this.heard.set(p, this.nowUs);
    this.reproposals = reproposals;
    this.sendHeartbeats();
    this.flushQueue();
  }

  private onAccepted(m: AcceptedMsg): void {
    if (this.role !== 'leader' || !ballotEquals(m.ballot, this.myBallot)) return;
    this.recordVote(m.from, m.sentAtUs);
    let progressed = false;
    for (const slot of m.slots) {
      const f = this.inflight.get(slot);
      if (!f) continue;
      f.acks.add(m.from);
      const c = this.configAt(slot);
      let n = 0;
      for (const a of f.acks) if (c.peers.includes(a)) n++;
      if (n >= c.q2) {
        this.inflight.delete(slot);
        this.markChosen(slot, f.value);
        progressed = true;
      }
    }
    if (progressed) {
      this.advanceChosenPrefix();
      this.flushQueue();
    }
  }

  private onHeartbeatAck(m: HeartbeatAckMsg): void {
    if (this.role !== 'leader' || !ballotEquals(m.ballot, this.myBallot)) return;
    this.recordVote(m.from, m.sentAtUs);
  }

  private recordVote(from: string, sentAtUs: number): void {
    this.heard.set(from, this.nowUs);
    const t = this.config.broken.leaseFromReceipt ? this.nowUs : Math.min(sentAtUs, this.nowUs);
    const prev = this.votes.get(from);
    if (prev === undefined || t > prev) this.votes.set(from, t);
  }

  private onNack(m: NackMsg): void {
    this.observeRound(m.promised.round);
    if (this.role === 'follower' || !ballotEquals(m.ballot, this.myBallot)) return;
    if (compareBallot(m.promised, this.myBallot) <= 0) return;
    this.stepDown();
    if (!this.config.features.backoff) this.startElection();
  }

  private onForward(m: ForwardMsg): void {
    if (this.role !== 'leader') return; // the client retries; re-forwarding could loop
    // The forwarder checked sizes; a command over the limit here is dropped, never batched.
    const fresh = m.cmds.filter((c) => !this.dedupe.has(c.id) && commandBytes(c) <= this.config.maxCommandBytes);
    this.enqueue(fresh);
    this.flushQueue();
  }

  private enqueue(cmds: Command[]): void {
    for (const c of cmds) {
      if (this.queuedIds.has(c.id)) continue;
      this.queuedIds.add(c.id);
      this.queue.push(c);
    }
  }

  private flushQueue(): void {
    if (this.role !== 'leader') return;
    const entries: SlotValue[] = [];
    // Phase 1's results go out first, within the window like any value: a long suffix re-sent
    // at once would bury the followers (and their acks, and so this leadership) under it.
    let n = 0;
    while (n < this.reproposals.length && this.reproposals[n]!.slot < this.chosenPrefix + this.config.window) {
      const e = this.reproposals[n++]!;
      this.inflight.set(e.slot, { value: e.value, acks: new Set(), sentAtUs: this.nowUs });
      entries.push(e);
    }
    if (n > 0) this.reproposals = this.reproposals.slice(n);
    const room = (): boolean => this.reproposals.length === 0 && this.nextSlot - this.chosenPrefix < this.config.window;
    if (this.queuedConfig !== null && room()) {
      const slot = this.nextSlot++;
      const value = this.queuedConfig;
      this.queuedConfig = null;
      this.inflight.set(slot, { value, acks: new Set(), sentAtUs: this.nowUs });
      this.pendingConfigs.set(slot, { fromSlot: slot + this.config.window, peers: [...value.peers], q1: value.q1, q2: value.q2 });
      entries.push({ slot, value });
    }
    while (this.queue.length > 0 && room()) {
      const cmds = this.queue.splice(0, fitInBudget(this.queue, 0, commandBytes, this.config.maxBatch, this.messageBudget()));
      const slot = this.nextSlot++;
      const value: Value = { kind: 'batch', cmds };
      this.inflight.set(slot, { value, acks: new Set(), sentAtUs: this.nowUs });
      entries.push({ slot, value });
    }
    this.sendAccepts(entries);
  }

  private sendAccepts(entries: SlotValue[]): void {
    if (entries.length === 0) return;
    const peers = this.activePeers();
    this.selfVote();
    for (const part of this.acceptChunks(entries)) {
      const body: MessageBody = {
        type: 'accept',
        ballot: this.myBallot,
        entries: part,
        chosenUpTo: this.chosenPrefix,
        sentAtUs: this.nowUs,
      };
      this.send(this.config.self, body);
      for (const p of peers) if (p !== this.config.self) this.send(p, body);
    }
  }

  private resendStaleAccepts(): void {
    const staleBefore = this.nowUs - 2 * this.config.heartbeatIntervalUs;
    const perPeer = new Map<string, SlotValue[]>();
    const peers = this.activePeers();
    for (const [slot, f] of this.inflight) {
      if (f.sentAtUs > staleBefore) continue;
      f.sentAtUs = this.nowUs;
      for (const p of peers) {
        if (f.acks.has(p)) continue;
        let list = perPeer.get(p);
        if (!list) perPeer.set(p, (list = []));
        list.push({ slot, value: f.value });
      }
    }
    for (const [peer, list] of perPeer) {
      for (const part of this.acceptChunks(list)) {
        this.send(peer, {
          type: 'accept',
          ballot: this.myBallot,
          entries: part,
          chosenUpTo: this.chosenPrefix,
          sentAtUs: this.nowUs,
        });
      }
    }
  }

  /** Bytes of entries one message may carry besides its framing. */
  private messageBudget(): number {
    return this.config.maxMessageBytes - MESSAGE_FRAME_BYTES;
  }

  private acceptChunks(entries: readonly SlotValue[]): SlotValue[][] {
    return chunkByBudget(entries, slotValueBytes, this.config.maxEntriesPerMessage, this.messageBudget());
  }

  private sendHeartbeats(): void {
    this.nextHeartbeatUs = this.nowUs + this.config.heartbeatIntervalUs;
    this.selfVote();
    const body: MessageBody = { type: 'heartbeat', ballot: this.myBallot, chosenUpTo: this.chosenPrefix, sentAtUs: this.nowUs };
    for (const p of this.activePeers()) if (p !== this.config.self) this.send(p, body);
  }

  /** The leader's own acceptor votes for it whenever it asks the others. */
  private selfVote(): void {
    if (!this.mayAcceptFor(this.myBallot)) return;
    this.grantVote(this.myBallot);
    this.recordVote(this.config.self, this.nowUs);
  }

  // ---------------------------------------------------------------- lease and check-quorum

  /** Lease duration as the leader may count it on its own clock: shorter than any vote in real time. */
  private leaderLeaseUs(): number {
    const l = this.config.leaseDurationUs;
    if (this.config.broken.leaseIgnoresDrift) return l;
    const d = this.config.maxDriftPpm;
    // Voter's clock may run at (1+d), ours at (1-d): L(1-d)/(1+d) of ours is at most L of theirs.
    return Math.floor((l * (1_000_000 - d)) / (1_000_000 + d)) - 2;
  }

  private computeLeaseEnd(): number | null {
    if (this.role !== 'leader') return null;
    const cfgs = [this.configAt(this.chosenPrefix)];
    const last = this.configAt(Math.max(this.chosenPrefix, this.nextSlot - 1));
    if (last !== cfgs[0]) cfgs.push(last);
    let t = Number.POSITIVE_INFINITY;
    for (const c of cfgs) {
      const times: number[] = [];
      for (const p of c.peers) {
        const v = this.votes.get(p);
        if (v !== undefined) times.push(v);
      }
      if (times.length < c.q2) return null;
      times.sort((a, b) => b - a);
      t = Math.min(t, times[c.q2 - 1]!);
    }
    return t + this.leaderLeaseUs();
  }

  /** Check-quorum: has the leader heard from a phase-2 quorum within the election timeout? */
  private quorumHeard(): boolean {
    if (!this.config.features.checkQuorum || this.config.broken.readsWithoutLease) return true;
    const c = this.configAt(this.chosenPrefix);
    let n = 0;
    for (const p of c.peers) {
      const h = p === this.config.self ? this.nowUs : this.heard.get(p);
      if (h !== undefined && this.nowUs - h < this.config.electionTimeoutUs) n++;
    }
    return n >= c.q2;
  }

  // ---------------------------------------------------------------- leadership

  private noteLeader(b: Ballot): void {
    this.preVoteBallot = null;
    if (this.leaderBallot === null || compareBallot(b, this.leaderBallot) >= 0) {
      this.leaderBallot = b;
      if (b.node !== this.config.self || this.role === 'leader') this.lastLeaderContactUs = this.nowUs;
    }
    if (this.role !== 'follower' && compareBallot(b, this.myBallot) > 0) this.stepDown();
    if (this.role === 'follower' && ballotEquals(b, this.leaderBallot)) {
      this.electionDeadlineUs = this.nowUs + this.electionTimeout();
    }
  }

  private stepDown(): void {
    if (this.role === 'leader') this.clearLeaderState();
    this.role = 'follower';
    this.promisers.clear();
    this.reported.clear();
    this.preVoteBallot = null;
    const backoff = this.config.features.backoff
      ? Math.floor(this.rng.next() * this.config.electionTimeoutUs)
      : 0;
    this.electionDeadlineUs = this.nowUs + this.electionTimeout() + backoff;
  }

  private clearLeaderState(): void {
    this.inflight.clear();
    this.reproposals = [];
    this.queue = [];
    this.queuedIds.clear();
    this.queuedConfig = null;
    this.pendingConfigs.clear();
    this.votes.clear();
    this.heard.clear();
    this.leaseStartUs = null;
    this.leaseEndUs = null;
    if (this.leaderBallot && this.leaderBallot.node === this.config.self) this.leaderBallot = null;
  }

  private leaderIsLive(): boolean {
    if (this.role === 'leader') return true;
    return this.leaderBallot !== null && this.nowUs - this.lastLeaderContactUs < this.config.electionTimeoutUs;
  }

  private electionTimeout(): number {
    const base = this.config.electionTimeoutUs;
    return this.config.features.randomizedTimeouts ? base + Math.floor(this.rng.next() * base) : base;
  }

  private observeRound(round: number): void {
    if (round > this.maxRoundSeen) this.maxRoundSeen = round;
  }

  // ---------------------------------------------------------------- plumbing

  private advanceClock(nowUs: number): void {
    if (nowUs > this.nowUs) this.nowUs = nowUs;
    // A lease that lapsed since the last call ends the current unbroken interval.
    if (this.leaseEndUs !== null && this.nowUs >= this.leaseEndUs) {
      this.leaseStartUs = null;
      this.leaseEndUs = null;
    }
  }

  private send(to: string, body: MessageBody): void {
    const msg = { ...body, group: this.config.group, from: this.config.self } as PaxosMessage;
    if (to === this.config.self) this.loopback.push(msg);
    else this.out.send.push({ to, msg });
  }

  private finish(): Ready {
    // Self-addressed messages are handled here, inside the same Ready, so that
    // their persists precede every send of this output.
    while (this.loopback.length > 0) this.handle(this.loopback.shift() as PaxosMessage);
    if (this.persistAccepted.size > 0) {
      this.out.persist = {
        ...this.out.persist,
        accepted: [...this.persistAccepted.values()].sort((a, b) => a.slot - b.slot),
      };
    }
    const end = this.computeLeaseEnd();
    if (end !== null && this.nowUs < end) {
      this.leaseStartUs ??= this.nowUs;
      this.leaseEndUs = end;
    } else {
      this.leaseStartUs = null;
      this.leaseEndUs = null;
    }
    const hint = this.leaderHint();
    const isLeader = this.role === 'leader';
    if (isLeader !== this.lastLeadership.isLeader || hint !== this.lastLeadership.hint) {
      const change: LeadershipChange = {
        isLeader,
        ballot: isLeader ? this.myBallot : (this.leaderBallot ?? this.promised),
        leaderHint: hint,
      };
      this.out.leadership = change;
      this.lastLeadership = { isLeader, hint };
    }
    const ready = this.out;
    this.out = emptyReady();
    this.persistAccepted = new Map();
    return ready;
  }
}

function cloneMembership(c: Membership): Membership {
  return { fromSlot: c.fromSlot, peers: [...c.peers], q1: c.q1, q2: c.q2 };
}

function emptyReady(): Ready {
  return { send: [], apply: [] };
}
