import { MAX_BALLOT_ROUND } from '@synod/limits';
import { ballotEquals, compareBallot } from './ballot.js';
import { Learner } from './learner.js';
import { membershipFromValue } from './membership.js';
import type { PreVoteReplyMsg, PromiseMsg, TimeoutNowMsg } from './messages.js';
import type { Membership } from './output.js';
import { hasQuorumInAll } from './quorum.js';

/**
 * Phase 1, the proposer's campaign: an optional pre-vote (would a phase-1 quorum follow?), then
 * Prepare at a fresh ballot to every member of a configuration governing an unchosen slot, and
 * the promises gathered (in parts, for long accepted suffixes) until a q1 quorum of each
 * configuration — including those the promises report — has promised.
 */
export abstract class Campaign extends Learner {
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
  protected startPreVote(): void {
    const round = this.nextRound();
    if (round === null) return;
    this.preVoteBallot = { round, node: this.config.self };
    this.preVotes.clear();
    this.electionDeadlineUs = this.nowUs + this.electionTimeout();
    for (const p of [this.config.self, ...this.activePeers()]) this.send(p, { type: 'preVote', ballot: this.preVoteBallot });
  }

  protected onPreVoteReply(m: PreVoteReplyMsg): void {
    this.observeRound(m.promised.round);
    if (this.role !== 'follower' || this.preVoteBallot === null || !ballotEquals(m.ballot, this.preVoteBallot) || !m.granted) return;
    this.preVotes.add(m.from);
    if (hasQuorumInAll(this.preVotes, this.configs.governing(this.chosenPrefix), 'q1')) this.startElection();
  }

  /**
   * The leader we follow handed leadership to us: campaign at once, without pre-vote (the
   * leader released its lease and its voters' stickiness, so a phase-1 quorum can answer now).
   */
  protected onTimeoutNow(m: TimeoutNowMsg): void {
    if (m.from !== m.ballot.node) return;
    this.releaseBallot(m.ballot);
    const following = this.leaderBallot !== null && ballotEquals(this.leaderBallot, m.ballot);
    if (this.role === 'follower' && following && this.activePeers().includes(this.config.self)) this.startElection();
  }

  protected startElection(): void {
    const round = this.nextRound();
    if (round === null) return;
    this.maxRoundSeen = round;
    this.preVoteBallot = null;
    this.handedOffTo = null;
    this.quiet = false;
    if (this.role === 'leader') this.clearLeaderState();
    this.role = 'candidate';
    this.myBallot = { round, node: this.config.self };
    this.promisers.clear();
    this.promiseParts.clear();
    this.reported.clear();
    this.prepared.clear();
    this.prepareFromSlot = this.chosenPrefix;
    // If phase 1 stalls (lost messages, ignored by sticky acceptors) try again later.
    this.electionDeadlineUs = this.nowUs + this.electionTimeout();
    this.prepareTo([this.config.self, ...this.activePeers()]);
  }

  /** Leadership ended: forget everything only a leader keeps. */
  protected abstract clearLeaderState(): void;

  private prepareTo(peers: Iterable<string>): void {
    for (const p of peers) {
      if (this.prepared.has(p)) continue;
      this.prepared.add(p);
      this.send(p, { type: 'prepare', ballot: this.myBallot, fromSlot: this.prepareFromSlot });
    }
  }

  protected onPromise(m: PromiseMsg): void {
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
    // Parts arrive in order, one per request: a duplicated or stale part would ask again and
    // multiply the rest of the exchange, so only the part expected next from each acceptor counts.
    if (m.fromSlot !== (this.promiseParts.get(m.from) ?? this.prepareFromSlot)) return;
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
        this.promiseParts.set(m.from, m.continueFrom);
        this.electionDeadlineUs = this.nowUs + this.electionTimeout();
        this.send(m.from, { type: 'prepare', ballot: this.myBallot, fromSlot: m.continueFrom });
      }
      return;
    }
    this.promisers.add(m.from);
    // Configurations reported in the promises may govern slots past what we know: their
    // members must promise too (and are asked to).
    const reported: Membership[] = [];
    for (const [slot, e] of this.reported) {
      const v = this.chosen.get(slot) ?? e.value;
      if (v.kind === 'config') reported.push(membershipFromValue(slot, v, this.config.window));
    }
    const needed = this.configs.governing(this.prepareFromSlot, reported);
    for (const c of needed) this.prepareTo(c.peers);
    if (hasQuorumInAll(this.promisers, needed, 'q1')) this.becomeLeader(this.reported);
  }
}
