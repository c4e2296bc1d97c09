export { compareBallot, ballotEquals, maxBallot, formatBallot, ZERO_BALLOT, type Ballot } from './ballot.js';
export {
  NOOP,
  valuesEqual,
  canonicalJson,
  type Command,
  type Value,
  type AcceptedEntry,
  type SlotValue,
} from './value.js';
export {
  PAXOS_MESSAGE_TYPES,
  type PaxosMessage,
  type PaxosMessageType,
  type MessageBody,
  type PrepareMsg,
  type PromiseMsg,
  type NackMsg,
  type AcceptMsg,
  type AcceptedMsg,
  type HeartbeatMsg,
  type CatchupRequestMsg,
  type CatchupReplyMsg,
  type ForwardMsg,
} from './messages.js';
export {
  resolveConfig,
  majority,
  DEFAULT_WINDOW,
  DEFAULT_MAX_BATCH,
  DEFAULT_MAX_ENTRIES_PER_MESSAGE,
  type ReplicaConfig,
  type ResolvedConfig,
  type LivenessFeatures,
  type BrokenForTesting,
} from './config.js';
export {
  isEmptyReady,
  type Ready,
  type PersistRequest,
  type Outbound,
  type ApplyEntry,
  type LeadershipChange,
  type ProposalResult,
  type ProposalStatus,
  type DurableState,
  type AppliedState,
} from './output.js';
export { InvariantViolation, invariant } from './invariant.js';
export type { Rng } from './rng.js';
export { Replica, type Role } from './replica.js';
