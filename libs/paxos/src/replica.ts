import { ballotEquals, compareBallot, formatBallot, type Ballot } from './ballot.js';
import { keepsLeadAfterHandOff, quietLeaderLive, readsWithoutLease, snapshotIndex } from './broken.js';
import { chunkByBudget, commandBytes } from './budget.js';
import { majority, validateLearners, validateMembership, type ReplicaConfig } from './config.js';
import { invariant } from './invariant.js';
import { Leader } from './leader.js';
import type { LeaseInterval } from './lease.js';
import { cloneMembership, learnersOf } from './membership.js';
import type { NackMsg, PaxosMessage } from './messages.js';
import type { LeadershipChange, Membership, PeerProgress, ProposalResult, Ready } from './output.js';
import { emptyReady, type ReplicaOptions, type Role } from './replica-state.js';
import type { Rng } from './rng.js';
import type { Command, Value } from './value.js';


/**
 * One replica of one Multi-Paxos group: acceptor, learner and potential
 * proposer, as a deterministic sans-I/O state machine.
 *
 * Every public mutator (`step`, `tick`, `propose`, `reconfigure`,
 * `snapshotTaken`) takes the current time of this node's own clock in integer
 * microseconds and returns the `Ready` the shell must carry out (persist, then
 * send, then apply — see `Ready`). Messages a replica sends to itself are
 * delivered internally and never appear in `Ready.send`; the one exception, the
 * leader's own Accepted, comes back through the shell (`Ready.local`) once durable.
 *
 * Slots start at 0; `chosenUpTo()` / `appliedUpTo()` are exclusive bounds.
 *
 * The roles live one file each (replica-state.ts ← acceptor.ts ← learner.ts ← campaign.ts ←
 * leader.ts); this class keeps the public API, the dispatch of messages, the role changes
 * and the assembly of the Ready, where the assertions on every output are checked.
 */
export class Replica extends Leader {
  /**
   * leaseEnd() as the last mutator's finish() computed it; undefined inside a mutator (and before
   * the first, or after one that threw). leaseEnd() reads only replica state (role, votes,
   * configurations, slots), which changes only inside mutators, so between them this is exact.
   * A shell asks for the lease on every request (the spanserver: twice), and recomputing it
   * sorted the voters' times each time.
   */
  private settledLeaseEnd: number | null | undefined = undefined;
  /** What the last Ready reported about leadership: a change is reported once. */
  private lastLeadership: { isLeader: boolean; hint: string | null } = { isLeader: false, hint: null };

  constructor(config: ReplicaConfig, rng: Rng, opts: ReplicaOptions = {}) {
    super(config, rng, opts);
  }

  // ---------------------------------------------------------------- queries

  isLeader(): boolean {
    return this.role === 'leader';
  }

  getRole(): Role {
    return this.role;
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
    return cloneMembership(this.configs.at(slot));
  }

  /** The configuration governing the next slot to be chosen. */
  membership(): Membership {
    return this.membershipAt(this.chosenPrefix);
  }

  /** Whether this replica is a voting member of a configuration governing unchosen slots. */
  isMember(): boolean {
    return this.activePeers().includes(this.config.self);
  }

  /**
   * At the leader, every replication target's progress (voters and learners of the
   * configurations governing unchosen slots, itself included); empty elsewhere. The shell and
   * placement watch a learner catch up here before promoting it.
   */
  progress(): PeerProgress[] {
    if (this.role !== 'leader') return [];
    const voters = this.configs.at(this.nextSlot).peers;
    return this.replicationTargets().map((node) => ({ node, voter: voters.includes(node), matchSlot: this.matchOf(node) }));
  }

  /**
   * Whether this replica is quiescent (docs/paxos.md, "Quiescent groups"): a leader that stopped
   * heartbeating, or a follower of one. A shell given a client's request here calls `wake`.
   */
  isQuiet(): boolean {
    return this.quiet;
  }

  /**
   * Records activity at `nowUs` (a client's request here): a leader does not ask to go quiet, nor
   * a follower agree to, for quiesceAfterUs after it. Changes nothing else and returns no Ready:
   * cheap enough for every request; a quiet replica needs `wake` instead.
   */
  touch(nowUs: number): void {
    if (nowUs > this.lastActivityUs) this.lastActivityUs = nowUs;
    this.quietAcks.clear();
  }

  /** The replica this leader is handing leadership to, or null. */
  transferTarget(): string | null {
    return this.role === 'leader' ? (this.transfer?.to ?? null) : null;
  }

