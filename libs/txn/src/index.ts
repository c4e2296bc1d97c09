export { LockTable, olderThan, type LockMode, type TxnRef, type AcquireResult, type LockEvents } from './lock-table.js';
