// Key layout of the process's single LMDB environment (DESIGN §6).
// lmdb-js's default 'ordered-binary' key encoding orders arrays element by element
// (a string element is terminated by a separator byte below any printable
// character), so every group's log is one contiguous, slot-ordered range and
// group "g1" can never interleave with group "g10".

import type { GroupId } from './types.js';

/** Named databases. */
export const DB_NAMES = {
  paxosMeta: 'paxos-meta',
  paxosLog: 'paxos-log',
  /** `[groupId] -> snapshot`: kept apart from the meta record, which is rewritten on every promise. */
  paxosSnapshot: 'paxos-snapshot',
  /** `[groupId, slot] -> AppliedRecord`: written with each applied entry, truncated with the log. */
  paxosApplied: 'paxos-applied',
  mvcc: 'mvcc',
  /** `[groupId, seq] -> {id, outcome}`: the split's durable transaction outcomes in decision order (Storage.applyEntry). */
  txnOutcomes: 'txn-outcomes',
  /** `'time-mark' -> TimeMark`: the process's persisted time high-water mark; `'hosted-splits'`: the split entries it hosts (docs/spanserver.md). */
  nodeMeta: 'node-meta',
} as const;

export type MetaKey = [GroupId];
export type LogKey = [GroupId, number];
export type OutcomeKey = [GroupId, number];
/** The key of an outcome record before the sequence moved into the key (read once, by the upgrade at open). */
export type LegacyOutcomeKey = [GroupId, string];

export function metaKey(group: GroupId): MetaKey {
  return [group];
}

export function logKey(group: GroupId, slot: number): LogKey {
  return [group, slot];
}

/** Bounds of `[group, from) .. [group, to)`: `getRange` treats `end` as exclusive. */
export function logRange(group: GroupId, from = 0, to = Number.MAX_SAFE_INTEGER): { start: LogKey; end: LogKey } {
  return { start: logKey(group, from), end: logKey(group, to) };
}

export function isSlot(x: unknown): x is number {
  return Number.isSafeInteger(x) && (x as number) >= 0 && (x as number) < Number.MAX_SAFE_INTEGER;
}