  /** Sizes of the in-memory structures that must stay bounded on long runs. */
  footprint(): { log: number; chosen: number; dedupe: number; configs: number } {
    return { log: this.log.size, chosen: this.chosen.size, dedupe: this.dedupe.size(), configs: this.configs.size() };
  }

  /**
   * Local-clock instant before which this replica holds a leader lease, or null if it holds
   * none at `nowUs`. No other replica of the group can hold a lease at any real instant
   * before it: it is timed from when the leader sent the requests a phase-2 quorum
   * voted on, shrunk by the drift bound, so it ends before any of their votes does.
   */
  leaseValidUntil(nowUs: number): number | null {
    const end = this.settledLeaseEnd !== undefined ? this.settledLeaseEnd : this.leaseEnd();
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
    return end === null ? null : this.lease.interval(nowUs, end);
  }

  /**
   * Whether a read at `nowUs` may be served from the local state machine without a round
   * trip: this replica holds a lease and has applied everything chosen before its term
   * began. The read must see the state machine at `appliedUpTo()` (the shell waits for its
   * pending applies up to that index).
   */
  canServeLocalRead(nowUs: number): boolean {
    if (this.role !== 'leader' || this.applied < this.termStartSlot) return false;
    return readsWithoutLease(this.config) || this.hasLease(nowUs);
  }

  // ---------------------------------------------------------------- inputs

  step(msg: PaxosMessage, nowUs: number): Ready {
    this.advanceClock(nowUs);
    // Any sender of the group is heard: members change by reconfiguration, and the
    // shell has already checked that `from` is who sent it.
    if (msg.group === this.config.group && msg.from !== '') {
      // A quiet leader wakes for anything a peer asks of it (a wake, a forward, a pre-vote from a
      // replica that restarted, a catch-up); acks of its last heartbeats are no reason to.
      if (this.quiet && this.role === 'leader' && msg.type !== 'heartbeatAck' && msg.type !== 'accepted') this.noteActivity();
      this.handle(msg);
    }
    return this.finish();
  }

  /** A client needs this group (docs/paxos.md, "Quiescent groups"): a quiet replica wakes, and any counts the activity. */
  wake(nowUs: number): Ready {
    this.advanceClock(nowUs);
    this.noteActivity();
    return this.finish();
  }

  tick(nowUs: number): Ready {
    this.advanceClock(nowUs);
    if (this.role === 'leader') {
      if (this.quiet) {
        // Nothing is due: no heartbeat, and no check-quorum, as no lease is held to protect.
      } else if (!this.isMember() || !this.quorumHeard()) {
        this.stepDown();
      } else {
        if (this.nowUs >= this.nextHeartbeatUs) this.sendHeartbeats();
        this.resendStaleAccepts();
        this.flushQueue();
        this.fillPendingConfigGap();
        this.progressTransfer();
      }
    } else if (this.nowUs >= this.electionDeadlineUs) {
      // A quiet follower waits while its leader's node is heard: the node's beats stand in for
      // the group's heartbeats. Once they stop, it campaigns like any follower.
      if (this.quiet && this.leaderIsLive()) this.electionDeadlineUs = this.nowUs + this.electionTimeout();
      else {
        this.quiet = false;
        this.campaignOnTimeout();
      }
    }
    if (this.chosenPrefix < this.knownChosenUpTo || this.snapshotReceiver.active()) this.requestCatchup();
    return this.finish();
  }

  /**
   * At its election deadline, a quiet follower whose leader's node is still heard only re-arms
   * the deadline (see tick). This does exactly that, without building a Ready, so that a shell
   * hosting hundreds of quiet groups re-checks each one's leader for the price of a call instead
   * of a tick through its pipeline (docs/paxos.md, "Quiescent groups"). Returns false, changing
   * nothing, in any other case: the shell then ticks the replica as usual.
   */
  rearmQuiet(nowUs: number): boolean {
    if (this.role !== 'follower' || !this.quiet || this.leaderBallot === null) return false;
    if (this.chosenPrefix < this.knownChosenUpTo || this.snapshotReceiver.active()) return false;
    const now = Math.max(nowUs, this.nowUs);
    if (now < this.electionDeadlineUs || !quietLeaderLive(this.config, this.liveness !== null && this.liveness.isLive(this.leaderBallot.node, now))) return false;
    invariant(this.loopback.length === 0 && this.persistAccepted.size === 0, 'a replica between inputs holds no pending output', () => `${this.config.self}: ${this.loopback.length} loopback, ${this.persistAccepted.size} accepts to persist`);
    this.advanceClock(nowUs);
    this.electionDeadlineUs = this.nowUs + this.electionTimeout();
    // What finish() settles for a Ready with nothing in it.
    const leaseEnd = this.leaseEnd();
    this.lease.update(leaseEnd, this.nowUs);
    this.settledLeaseEnd = leaseEnd;
    return true;
  }

