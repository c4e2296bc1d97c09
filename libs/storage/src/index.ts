export { openStorage, Storage, type TimeMark } from './storage.js';
export type { TxnOutcome, StoredOutcome, OutcomeChanges } from './types.js';
export { PaxosStore } from './paxos-store.js';
export { MvccStore, type VersionWrite, type MvccRecord, type MvccRow } from './mvcc-store.js';
export { MemoryMvccStore } from './memory-mvcc.js';
export { compareKeys, type ReadResult } from './version-rule.js';
export { GC_SLICE_BUDGET_MS, GC_SLICE_MAX_ENTRIES, type GcPassOptions, type GcPassReport, type GcSlice } from './version-gc.js';
