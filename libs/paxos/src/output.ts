import type { Ballot } from './ballot.js';
import type { PaxosMessage } from './messages.js';
import type { DedupeState } from './dedupe.js';
import type { AcceptedEntry, Command, ConfigValue, Value } from './value.js';

/** One configuration of the group: governs slots from `fromSlot` until the next one's. */
export interface Membership {
  /** First slot it governs (a config value chosen at slot i governs from i + window). */
  fromSlot: number;
  /** The voting members. */
  peers: string[];
  /** Phase-1 quorum size (promises, pre-votes). */
  q1: number;
  /** Phase-2 quorum size (accepts, lease votes, check-quorum); q1 + q2 > peers.length. */
  q2: number;
  /** Non-voting learners (absent: none; snapshots from before learners existed have none). */
  learners?: string[];
}

/**
 * A snapshot: the state after applying every slot below `upTo`. `data` is the
 * shell's state machine (opaque to the replica); `dedupe` and `configs` are
 * the replica's own applied state at the same index.
 */
export interface Snapshot {
  upTo: number;
  data: unknown;
  dedupe: DedupeState;
  configs: Membership[];
}

/**
 * State the shell must make durable. Later writes to the same slot supersede earlier ones.
 * Order within one request: `snapshot` (replacing any older one), then `accepted`, then
 * delete accepted entries below `truncateBelow`. `truncateBelow` only ever comes with or
 * after the durable snapshot at that index, so a crash in between is harmless.
 */