  /** The election deadline passed with no leader heard: pre-vote, or campaign (unless not a member). */
  private campaignOnTimeout(): void {
    if (!this.isMember()) this.electionDeadlineUs = this.nowUs + this.electionTimeout();
    else if (this.config.features.preVote) {
      // A campaign that timed out (cut off, say) asks again before raising its round, or a
      // partitioned candidate would climb rounds and depose the leader after the heal.
      if (this.role === 'candidate') this.stepDown();
      this.startPreVote();
    } else this.startElection();
  }

  /**
   * The earliest time a `tick` could do anything: a shell hosting many groups ticks a group only
   * once it has come (docs/paxos.md, "Many groups per process"). A busy leader has duties at
   * every tick (resends, queued values, transfers); an idle one at its next heartbeat or when
   * check-quorum would depose it; a follower or candidate at its election deadline; any replica
   * at once while it is catching up. Every other input reaches it as a
   * message, and every call advances its clock first, so the ticks skipped change nothing.
   */
  nextTickUs(): number {
    if (this.chosenPrefix < this.knownChosenUpTo || this.snapshotReceiver.active()) return 0;
    // Only an input wakes a quiet leader (and its membership cannot change while quiet).
    if (this.role === 'leader' && this.quiet) return Number.POSITIVE_INFINITY;
    if (this.role === 'leader') return this.isMember() ? this.leaderDueUs() : 0;
    return this.electionDeadlineUs;
  }

