import { z } from 'zod';
import { MAX_TXN_READS, MAX_TXN_WRITES } from '@synod/limits';
import { durationUs, micros, reportedUs, slot, userKey as key } from './bounds.js';

/** Client ↔ spanserver messages for transactions and reads (DESIGN §7). */
/** A commit or read timestamp in TrueTime microseconds (positive, as every real one is). */
const ts = micros.positive();
export const txnRef = z.object({ id: z.string().min(1).max(128), startTs: ts });
const keyValue = z.object({ key, value: z.unknown().optional(), ts: ts.optional() });
/** Most rows one read or scan returns: the larger of a read's key count and a scan's limit. */
const MAX_ROWS = 10_000;
const name = z.string().max(63);

export const kvMessageSchemas = {
  /** Read-write transaction reads at the split leader: shared locks, latest data. */
  'kv.read': z.object({ txn: txnRef, keys: z.array(key).min(1).max(1000) }),
  /** Reply to reads. `epoch` names the leadership the reads (and their locks) belong to. */
  'kv.values': z.object({ values: z.array(keyValue).max(MAX_ROWS), ts: ts.optional(), epoch: z.string().max(256).optional() }),
  /** Single-split commit at the leader. Writes with `deleted: true` delete. */
  'kv.commit': z.object({
    txn: txnRef,
    epoch: z.string().max(256).optional(),
    readKeys: z.array(key).max(MAX_TXN_READS).default([]),
    writes: z.array(z.object({ key, value: z.unknown().optional(), deleted: z.boolean().optional() })).max(MAX_TXN_WRITES),
  }),
  'kv.committed': z.object({ ts, commitWaitUs: durationUs }),
  'kv.abort': z.object({ txnId: z.string().min(1).max(128) }),
  'kv.ok': z.object({}),
  /**
   * Lock-free read at any replica whose t_safe covers the read timestamp: `ts` for a snapshot
   * read, `maxStalenessUs` for a bounded-staleness read, neither for a strong read (now.latest).
   */
  'kv.snapshot': z.object({
    keys: z.array(key).max(1000).optional(),
    scan: z.object({ start: key, end: key, limit: z.number().int().positive().max(MAX_ROWS).default(1000) }).optional(),
    ts: ts.optional(),
    maxStalenessUs: micros.optional(),
    waitMs: z.number().int().nonnegative().max(60_000).default(2_000),
    /** A strong read may be served at the leader's t_safe under its lease: only for a read of one split. */
    leaseRead: z.boolean().default(false),
  }),
  'node.status': z.object({}),
  'node.status.reply': z.object({
    node: name,
    dc: name,
    tt: z.object({ earliest: reportedUs, latest: reportedUs, epsilonUs: durationUs, serving: z.boolean() }),
    groups: z
      .array(
        z.object({
          id: z.string().max(63),
          isLeader: z.boolean(),
          leader: z.string().max(63).nullable(),
          tSafe: durationUs,
          appliedUpTo: slot,
          chosenUpTo: slot,
          lastCommitTs: durationUs,
          /** Entries in the split's on-disk Paxos log (bounded by compaction, docs/limits.md). */
          logEntries: slot.optional(),
          /** Entries applied again by this process that an earlier run had already applied (should be 0). */
          reappliedEntries: slot.optional(),
          snapshotUpTo: slot.optional(),
        }),
      )
      .max(100_000),
  }),
} as const;
