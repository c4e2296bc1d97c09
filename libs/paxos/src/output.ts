import type { Ballot } from './ballot.js';
import type { PaxosMessage } from './messages.js';
import type { AcceptedEntry, Command, Value } from './value.js';

/** State the shell must make durable. Later writes to the same slot supersede earlier ones. */
export interface PersistRequest {
  promised?: Ballot;
  accepted?: AcceptedEntry[];
}

export interface Outbound {
  to: string;
  msg: PaxosMessage;
}

/**
 * One chosen slot to apply to the state machine. Every replica computes the
 * same `commands`/`duplicates` split, so all skip the same retried commands.
 */
export interface ApplyEntry {
  slot: number;
  value: Value;
  /** Commands of this entry applied for the first time, in entry order. */
  commands: Command[];
  /** Ids in this entry already applied by an earlier slot (or earlier in this entry): do not apply again. */
  duplicates: string[];
}

export interface LeadershipChange {
  isLeader: boolean;
  /** The ballot this replica leads with, or the highest leader ballot it knows of. */
  ballot: Ballot;
  leaderHint: string | null;
}

export type ProposalStatus =
  /** Entered the leader's batch queue. */
  | 'queued'
  /** Sent to the known leader in a Forward message; no guarantee it arrives. */
  | 'forwarded'
  /** No leader known here; retry elsewhere (leaderHint if any). */
  | 'not_leader'
  /** Every listed id was already applied: the client can be told it succeeded. */
  | 'already_applied';

export interface ProposalResult {
  ids: string[];
  status: ProposalStatus;
  leaderHint: string | null;
}

/**
 * What one call into the replica asks the shell to do.
 *
 * The shell MUST, in this order:
 *   1. make `persist` durable (fsync'd), and only then
 *   2. send `send` — a Promise or Accepted must never leave before the state it
 *      vouches for is durable (DESIGN §3.2). Outputs must be handled in the order
 *      they were returned: output k's sends also wait for outputs < k to be durable.
 *   3. apply `apply` in order (strict slot order, each slot exactly once per
 *      replica incarnation).
 * If the process dies before step 1 completes, the whole output is lost; that is
 * safe, because nothing of it was observed by anyone.
 */
export interface Ready {
  persist?: PersistRequest;
  send: Outbound[];
  apply: ApplyEntry[];
  leadership?: LeadershipChange;
  proposalResults?: ProposalResult[];
}

/** Durable acceptor state, as persisted from `Ready.persist` and restored on restart. */
export interface DurableState {
  promised: Ballot;
  accepted: AcceptedEntry[] | ReadonlyMap<number, { ballot: Ballot; value: Value }>;
}

/** For a shell that applies durably: the replica resumes after these. */
export interface AppliedState {
  upTo: number;
  commandIds: Iterable<string>;
}

export function isEmptyReady(r: Ready): boolean {
  return (
    r.persist === undefined &&
    r.send.length === 0 &&
    r.apply.length === 0 &&
    r.leadership === undefined &&
    r.proposalResults === undefined
  );
}
