// The package's public names: each has a user outside libs/paxos (the shell, storage, the
// simulator, the services; resolveConfig and Dedupe for the spanserver's split log, on its
// branch). Internal modules import each other directly.
export { compareBallot, formatBallot, ZERO_BALLOT, type Ballot } from './ballot.js';
export { canonicalJson, type Command, type Value, type AcceptedEntry } from './value.js';
export { type PaxosMessage, type MessageBody } from './messages.js';
export { resolveConfig, majority, validateMembership, validateLearners, MAX_LEARNERS, DEFAULT_WINDOW, type ReplicaConfig, type LivenessFeatures, type BrokenForTesting } from './config.js';
export {
  appliedRecordOf,
  type Ready,
  type PersistRequest,
  type ApplyEntry,
  type DurableState,
  type AppliedState,
  type AppliedRecord,
  type SnapshotTransfer,
  type Membership,
  type Snapshot,
  type PeerProgress,
  type ReconfigureStatus,
  type TransferStatus,
} from './output.js';
export { Dedupe } from './dedupe.js';
export { InvariantViolation, invariant } from './invariant.js';
export type { Rng } from './rng.js';
export type { PeerLiveness } from './liveness.js';
export { Replica } from './replica.js';
export { ReadyPipeline } from './ready-pipeline.js';
