export { LockTable, type LockMode, type TxnRef, type LockEvents } from './lock-table.js';
export { TimestampOracle, commitApplies, readTimestamp } from './timestamps.js';
export * from './core-types.js';
export { SplitTxnCore, DEFAULT_CORE_LIMITS, validateSplitCommand, formatEpoch, type SplitTxnCoreOptions, type ResumeState, type CoreStats } from './split-core.js';
export { OutcomeTable } from './outcome-table.js';
export { childInit, strictlyInside, LoadSample, MAX_CUT_RECORDS, type ChildInit, type CutRecord } from './cut.js';
