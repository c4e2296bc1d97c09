// The shapes storage keeps are the Paxos core's own (`@synod/paxos`): a ballot, a value, an
// accepted entry, a persist request, a snapshot and an applied record. Only what storage adds
// on top of them is declared here. (The dependency runs one way: the core knows no storage.)
import type { AcceptedEntry, AppliedRecord, Ballot, Snapshot } from '@synod/paxos';

export type GroupId = string;

/** What a replica needs to restart its acceptor for one group. */
export interface PaxosDurableState {
  /** `null` when this replica never promised anything in this group. */
  promised: Ballot | null;
  /** Ascending by slot. */
  accepted: AcceptedEntry[];
  /** The newest durable snapshot; `accepted` holds only the tail it does not cover (and older leftovers). */
  snapshot?: Snapshot;
}

/** The durable applied state of one group at start-up (`PaxosStore.appliedState()`). */
export interface DurableAppliedState {
  /** Slots below this are applied (0 if never). */
  upTo: number;
  /** The durable snapshot's index, or 0: `records` start here. */
  from: number;
  /** Applied records of slots `from .. upTo - 1`, ascending; contiguous unless written by an older version. */
  records: AppliedRecord[];
  /** The state machine's small header written with the last applied entry (or by a snapshot install). */
  header?: unknown;
  snapshot?: Snapshot;
}

/**
 * A transaction's decided outcome, as the transaction core replicates it (structurally identical
 * to @synod/txn's `TxnOutcome`; declared here so storage does not depend on the core).
 */
export type TxnOutcome = { committed: true; ts: number } | { committed: false; reason: string };

/**
 * An outcome as the table stores it: the outcome and what the core records with it (today the
 * deciding entry's `slot` and the split's max applied timestamp `at` then: @synod/txn's
 * `DecidedOutcome`). Stored and returned whole (a shallow copy), so what comes back from
 * `Storage.outcomes()` is what went in.
 */
export type StoredOutcome = TxnOutcome & Partial<{ slot: number; at: number }>;

/** Changes to a group's durable outcome table written with one applied entry. */
export interface OutcomeChanges {
  /** Outcomes decided by the entry, in decision order. */
  put: ReadonlyArray<readonly [string, StoredOutcome]>;
  /** Outcomes dropped from the table (retention), applied after `put`. */
  forget: readonly string[];
}
