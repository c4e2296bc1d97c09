export { openStorage, Storage, type StorageOptions, type StorageStats } from './storage.js';
export { PaxosStore, TRUNCATE_BATCH, type PaxosLogRecord, type PaxosMetaRecord, type AppliedRecordValue } from './paxos-store.js';
export { compareBallots } from './ballot.js';
export type { GroupCommitStats } from './group-commit.js';
export type { AcceptedEntry, Ballot, GroupId, PaxosDurableState, PaxosPersist, SnapshotRecord, Value, AppliedRecord, DurableAppliedState } from './types.js';
export { MvccStore, type VersionWrite, type ReadResult, type MvccRecord, type MvccRow } from './mvcc-store.js';
