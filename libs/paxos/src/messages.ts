import type { Ballot } from './ballot.js';
import type { AcceptedEntry, Command, SlotValue } from './value.js';

/**
 * Wire messages between replicas of one group. Plain JSON-able objects only
 * (they get zod schemas in libs/codec). Slot bounds named `...UpTo` are
 * exclusive: `chosenUpTo = 5` means slots 0..4 are chosen.
 */
interface Base {
  group: string;
  from: string;
}

export interface PrepareMsg extends Base {
  type: 'prepare';
  ballot: Ballot;
  fromSlot: number;
}

export interface PromiseMsg extends Base {
  type: 'promise';
  ballot: Ballot;
  fromSlot: number;
  /** The acceptor's accepted entries at slots >= fromSlot, ascending, cut to the byte budget. */
  accepted: AcceptedEntry[];
  /**
   * Set when `accepted` was cut: the first slot not reported. The candidate asks again with
   * Prepare(same ballot, fromSlot = continueFrom); the acceptor counts toward the quorum once
   * its report is complete.
   */
  continueFrom?: number;
  chosenUpTo: number;
  /**
   * The acceptor's log is compacted below this slot (0 if never). If it is
   * above the Prepare's fromSlot the candidate is behind: it must fetch the
   * snapshot before it can lead.
   */
  snapshotUpTo: number;
}

/** Would you follow me at `ballot`? Changes nothing at the receiver (pre-vote). */
export interface PreVoteMsg extends Base {
  type: 'preVote';
  ballot: Ballot;
}

export interface PreVoteReplyMsg extends Base {
  type: 'preVoteReply';
  ballot: Ballot;
  granted: boolean;
  /** The replier's promised ballot: the campaign that follows uses a higher round. */
  promised: Ballot;
}

export interface NackMsg extends Base {
  type: 'nack';
  /** The ballot that was refused. */
  ballot: Ballot;
  /** What the acceptor has promised, so the proposer can jump ahead. */
  promised: Ballot;
}

export interface AcceptMsg extends Base {
  type: 'accept';
  ballot: Ballot;
  entries: SlotValue[];
  chosenUpTo: number;
  /** The leader's clock when it sent this: a lease vote in the reply counts from here. */
  sentAtUs: number;
}

export interface AcceptedMsg extends Base {
  type: 'accepted';
  ballot: Ballot;
  slots: number[];
  /** Echo of the Accept's sentAtUs: the acceptor also grants a lease vote for `ballot`. */
  sentAtUs: number;
}

export interface HeartbeatMsg extends Base {
  type: 'heartbeat';
  ballot: Ballot;
  chosenUpTo: number;
  /** The leader's clock when it sent this (lease timing). */
  sentAtUs: number;
  /** The leader asks to go quiet (docs/paxos.md, "Quiescent groups"); absent means false. */
  quiet?: boolean;
}

/** Reply to a heartbeat: a lease vote for `ballot` counted from the echoed sentAtUs. */
export interface HeartbeatAckMsg extends Base {
  type: 'heartbeatAck';
  ballot: Ballot;
  sentAtUs: number;
  chosenUpTo: number;
  /** The follower agrees to go quiet: it was asked, and saw no activity of its own for quiesceAfterUs. */
  quiet?: boolean;
}

/**
 * A quiet follower asks the leader of `ballot` to wake (a client needs fresh closed timestamps or
 * the lease there): the leader resumes heartbeats. Changes no acceptor state.
 */
export interface WakeMsg extends Base {
  type: 'wake';
  ballot: Ballot;
}

export interface CatchupRequestMsg extends Base {
  type: 'catchupRequest';
  fromSlot: number;
  toSlot: number;
}

export interface CatchupReplyMsg extends Base {
  type: 'catchupReply';
  /** Chosen entries only. */
  entries: SlotValue[];
  chosenUpTo: number;
}

export interface ForwardMsg extends Base {
  type: 'forward';
  cmds: Command[];
}

/**
 * One piece of a snapshot transfer to a replica behind the sender's
 * compaction point: `data` is chunk `chunk` of `chunks` of the JSON text of
 * the sender's snapshot at `upTo`.
 */
export interface SnapshotChunkMsg extends Base {
  type: 'snapshotChunk';
  upTo: number;
  chunk: number;
  chunks: number;
  data: string;
}

/** Asks for chunk `chunk` of the snapshot at `upTo` (pull-based, resumable). */
export interface SnapshotRequestMsg extends Base {
  type: 'snapshotRequest';
  upTo: number;
  chunk: number;
}

/**
 * Leader transfer: the leader at `ballot`, which has stopped leading, asks the replica it hands
 * over to to campaign at once (no pre-vote). Valid only from `ballot.node` itself, to a replica
 * following that ballot; it also releases the receiver's lease vote for `ballot`.
 */
export interface TimeoutNowMsg extends Base {
  type: 'timeoutNow';
  ballot: Ballot;
}

/**
 * Leader transfer: the leader at `ballot` has given up its lease and stopped leading; the
 * receiver drops its lease vote for `ballot` and its stickiness to it, and ignores that ballot
 * from then on. Valid only from `ballot.node` itself.
 */
export interface LeaseReleaseMsg extends Base {
  type: 'leaseRelease';
  ballot: Ballot;
}

export type PaxosMessage =
  | PrepareMsg
  | PromiseMsg
  | PreVoteMsg
  | PreVoteReplyMsg
  | NackMsg
  | AcceptMsg
  | AcceptedMsg
  | HeartbeatMsg
  | HeartbeatAckMsg
  | CatchupRequestMsg
  | CatchupReplyMsg
  | ForwardMsg
  | SnapshotChunkMsg
  | SnapshotRequestMsg
  | TimeoutNowMsg
  | LeaseReleaseMsg
  | WakeMsg;

/** Distributes a message type over the union, for constructing messages without group/from. */
export type MessageBody<M extends PaxosMessage = PaxosMessage> = M extends PaxosMessage
  ? Omit<M, 'group' | 'from'>
  : never;
