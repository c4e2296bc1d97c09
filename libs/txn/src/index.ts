export { LockTable, olderThan, type LockMode, type TxnRef, type AcquireResult, type LockEvents } from './lock-table.js';
export { TimestampOracle, commitApplies, readTimestamp } from './timestamps.js';
