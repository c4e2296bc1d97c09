// Local copies of the shapes the Paxos replica (libs/paxos) hands to its shell.
// They are structurally identical on purpose: storage must not depend on paxos,
// and TypeScript's structural typing lets the shell pass one for the other.

export type GroupId = string;

/** Ordered lexicographically: round first, then node id. */
export interface Ballot {
  round: number;
  node: string;
}

export type Value =
  | { kind: 'noop' }
  | { kind: 'batch'; cmds: Array<{ id: string; payload: unknown }> }
  | { kind: 'config'; peers: string[]; q1: number; q2: number };

/** A replica's snapshot: the state after every slot below `upTo`; the rest is opaque here. */
export interface SnapshotRecord {
  upTo: number;
  [field: string]: unknown;
}

export interface AcceptedEntry {
  slot: number;
  ballot: Ballot;
  value: Value;
}

/** The `persist` output of one replica step: must be durable before its messages are sent. */
export interface PaxosPersist {
  promised?: Ballot;
  accepted?: AcceptedEntry[];
  /** Replaces the group's snapshot; written before `accepted` in the same transaction. */
  snapshot?: SnapshotRecord;
  /** Deletes accepted entries below this slot, after the rest of the write (compaction). */
  truncateBelow?: number;
}

/** What a replica needs to restart its acceptor for one group. */
export interface PaxosDurableState {
  /** `null` when this replica never promised anything in this group. */
  promised: Ballot | null;
  /** Ascending by slot. */
  accepted: AcceptedEntry[];
  /** Reserved for reconfiguration, applied index and compaction (later issues); absent until written. */
  config?: unknown;
  applied?: number;
  snapshotIndex?: number;
  /** The newest durable snapshot; `accepted` holds only the tail it does not cover (and older leftovers). */
  snapshot?: SnapshotRecord;
}

/**
 * What a durable applier records with each applied entry, in the same write as its effects
 * (paxos `AppliedRecord`): the command ids it applied and, for a configuration entry, the
 * configuration. With them a restarted replica resumes at the applied index.
 */
export interface AppliedRecord {
  slot: number;
  commandIds: string[];
  config?: { kind: 'config'; peers: string[]; q1: number; q2: number };
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
  snapshot?: SnapshotRecord;
}