export interface PersistRequest {
  promised?: Ballot;
  accepted?: AcceptedEntry[];
  snapshot?: Snapshot;
  truncateBelow?: number;
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
  /**
   * This replica's durable accepted log holds the chosen value at this slot (it accepted it, in
   * this or an earlier Ready). Any later accept at the slot carries the same value, so a replica
   * resumed at its applied index can still answer catch-up for the slot from its log.
   */
  logHolds?: true;
  /**
   * Set on the entry after which the replica wants a snapshot: once this entry
   * is applied, the shell captures its state machine and calls
   * `replica.snapshotTaken(slot + 1, data, nowUs)`.
   */
  takeSnapshot?: boolean;
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
  | 'already_applied'
  /** Over the replica's maxCommandBytes: never replicated (the API limits keep clients below it). */
  | 'too_large';

export type ReconfigureStatus = 'queued' | 'not_leader' | 'busy' | 'behind';

export type TransferStatus =
  /** The leader stopped assigning slots and waits for the target to catch up. */
  | 'started'
  /** Not the leader (ask the hint). */
  | 'not_leader'
  /** The target is not a voter of the configuration governing the next slot. */
  | 'not_voter'
  /** The target is this replica, which leads already. */
  | 'already_leader'
  /** A transfer is already under way. */
  | 'busy'
  /**
   * The target was not heard from within an election timeout: handing over to a node this
   * leader cannot reach would stall the group until the transfer gives up.
   */
  | 'unreachable';

/** The leader's view of one replica's progress (docs/paxos.md "Learners and leader transfer"). */
export interface PeerProgress {
  node: string;
  /** Whether it votes in the configuration governing the next slot (false: a learner). */
  voter: boolean;
  /** Exclusive: it holds every slot below (accepted at this leader's ballot, or known chosen). */
  matchSlot: number;
}

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
 *      (`sendEarly` is the one exception, see there; `local` goes back to `step`
 *      when `send` goes out.)
 *   3. apply `apply` in order (strict slot order, each slot exactly once per
 *      replica incarnation).
 * If the process dies before step 1 completes, the whole output is lost; that is
 * safe, because nothing of it was observed by anyone.
 */
export interface Ready {
  persist?: PersistRequest;
  send: Outbound[];
  /**
   * A leader's Accepts. They vouch for nothing durable at the leader (its own accept counts
   * toward a quorum only once durable, through `local`, and the chosen prefix they carry counts
   * only durable votes), so the shell may send them before this Ready's persist and before
   * earlier Readies are released: the leader's fsync then overlaps the followers' (docs/paxos.md,
   * "Accepts before the leader's fsync"). Not while a persisted promise is pending: an Accept at
   * a ballot needs that ballot's promise on disk. `ReadyPipeline` applies both rules.
   */
  sendEarly?: Outbound[];
  /**
   * Messages this replica sent to itself that vouch for this Ready's persist (the leader's own
   * Accepted): the shell hands them back to the replica (`step`) once the Ready is released.
   */
  local?: PaxosMessage[];
  apply: ApplyEntry[];
  leadership?: LeadershipChange;
  proposalResults?: ProposalResult[];
  /**
   * A snapshot received from a peer: before applying `apply`, the shell replaces its
   * state machine with `data` (the state after every slot below `upTo`). The
   * snapshot itself comes in `persist.snapshot` of the same Ready.
   */
  installSnapshot?: { upTo: number; data: unknown };
  /**
   * Answers `reconfigure`: queued at the leader, not the leader (retry at the hint), a change or
   * a leader transfer already in flight, or a learner to promote is not caught up (retry later).
   */
  reconfigureResult?: { status: ReconfigureStatus; leaderHint: string | null };
  /** Answers `transferLeadership` (see TransferStatus). */
  transferResult?: { status: TransferStatus; leaderHint: string | null };
}

/** Durable acceptor state, as persisted from `Ready.persist` and restored on restart. */
export interface DurableState {
  promised: Ballot;
  accepted: AcceptedEntry[] | ReadonlyMap<number, { ballot: Ballot; value: Value }>;
  /** The latest durable snapshot: the replica resumes applying at `snapshot.upTo`; the shell restores its state machine from `snapshot.data`. */
  snapshot?: Snapshot | undefined;
}

/**
 * What a shell that applies durably records with each applied entry (in the same write as the
 * entry's effects), so that after a restart the replica resumes at the applied index and
 * re-applies nothing: the command ids the entry applied (the dedupe state) and, for a
 * configuration entry, the configuration. It also keeps the chosen value servable: a replica
 * resumed at its applied index answers a follower's catch-up below it (without snapshots, the
 * only way such a follower catches up), from its log where the log held the chosen value, from
 * the record otherwise.
 */
export interface AppliedRecord {
  slot: number;
  commandIds: string[];
  config?: ConfigValue;
  /** See `ApplyEntry.logHolds`: after a restart the replica knows its log entry at this slot chosen. */
  logHolds?: true;
  /** The chosen value, when the log did not hold it (learned by catch-up): kept so it can be served on. */
  value?: Value;
}

/** The record to persist for `entry`. */
export function appliedRecordOf(entry: ApplyEntry): AppliedRecord {
  const r: AppliedRecord = { slot: entry.slot, commandIds: entry.commands.map((c) => c.id) };
  if (entry.value.kind === 'config') r.config = entry.value;
  if (entry.logHolds) r.logHolds = true;
  else r.value = entry.value;
  return r;
}

/**
 * The durable applied state at start-up: slots below `upTo` are applied; `records` are the
 * AppliedRecords of the slots from the durable snapshot's `upTo` (or 0) to `upTo`, every one.
 */
export interface AppliedState {
  upTo: number;
  records: Iterable<AppliedRecord>;
}

/**
 * How a snapshot travels to a peer that fell behind the compaction point. The default sends
 * JSON of the Snapshot. A shell whose state lives outside the snapshot's `data` (the
 * spanserver's MVCC keyspace) supplies its own: `encode` adds that state, `decode` turns the
 * text back into the Snapshot whose `data` the receiving shell's restore() installs.
 */
export interface SnapshotTransfer {
  encode(snap: Snapshot): string;
  decode(text: string): Snapshot;
}

export const JSON_SNAPSHOT_TRANSFER: SnapshotTransfer = {
  encode: (snap) => JSON.stringify(snap),
  decode: (text) => JSON.parse(text) as Snapshot,
};