  propose(cmds: Command[], nowUs: number): Ready {
    this.advanceClock(nowUs);
    this.noteActivity();
    const results: ProposalResult[] = [];
    // Right after handing over, clients are sent to the successor before it is heard from.
    const hint = this.leaderHint() ?? this.handedOffTo;
    const tooLarge: Command[] = [];
    const applied: Command[] = [];
    const fresh: Command[] = [];
    for (const c of cmds) (commandBytes(c) > this.config.maxCommandBytes ? tooLarge : this.dedupe.has(c.id) ? applied : fresh).push(c);
    if (tooLarge.length > 0) results.push({ ids: tooLarge.map((c) => c.id), status: 'too_large', leaderHint: hint });
    if (applied.length > 0) results.push({ ids: applied.map((c) => c.id), status: 'already_applied', leaderHint: hint });
    if (fresh.length > 0) {
      const ids = fresh.map((c) => c.id);
      if (this.role === 'leader' && this.transfer !== null) {
        // Handing over: the client retries at the replica about to lead.
        results.push({ ids, status: 'not_leader', leaderHint: this.transfer.to });
      } else if (this.role === 'leader') {
        this.enqueue(fresh);
        this.flushQueue();
        results.push({ ids, status: 'queued', leaderHint: this.config.self });
      } else if (hint !== null && hint !== this.config.self && this.leaderIsLive()) {
        const perForward = this.config.maxBatch * this.config.maxEntriesPerMessage;
        for (const part of chunkByBudget(fresh, commandBytes, perForward, this.messageBudget())) this.send(hint, { type: 'forward', cmds: part });
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
   * (q1 + q2 > n, quorums within 1..n) or lists a learner that also votes; defaults to majority
   * quorums and no learners. One change at a time: `busy` while an earlier one is not yet
   * applied here or a leader transfer is under way. Promoting a learner that is not caught up
   * (it holds less than the chosen prefix minus `window`) answers `behind`: retry once
   * `progress()` shows it closer (docs/paxos.md "Learners and leader transfer").
   */
  reconfigure(change: { peers: string[]; learners?: string[]; q1?: number; q2?: number }, nowUs: number): Ready {
    this.advanceClock(nowUs);
    this.noteActivity();
    const n = change.peers.length;
    const q1 = change.q1 ?? majority(n);
    const q2 = change.q2 ?? majority(n);
    const learners = change.learners ?? [];
    validateMembership(change.peers, q1, q2);
    validateLearners(change.peers, learners);
    if (this.role !== 'leader') {
      this.out.reconfigureResult = { status: 'not_leader', leaderHint: this.leaderHint() };
    } else if (this.queuedConfig !== null || this.transfer !== null || this.configs.changingAfter(this.chosenPrefix)) {
      this.out.reconfigureResult = { status: 'busy', leaderHint: this.config.self };
    } else if (this.promotesLaggingLearner(change.peers)) {
      this.out.reconfigureResult = { status: 'behind', leaderHint: this.config.self };
    } else {
      this.queuedConfig = { kind: 'config', peers: [...change.peers], q1, q2, ...(learners.length > 0 ? { learners: [...learners] } : {}) };
      this.flushQueue();
      this.out.reconfigureResult = { status: 'queued', leaderHint: this.config.self };
    }
    return this.finish();
  }

  /** Whether `peers` makes a voter of a current learner that holds less than chosen prefix − window. */
  private promotesLaggingLearner(peers: readonly string[]): boolean {
    const learners = learnersOf(this.configs.at(this.nextSlot));
    return peers.some((p) => learners.includes(p) && this.matchOf(p) + this.config.window < this.chosenPrefix);
  }

  /**
   * Hands leadership to voter `to` (leader only; docs/paxos.md "Learners and leader transfer").
   * The leader stops assigning slots (proposals answer not_leader with `to` as the hint) and
   * stops extending its lease, waits until `to` holds every slot it assigned and the lease has
   * run out, then steps down, releases its voters' lease votes and sends `to` a timeoutNow.
   * Without handing over within a lease plus an election timeout it gives up and leads on; it
   * refuses a target it has not heard from within an election timeout, and gives up as soon
   * as the target falls silent that long (docs/paxos.md "Learners and leader transfer").
   */
  transferLeadership(to: string, nowUs: number): Ready {
    this.advanceClock(nowUs);
    this.noteActivity();
    const status = this.startTransfer(to);
    this.out.transferResult = { status, leaderHint: status === 'not_leader' ? this.leaderHint() : this.config.self };
    return this.finish();
  }

  private startTransfer(to: string): NonNullable<Ready['transferResult']>['status'] {
    if (this.role !== 'leader') return 'not_leader';
    if (to === this.config.self) return 'already_leader';
    if (!this.configs.at(this.nextSlot).peers.includes(to)) return 'not_voter';
    if (this.transfer !== null) return 'busy';
    if (!this.heardLately(to)) return 'unreachable';
    // The lease drains first (up to a lease), then `to` has an election timeout to catch up and win.
    this.transfer = { to, startUs: this.nowUs, deadlineUs: this.nowUs + this.config.leaseDurationUs + this.config.electionTimeoutUs };
    this.progressTransfer();
    return 'started';
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
      const at = snapshotIndex(this.config, upTo, this.applied);
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
      case 'timeoutNow':
        return this.onTimeoutNow(msg);
      case 'leaseRelease':
        return this.onLeaseRelease(msg);
      case 'wake':
        return; // step() already woke a quiet leader; it changes nothing else
    }
  }

  // ---------------------------------------------------------------- role changes

  /** A Nack for our ballot from a higher promise: our campaign or leadership is over. */
  private onNack(m: NackMsg): void {
    this.observeRound(m.promised.round);
    if (this.role === 'follower' || !ballotEquals(m.ballot, this.myBallot)) return;
    if (compareBallot(m.promised, this.myBallot) <= 0) return;
    this.stepDown();
    if (!this.config.features.backoff) this.startElection();
  }

  /** A leader's Accept or Heartbeat at `b` was admitted: follow the highest leader heard. */
  protected noteLeader(b: Ballot): void {
    this.preVoteBallot = null;
    this.handedOffTo = null;
    if (this.leaderBallot === null || compareBallot(b, this.leaderBallot) >= 0) {
      this.leaderBallot = b;
      if (b.node !== this.config.self || this.role === 'leader') this.lastLeaderContactUs = this.nowUs;
    }
    if (this.role !== 'follower' && compareBallot(b, this.myBallot) > 0) this.stepDown();
    // Any Accept or Heartbeat ends a follower's quiet; a quiet heartbeat sets it again if agreed.
    if (this.role === 'follower') this.quiet = false;
    if (this.role === 'follower' && ballotEquals(b, this.leaderBallot)) {
      this.electionDeadlineUs = this.nowUs + this.electionTimeout();
    }
  }

  protected stepDown(): void {
    if (this.role === 'leader') this.clearLeaderState();
    this.role = 'follower';
    this.quiet = false;
    this.promisers.clear();
    this.reported.clear();
    this.preVoteBallot = null;
    const backoff = this.config.features.backoff
      ? Math.floor(this.rng.next() * this.config.electionTimeoutUs)
      : 0;
    this.electionDeadlineUs = this.nowUs + this.electionTimeout() + backoff;
  }

  protected clearLeaderState(): void {
    this.inflight.clear();
    this.reproposals = [];
    this.queue = [];
    this.queuedIds.clear();
    this.queuedConfig = null;
    this.configs.clearProposed();
    this.lease.clear();
    this.matchUpTo.clear();
    this.transfer = null;
    this.quietAcks.clear();
    if (this.leaderBallot && this.leaderBallot.node === this.config.self) this.leaderBallot = null;
  }

  // ---------------------------------------------------------------- the Ready

  private advanceClock(nowUs: number): void {
    // Every mutator starts here: what leaseEnd() depends on may change until its finish().
    this.settledLeaseEnd = undefined;
    if (nowUs > this.nowUs) this.nowUs = nowUs;
    this.lease.lapse(this.nowUs);
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
    const leaseEnd = this.leaseEnd();
    this.lease.update(leaseEnd, this.nowUs);
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
    this.checkIndexes();
    this.checkPersistCovers(ready);
    this.checkReleaseAfterLease(ready);
    this.settledLeaseEnd = leaseEnd;
    return ready;
  }

  /**
   * Assertion (e): a replica releases its voters (leaseRelease, timeoutNow) only when it holds
   * no lease and leads no more: a release reaching a voter while its lease still held would
   * let the next leader's lease overlap it.
   */
  private checkReleaseAfterLease(ready: Ready): void {
    if (keepsLeadAfterHandOff(this.config)) return; // the broken variant the simulator must catch
    for (const { msg } of ready.send) {
      if (msg.type !== 'leaseRelease' && msg.type !== 'timeoutNow') continue;
      invariant(this.leaseEnd() === null && this.role !== 'leader', 'a leader releases its voters only after its lease ended', () =>
        `${this.config.self} (${this.role}) sent ${msg.type} at ${formatBallot(msg.ballot)} with lease end ${this.leaseEnd()}`,
      );
    }
  }

  /**
   * Assertions (a) and (b): applied ≤ chosen prefix, and at a leader chosen prefix ≤ next slot;
   * a leader assigns slots only within `window` of the chosen prefix (the slots phase 1
   * re-proposed, below termStartSlot, may reach further: it inherited them).
   */
  private checkIndexes(): void {
    const at = (): string => `at ${this.config.self}: applied ${this.applied}, chosen ${this.chosenPrefix}, next ${this.nextSlot}, term start ${this.termStartSlot}`;
    invariant(this.applied <= this.chosenPrefix && (this.role !== 'leader' || this.chosenPrefix <= this.nextSlot), 'applied ≤ chosen prefix ≤ next slot', at);
    invariant(this.role !== 'leader' || this.nextSlot <= Math.max(this.termStartSlot, this.chosenPrefix + this.config.window), 'a leader assigns slots only within the window', at);
  }

  /**
   * Assertion (d): every Promise or Accepted in `ready` is covered by a persist of it or an earlier
   * Ready: the promise reaches its ballot and, per slot, the accepted entry its ballot. Slots
   * below the compaction point are the exception: they are chosen, and acked without persisting.
   */
  private checkPersistCovers(ready: Ready): void {
    const p = ready.persist;
    if (p?.promised !== undefined && compareBallot(p.promised, this.persistedPromise) > 0) this.persistedPromise = p.promised;
    for (const e of p?.accepted ?? []) this.persistedAccepted.set(e.slot, e.ballot);
    for (const { to, msg } of ready.send) this.checkCovered(to, msg);
    for (const msg of ready.local ?? []) this.checkCovered(this.config.self, msg);
  }

  private checkCovered(to: string, msg: PaxosMessage): void {
    if (msg.type !== 'promise' && msg.type !== 'accepted') return;
    const uncovered = (what: string): string => `${this.config.self} sent ${msg.type} at ${formatBallot(msg.ballot)} to ${to}: ${what}`;
    invariant(compareBallot(msg.ballot, this.persistedPromise) <= 0, 'every promise or accepted sent is covered by a persist', () =>
      uncovered(`promise persisted only up to ${formatBallot(this.persistedPromise)}`),
    );
    if (msg.type !== 'accepted') return;
    for (const slot of msg.slots) {
      if (slot < this.snapshotUpTo()) continue; // chosen and compacted: acked without persisting
      const b = this.persistedAccepted.get(slot);
      invariant(b !== undefined && compareBallot(b, msg.ballot) >= 0, 'every promise or accepted sent is covered by a persist', () =>
        uncovered(`slot ${slot} persisted at ${b === undefined ? 'nothing' : formatBallot(b)}`),
      );
    }
  }
}
