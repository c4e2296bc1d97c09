import { z } from 'zod';

/** Client ↔ spanserver messages for transactions and reads (DESIGN §7). */
const key = z.string().max(1024);
const ts = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
export const txnRef = z.object({ id: z.string().min(1).max(128), startTs: ts });
const keyValue = z.object({ key, value: z.unknown().optional(), ts: ts.optional() });

export const kvMessageSchemas = {
  /** Read-write transaction reads at the split leader: shared locks, latest data. */
  'kv.read': z.object({ txn: txnRef, keys: z.array(key).min(1).max(1000) }),
  /** Reply to reads. `epoch` names the leadership the reads (and their locks) belong to. */
  'kv.values': z.object({ values: z.array(keyValue), ts: ts.optional(), epoch: z.string().optional() }),
  /** Single-split commit at the leader. Writes with `deleted: true` delete. */
  'kv.commit': z.object({
    txn: txnRef,
    epoch: z.string().optional(),
    readKeys: z.array(key).max(10_000).default([]),
    writes: z.array(z.object({ key, value: z.unknown().optional(), deleted: z.boolean().optional() })).max(10_000),
  }),
  'kv.committed': z.object({ ts, commitWaitUs: z.number().nonnegative() }),
  'kv.abort': z.object({ txnId: z.string().min(1).max(128) }),
  'kv.ok': z.object({}),
  /**
   * Lock-free read at any replica whose t_safe covers the read timestamp: `ts` for a snapshot
   * read, `maxStalenessUs` for a bounded-staleness read, neither for a strong read (now.latest).
   */
  'kv.snapshot': z.object({
    keys: z.array(key).max(1000).optional(),
    scan: z.object({ start: key, end: key, limit: z.number().int().positive().max(10_000).default(1000) }).optional(),
    ts: ts.optional(),
    maxStalenessUs: z.number().int().nonnegative().optional(),
    waitMs: z.number().int().nonnegative().max(60_000).default(2_000),
    /** A strong read may be served at the leader's t_safe under its lease: only for a read of one split. */
    leaseRead: z.boolean().default(false),
  }),
  'node.status': z.object({}),
  'node.status.reply': z.object({
    node: z.string(),
    dc: z.string(),
    tt: z.object({ earliest: z.number(), latest: z.number(), epsilonUs: z.number(), serving: z.boolean() }),
    groups: z.array(
      z.object({
        id: z.string(),
        isLeader: z.boolean(),
        leader: z.string().nullable(),
        tSafe: z.number(),
        appliedUpTo: z.number(),
        chosenUpTo: z.number(),
        lastCommitTs: z.number(),
      }),
    ),
  }),
} as const;
