import { ZERO_BALLOT, ballotEquals, type Ballot } from './ballot.js';
import type { ResolvedConfig } from './config.js';
import type { Membership } from './output.js';
import { NOOP, type Value } from './value.js';

/**
 * The deliberately broken variants (`config.broken`, see BrokenForTesting), one named function
 * each, called at the one point of the protocol they change. Each returns the correct value
 * unless its variant is on, so the protocol reads as the correct protocol.
 */

/** forgetPromiseOnRestart: the promise restored from durable state. */
export function restoredPromise(c: ResolvedConfig, durable: Ballot): Ballot {
  return c.broken.forgetPromiseOnRestart ? ZERO_BALLOT : durable;
}

/** forgetAcceptedBallotsOnRestart: the ballot of an accepted entry restored from durable state. */
export function restoredAcceptedBallot(c: ResolvedConfig, durable: Ballot): Ballot {
  return c.broken.forgetAcceptedBallotsOnRestart === true ? ZERO_BALLOT : durable;
}

/** learnWithoutBallotMatch: whether an entry accepted at `entry` holds what the leader of `leader` proposed. */
export function holdsLeaderValue(c: ResolvedConfig, entry: Ballot, leader: Ballot): boolean {
  return c.broken.learnWithoutBallotMatch === true || ballotEquals(entry, leader);
}

/** ignorePromiseValues: the value phase 1 re-proposes at a slot. */
export function reproposalValue(c: ResolvedConfig, correct: Value): Value {
  return c.broken.ignorePromiseValues === true ? NOOP : correct;
}

/** leaseFromReceipt: the leader-clock time a vote is timed from (the request's send time). */
export function voteTimeUs(c: ResolvedConfig, sentAtUs: number, nowUs: number): number {
  return c.broken.leaseFromReceipt ? nowUs : Math.min(sentAtUs, nowUs);
}

/** leaseIgnoresDrift: whether the leader counts a lease without the clock-drift bound. */
export function leaseIgnoresDrift(c: ResolvedConfig): boolean {
  return c.broken.leaseIgnoresDrift === true;
}

/** acceptorIgnoresLease: acceptors honor no lease votes (nor stickiness, nor a forgotten vote after restart). */
export function ignoresLeaseVotes(c: ResolvedConfig): boolean {
  return c.broken.acceptorIgnoresLease === true;
}

/** readsWithoutLease: the leader serves local reads without a lease (and never checks quorum). */
export function readsWithoutLease(c: ResolvedConfig): boolean {
  return c.broken.readsWithoutLease === true;
}

/** snapshotOffByOne: the index a snapshot taken after applying slot upTo - 1 is recorded at. */
export function snapshotIndex(c: ResolvedConfig, upTo: number, appliedUpTo: number): number {
  return c.broken.snapshotOffByOne ? Math.min(upTo + 1, appliedUpTo) : upTo;
}

/** learnerCountsInQuorum: the members whose acks count toward choosing a slot of `m`. */
export function phase2Counted(c: ResolvedConfig, m: Membership): Membership {
  return c.broken.learnerCountsInQuorum === true ? { ...m, peers: [...m.peers, ...(m.learners ?? [])] } : m;
}

/** transferKeepsLease: whether a leader that sent timeoutNow goes on leading, lease and all. */
export function keepsLeadAfterHandOff(c: ResolvedConfig): boolean {
  return c.broken.transferKeepsLease === true;
}

/** transferSkipsLeaseDrain: whether a leader hands over while the lease it reported still runs. */
export function handsOverUnderLease(c: ResolvedConfig): boolean {
  return c.broken.transferSkipsLeaseDrain === true;
}

/** transferIgnoresSilence: whether a transfer target counts as heard from however long it has been silent. */
export function transferTargetHeard(c: ResolvedConfig, heard: boolean): boolean {
  return c.broken.transferIgnoresSilence === true || heard;
}

/** ownAcceptCountsBeforeDurable: whether the leader's own Accepted is counted inside the call that accepted. */
export function ownAcceptCountsAtOnce(c: ResolvedConfig): boolean {
  return c.broken.ownAcceptCountsBeforeDurable === true;
}

/** quietKeepsLease: the lease end a quiet leader reports instead of letting it lapse (null: none). */
export function quietLeaseEnd(c: ResolvedConfig, nowUs: number, leaseUs: number): number | null {
  return c.broken.quietKeepsLease === true ? nowUs + leaseUs : null;
}

/** quietIgnoresLiveness: whether a quiet follower takes `node` (its leader) for live. */
export function quietLeaderLive(c: ResolvedConfig, live: boolean): boolean {
  return c.broken.quietIgnoresLiveness === true || live;
}
