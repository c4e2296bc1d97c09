export { LockTable, type LockMode, type TxnRef, type LockEvents } from './lock-table.js';
export { TimestampOracle, commitApplies, readTimestamp } from './timestamps.js';
export * from './core-types.js';
