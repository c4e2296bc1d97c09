import { unlinkSync } from 'node:fs';
import type { Database, RootDatabase } from 'lmdb';
import { compareBallot } from '@synod/paxos';
import { logKey, metaKey, type LogKey, type MetaKey } from './keys.js';
import type { PaxosLogRecord, PaxosMetaRecord } from './paxos-store.js';
import { fsyncDir, scanWal, type WalRecord } from './wal.js';

/** `node-meta` key of the highest write-ahead log record whose writes LMDB has committed. */
export const WAL_COMMITTED_KEY = 'wal-committed';

export interface WalTargets {
  root: RootDatabase;
  meta: Database<PaxosMetaRecord, MetaKey>;
  log: Database<PaxosLogRecord, LogKey>;
  /** Holds WAL_COMMITTED_KEY: a number. */
  nodeMeta: Database<unknown, string>;
}

/**
 * Start-up recovery (libs/storage/README.md, "Write-ahead log"): writes back into LMDB every
 * record of the log in `dir` above the sequence number LMDB has committed, in one synced
 * transaction, then deletes the log's segments. Returns the sequence number the next record must
 * carry. Records at or below LMDB's number are skipped, not re-applied: LMDB commits the writes
 * in log order, so it already holds them, and a later write of the same key may be in LMDB too.
 */
export function replayWal(dir: string, t: WalTargets): number {
  const { records, segments } = scanWal(dir);
  const committed = committedSeq(t);
  const replay = records.filter((r) => r.seq > committed);
  if (replay.length > 0)
    t.root.transactionSync(() => {
      for (const r of replay) writeBack(t, r);
      t.nodeMeta.putSync(WAL_COMMITTED_KEY, replay.at(-1)!.seq);
    });
  // Everything is in LMDB now, synced: a crash from here on replays nothing twice (seq filter).
  for (const path of segments) unlinkSync(path);
  if (segments.length > 0) fsyncDir(dir);
  return Math.max(committed, records.at(-1)?.seq ?? 0) + 1;
}

/** The highest record LMDB holds the writes of (0 if none). */
function committedSeq(t: Pick<WalTargets, 'nodeMeta'>): number {
  const seq = t.nodeMeta.get(WAL_COMMITTED_KEY);
  return typeof seq === 'number' ? seq : 0;
}

/**
 * What PaxosStore.persist would have written for the record: the promise only if it is higher
 * than the stored one (the meta record's applied index and header are never taken from the log),
 * and the accepted entries as they are.
 */
function writeBack(t: WalTargets, r: WalRecord): void {
  if (r.promised !== undefined) {
    const key = metaKey(r.group);
    const current = t.meta.get(key) ?? {};
    if (current.promised === undefined || compareBallot(r.promised, current.promised) > 0) t.meta.putSync(key, { ...current, promised: r.promised });
  }
  for (const e of r.accepted ?? []) t.log.putSync(logKey(r.group, e.slot), { ballot: e.ballot, value: e.value });
}
