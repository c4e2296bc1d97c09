import { ballotEquals, type Ballot } from './ballot.js';
import type { Membership } from './output.js';
import { quorumTime, quorumTimeInAll } from './quorum.js';

export interface LeaseInterval {
  /** Local clock: when the current unbroken lease began. */
  startUs: number;
  /** Local clock: the lease is valid strictly before this. */
  endUs: number;
}

/**
 * Acceptor side of a leader lease (Spanner §4.1): each Accept or Heartbeat this acceptor acks
 * is a vote for the sender's ballot lasting `leaseDurationUs` on its own clock. While it lasts
 * the acceptor promises nothing to another node's ballot.
 */
export class LeaseVote {
  /** The ballot voted for last, or null if none since start. */
  private ballot: Ballot | null = null;
  /** Own clock: the vote binds strictly before this. */
  private untilUs = Number.NEGATIVE_INFINITY;

  /** Whether this acceptor may promise or accept `b` at `nowUs`: no live vote for another node. */
  mayVoteFor(b: Ballot, nowUs: number): boolean {
    // A newer ballot of the node we voted for is fine: a node drops its lease whenever it
    // campaigns again (and loses it when it restarts), so it never holds two.
    return this.ballot === null || nowUs >= this.untilUs || this.ballot.node === b.node;
  }

  grant(b: Ballot, nowUs: number, durationUs: number): void {
    this.ballot = b;
    this.untilUs = nowUs + durationUs;
  }

  /** The leader of `b` gave its lease up (leader transfer): a vote for exactly `b` binds no more. */
  release(b: Ballot): void {
    if (this.ballot !== null && ballotEquals(this.ballot, b)) this.untilUs = Number.NEGATIVE_INFINITY;
  }
}

/**
 * Leader side of a lease and check-quorum: per voter, the send time of the latest request it
 * voted on, and when it was last heard from. The lease ends `leaseUs` after the newest instant
 * by which a phase-2 quorum had voted (`quorumTime`), so it ends before any of their votes does.
 */
export class LeaderLease {
  /** Per voter: the leader-clock send time of the latest request it voted on. */
  private readonly votesUs = new Map<string, number>();
  /** Per voter: the leader-clock time its latest ack arrived (check-quorum). */
  private readonly heardUs = new Map<string, number>();
  /** Local clock: start of the current unbroken lease, or null when none holds. */
  private startUs: number | null = null;
  /** Local clock: end of the current lease as last computed, or null when none holds. */
  private endUs: number | null = null;

  /** Forgets everything: leadership began or ended. */
  clear(): void {
    this.votesUs.clear();
    this.heardUs.clear();
    this.startUs = null;
    this.endUs = null;
  }

  /** Counts `peer` as heard at `nowUs` (a new leader starts by crediting every peer). */
  hear(peer: string, nowUs: number): void {
    this.heardUs.set(peer, nowUs);
  }

  /** When `peer` was last heard from (leader clock), or undefined if never since leadership began. */
  heardAt(peer: string): number | undefined {
    return this.heardUs.get(peer);
  }

  /** `voter` acked, at `nowUs`, a request whose vote is timed from `voteAtUs`. */
  recordVote(voter: string, voteAtUs: number, nowUs: number): void {
    this.heardUs.set(voter, nowUs);
    const prev = this.votesUs.get(voter);
    if (prev === undefined || voteAtUs > prev) this.votesUs.set(voter, voteAtUs);
  }

  /** When the lease a q2 quorum of every one of `configs` voted for ends, or null without one. */
  end(configs: readonly Membership[], leaseUs: number): number | null {
    const t = quorumTimeInAll(this.votesUs, configs, 'q2');
    return t === null ? null : t + leaseUs;
  }

  /** Check-quorum: has a q2 quorum of `config` (counting `self` as heard now) been heard within `timeoutUs`? */
  quorumHeard(config: Membership, self: string, nowUs: number, timeoutUs: number): boolean {
    return nowUs < this.quorumHeardUntil(config, self, nowUs, timeoutUs);
  }

  /** Until when (exclusive) `quorumHeard` holds if nobody more is heard from: -Infinity when it does not hold now. */
  quorumHeardUntil(config: Membership, self: string, nowUs: number, timeoutUs: number): number {
    const heard = new Map(this.heardUs);
    if (config.peers.includes(self)) heard.set(self, nowUs);
    const t = quorumTime(heard, config, 'q2');
    return t === null ? Number.NEGATIVE_INFINITY : t + timeoutUs;
  }

  /** The clock moved to `nowUs`: a lease that lapsed since ends the unbroken interval. */
  lapse(nowUs: number): void {
    if (this.endUs !== null && nowUs >= this.endUs) {
      this.startUs = null;
      this.endUs = null;
    }
  }

  /** Records the lease end computed at `nowUs` (or null): extends the unbroken interval or ends it. */
  update(endUs: number | null, nowUs: number): void {
    if (endUs !== null && nowUs < endUs) {
      this.startUs ??= nowUs;
      this.endUs = endUs;
    } else {
      this.startUs = null;
      this.endUs = null;
    }
  }

  /** The unbroken interval [start, endUs) at `nowUs`, given the current lease end; null if none. */
  interval(nowUs: number, endUs: number): LeaseInterval | null {
    if (this.startUs === null || nowUs < this.startUs) return null;
    return { startUs: this.startUs, endUs };
  }
}
