export {
  PPM,
  advance,
  around,
  commitWaitRemainingUs,
  contains,
  epsilonOf,
  gapBetween,
  intersect,
  isAfter,
  isBefore,
  midpointOf,
  overlaps,
  sampleInterval,
  trueElapsedBounds,
  type Sample,
  type TTInterval,
} from './interval.js';
export { marzullo, bestCoveredSegment, type MarzulloResult, type SourceInterval } from './marzullo.js';
export { SkewedClock, VirtualClock, type PhysicalClock, type SkewOptions } from './clock.js';
export { SystemClock, systemClock, monotonicClock } from './system-clock.js';
export { ClockSync, DEFAULT_SYNC_CONFIG, anchorAfterSync, type SyncConfig, type SyncOutcome, type SyncStatus, type SyncFailure, type NotServingReason } from './sync.js';
export { TrueTime } from './truetime.js';
export { waitUntilAfter, type CommitWaitOptions } from './commit-wait.js';
export { TimeSyncDaemon, type DaemonOptions } from './daemon.js';
export { serveTimeMaster, referenceAnswer, type MasterKind } from './master.js';
export { applyClockFault, handleClockFaults, faultReaches, ALL_BUT_MASTERS, ALL_WITH_MASTERS, FAULT_QUERY, FAULT_REPORT_PREFIX } from './faults.js';
export { timeSyncFlags, syncConfigFrom } from './config.js';
export { instantToMicros, microsToInstant, durationToMicros, microsToDuration, toMicros, durationMicros, type TimeLike, type DurationLike } from './units.js';
export { simulate, type SimOptions, type SimResult, type SimViolation, type SimMasterKind } from './sim.js';
export { Rng } from './prng.js';
