import { ballotEquals, compareBallot, formatBallot, type Ballot } from './ballot.js';
import { ignoresLeaseVotes } from './broken.js';
import { acceptedEntryBytes, fitInBudget } from './budget.js';
import { invariant } from './invariant.js';
import type { AcceptMsg, HeartbeatMsg, LeaseReleaseMsg, PrepareMsg, PreVoteMsg } from './messages.js';
import { ReplicaState } from './replica-state.js';
import type { AcceptedEntry, Value } from './value.js';

/**
 * The acceptor: answers Prepare with a Promise (and the accepted suffix), Accept with Accepted,
 * Heartbeat with an ack, and every Accept or Heartbeat it admits is a lease vote. Its state is
 * durable: a promise or accepted entry goes into the Ready's persist before the reply is sent.
 */
export abstract class Acceptor extends ReplicaState {
  /** A vote for another ballot (or a possibly forgotten one, after restart) forbids promising or accepting. */
  protected mayVoteFor(b: Ballot): boolean {
    return ignoresLeaseVotes(this.config) || this.vote.mayVoteFor(b, this.nowUs);
  }

  protected grantVote(b: Ballot): void {
    this.vote.grant(b, this.nowUs, this.config.leaseDurationUs);
  }

  protected onPrepare(m: PrepareMsg): void {
    this.observeRound(m.ballot.round);
    const fromSelf = m.from === this.config.self;
    // A Nack promises nothing: lower ballots hear about our promise even while we wait out votes.
    if (compareBallot(m.ballot, this.promised) < 0) {
      this.send(m.from, { type: 'nack', ballot: m.ballot, promised: this.promised });
      return;
    }
    if (!this.mayVoteFor(m.ballot)) return;
    // Leader stickiness: a replica that merely lost touch must not depose a
    // leader the rest of us still hear from (dueling proposers).
    if (
      !fromSelf &&
      compareBallot(m.ballot, this.promised) !== 0 && // a continuation of a promise already given
      this.config.features.leaderStickiness &&
      !ignoresLeaseVotes(this.config) &&
      this.leaderIsLive() &&
      m.from !== this.leaderHint()
    ) {
      return;
    }
    this.setPromised(m.ballot);
    // Promised a campaign: whatever this replica followed quietly is over.
    if (!fromSelf) this.quiet = false;
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
   * Grants only while no live leader is heard here and no lease vote forbids it: a replica that
   * merely lost touch gets no quorum and keeps its ballot. Changes nothing here.
   */
  protected onPreVote(m: PreVoteMsg): void {
    const leaderHeard = this.leaderIsLive() && m.from !== this.leaderHint() && m.from !== this.config.self;
    const granted = this.mayVoteFor(m.ballot) && !leaderHeard;
    // The round is not judged here: the reply carries our promise, so the campaign that follows
    // picks a round above it.
    this.send(m.from, { type: 'preVoteReply', ballot: m.ballot, granted, promised: this.promised });
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
    if (!this.mayVoteFor(m.ballot)) return false;
    // A leader that handed over released this ballot: a message of it still on the way must not
    // renew a vote or stickiness that would keep its successor's Prepare out. Ignoring is safe.
    if (this.releasedBallot !== null && ballotEquals(m.ballot, this.releasedBallot)) return false;
    this.setPromised(m.ballot);
    this.noteLeader(m.ballot);
    return true;
  }

  /** A leader released its lease (docs/paxos.md "Learners and leader transfer"): only the leader itself may. */
  protected onLeaseRelease(m: LeaseReleaseMsg): void {
    if (m.from !== m.ballot.node) return;
    this.releaseBallot(m.ballot);
  }

  /**
   * Forgets the lease vote for `b` and the stickiness to its leader. Safe because that leader
   * ended its own lease before it sent the release, and will never lead at `b` again.
   */
  protected releaseBallot(b: Ballot): void {
    this.vote.release(b);
    if (this.releasedBallot === null || compareBallot(b, this.releasedBallot) > 0) this.releasedBallot = b;
    if (this.leaderBallot !== null && ballotEquals(this.leaderBallot, b)) this.lastLeaderContactUs = Number.NEGATIVE_INFINITY;
  }

  protected onAccept(m: AcceptMsg): void {
    if (!this.admitLeaderMessage(m)) return;
    const slots: number[] = [];
    const compacted = this.snapshotUpTo();
    for (const e of m.entries) {
      slots.push(e.slot);
      // Below the snapshot the slot is chosen, and any later proposal carries the chosen value:
      // acknowledged without persisting (assertion (d) exempts it explicitly).
      if (e.slot < compacted) continue;
      this.accept(e.slot, m.ballot, e.value);
    }
    this.grantVote(m.ballot);
    this.send(m.from, { type: 'accepted', ballot: m.ballot, slots, sentAtUs: m.sentAtUs });
    this.learnFromLeader(m.ballot, m.chosenUpTo, m.from);
  }

  protected onHeartbeat(m: HeartbeatMsg): void {
    // Votes follow a durable promise (the ack waits for it), so that a replica with empty
    // durable state provably never voted, and a restarted one knows which vote it may have forgotten.
    if (!this.admitLeaderMessage(m)) return;
    this.grantVote(m.ballot);
    // Quiet only by consent (docs/paxos.md, "Quiescent groups"): a follower that served its own
    // clients lately, or has not caught up with the leader, keeps the heartbeats coming.
    const quiet = m.quiet === true && this.role === 'follower' && this.agreesToQuiet(m.chosenUpTo);
    this.quiet = quiet;
    this.send(m.from, { type: 'heartbeatAck', ballot: m.ballot, sentAtUs: m.sentAtUs, chosenUpTo: this.chosenPrefix, ...(quiet ? { quiet: true } : {}) });
    this.learnFromLeader(m.ballot, m.chosenUpTo, m.from);
  }

  /** A follower asked to go quiet agrees if it saw no activity for quiesceAfterUs and holds the leader's chosen prefix. */
  private agreesToQuiet(leaderChosenUpTo: number): boolean {
    const c = this.config.quiesceAfterUs;
    return c > 0 && this.liveness !== null && this.nowUs - this.lastActivityUs >= c && this.chosenPrefix >= leaderChosenUpTo && this.applied >= this.chosenPrefix;
  }

  /** Accepts `value` at `slot` for `ballot`: into the log and into this Ready's persist. */
  protected accept(slot: number, ballot: Ballot, value: Value): void {
    this.log.set(slot, { ballot, value });
    this.persistAccepted.set(slot, { slot, ballot, value });
  }

  protected setPromised(b: Ballot): void {
    const cmp = compareBallot(b, this.promised);
    invariant(cmp >= 0, 'promised ballot never decreases', () =>
      `${formatBallot(this.promised)} -> ${formatBallot(b)} at ${this.config.self}`,
    );
    if (cmp > 0) {
      this.promised = b;
      this.out.persist = { ...this.out.persist, promised: b };
    }
  }
}
