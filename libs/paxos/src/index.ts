export { compareBallot, ballotEquals, maxBallot, formatBallot, ZERO_BALLOT, type Ballot } from './ballot.js';
export {
  NOOP,
  valuesEqual,
  canonicalJson,
  type Command,
  type Value,
  type ConfigValue,
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
  type HeartbeatAckMsg,
  type CatchupRequestMsg,
  type CatchupReplyMsg,
  type ForwardMsg,
  type SnapshotChunkMsg,
  type SnapshotRequestMsg,
} from './messages.js';
export {
  resolveConfig,
  validateMembership,
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
  appliedRecordOf,
  JSON_SNAPSHOT_TRANSFER,
  type Ready,
  type PersistRequest,
  type Outbound,
  type ApplyEntry,
  type LeadershipChange,
  type ProposalResult,
  type ProposalStatus,
  type DurableState,
  type AppliedState,
  type AppliedRecord,
  type SnapshotTransfer,
  type Membership,
  type Snapshot,
} from './output.js';
export { Dedupe, MAX_ABOVE, type DedupeState } from './dedupe.js';
export { InvariantViolation, invariant } from './invariant.js';
export type { Rng } from './rng.js';
export { Replica, type Role, type LeaseInterval, type ReconfigureStatus } from './replica.js';
export { ReadyPipeline, type ReadyEffects, type ReadyPipelineOptions } from './ready-pipeline.js';
export { fitInBudget, chunkByBudget } from './budget.js';
export { MESSAGE_FRAME_BYTES } from './config.js';
