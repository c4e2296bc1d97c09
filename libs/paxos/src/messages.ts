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
  /** The acceptor's accepted entries at slots >= fromSlot. */
  accepted: AcceptedEntry[];
  chosenUpTo: number;
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
}

export interface AcceptedMsg extends Base {
  type: 'accepted';
  ballot: Ballot;
  slots: number[];
}

export interface HeartbeatMsg extends Base {
  type: 'heartbeat';
  ballot: Ballot;
  chosenUpTo: number;
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

export type PaxosMessage =
  | PrepareMsg
  | PromiseMsg
  | NackMsg
  | AcceptMsg
  | AcceptedMsg
  | HeartbeatMsg
  | CatchupRequestMsg
  | CatchupReplyMsg
  | ForwardMsg;

export type PaxosMessageType = PaxosMessage['type'];

export const PAXOS_MESSAGE_TYPES = [
  'prepare',
  'promise',
  'nack',
  'accept',
  'accepted',
  'heartbeat',
  'catchupRequest',
  'catchupReply',
  'forward',
] as const satisfies readonly PaxosMessageType[];

/** Distributes a message type over the union, for constructing messages without group/from. */
export type MessageBody<M extends PaxosMessage = PaxosMessage> = M extends PaxosMessage
  ? Omit<M, 'group' | 'from'>
  : never;
