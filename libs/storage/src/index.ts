export { openStorage, Storage, type StorageOptions, type StorageStats } from './storage.js';
export { PaxosStore, type PaxosLogRecord, type PaxosMetaRecord } from './paxos-store.js';
export { compareBallots } from './ballot.js';
export type { GroupCommitStats } from './group-commit.js';
export type { AcceptedEntry, Ballot, GroupId, PaxosDurableState, PaxosPersist, SnapshotRecord, Value } from './types.js';
export { MvccStore, type VersionWrite, type ReadResult, type MvccRecord } from './mvcc-store.js';
