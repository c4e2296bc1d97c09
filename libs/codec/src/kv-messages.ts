import { z } from 'zod';
import { MAX_TIMESTAMP_US, MAX_TXN_READS, MAX_TXN_WRITES } from '@synod/limits';
import { durationUs, micros, reportedUs, slot, userKey as key } from './bounds.js';

/** Client ↔ spanserver messages for transactions and reads (DESIGN §7). */
/** A commit or read timestamp in TrueTime microseconds (positive, as every real one is). */
const ts = micros.positive();
/** A client-chosen transaction id: the key of the split's replicated outcome table. */
const txnId = z.string().min(1).max(128);
export const txnRef = z.object({ id: txnId, startTs: ts });
const keyValue = z.object({ key, value: z.unknown().optional(), ts: ts.optional() });
/** Most rows one read or scan returns: the larger of a read's key count and a scan's limit. */
const MAX_ROWS = 10_000;
const name = z.string().max(63);
const splitId = z.string().min(1).max(63);
/** Most splits one read-write transaction may touch. */
export const MAX_PARTICIPANTS = 64;
/**
 * How long (ms) the server may park a request (for locks, t_safe, an in-flight outcome) before it
 * answers. Clients send it well inside their own request timeout, so the server's answer (often
 * TIMEOUT or UNAVAILABLE, both retryable) arrives before the transport gives up.
 */
const waitMs = (defaultMs: number) => z.number().int().nonnegative().max(60_000).default(defaultMs);
/** The outcome states of a transaction as a status lookup reports them. */
export const TXN_STATES = ['committed', 'aborted', 'pending'] as const;
export type TxnState = (typeof TXN_STATES)[number];

/** A count since the process started. */
const counter = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
/** How late the event loop ran over one window, ms (services/spanserver/src/event-loop-delay.ts). */
const delayMs = z.number().nonnegative().max(MAX_TIMESTAMP_US);
const delayFigures = z.object({ windowMs: delayMs, p50Ms: delayMs, p99Ms: delayMs, maxMs: delayMs, samples: counter });
/**
 * Upper bounds (ms) of the commit-latency buckets in node.status `commits.latencyBuckets`; the
 * last bucket counts everything above the last bound. Fixed here so every reader merges the
 * buckets of every node the same way (the gateway's live picture, docs/picture.md).
 */
export const COMMIT_LATENCY_BOUNDS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000] as const;

export const kvMessageSchemas = {
  /**
   * Read-write transaction reads at the split leader: shared locks, latest data. `waitMs`
   * (default 2,000) bounds how long the leader parks the read behind conflicting locks.
   */
  'kv.read': z.object({ txn: txnRef, keys: z.array(key).min(1).max(1000), waitMs: waitMs(2_000) }),
  /**
   * Reply to reads. `epoch` names the leadership the reads (and their locks) belong to. `leader`:
   * a replica that answered a strong read without leading the split (it waited for t_safe to
   * pass the read's timestamp) names the leader it knows, so the client asks that one next time.
   */
  'kv.values': z.object({ values: z.array(keyValue).max(MAX_ROWS), ts: ts.optional(), epoch: z.string().max(256).optional(), leader: name.optional() }),
  /**
   * Single-split commit at the leader. Writes with `deleted: true` delete. Idempotent per
   * `txn.id`: a retry with the same id answers the recorded outcome or joins the in-flight commit
   * (outcomes are kept 10 minutes). `waitMs` (default 10,000) bounds how long the leader parks the
   * commit (for locks, replication, commit wait) before answering TIMEOUT; the outcome is then
   * unknown to the client, which retries with the same id or asks `kv.txn-status`.
   */
  'kv.commit': z.object({
    txn: txnRef,
    waitMs: waitMs(10_000),
    epoch: z.string().max(256).optional(),
    readKeys: z.array(key).max(MAX_TXN_READS).default([]),
    writes: z.array(z.object({ key, value: z.unknown().optional(), deleted: z.boolean().optional() })).max(MAX_TXN_WRITES),
    /**
     * A cross-split transaction: the other splits it touches. This split coordinates (2PC,
     * docs/transactions.md): it waits for each participant's prepare and logs the commit record.
     */
    participants: z.array(splitId).max(MAX_PARTICIPANTS).optional(),
  }),
  'kv.committed': z.object({ ts, commitWaitUs: durationUs }),
  /**
   * A cross-split transaction's part at one participant split's leader: the same checks and
   * locks as a commit, then a prepare record; the vote goes to the `coordinator` split. Idempotent
   * per `txn.id`. Answered with `kv.prepared` (the prepare timestamp) once the record is applied.
   */
  'kv.prepare': z.object({
    txn: txnRef,
    coordinator: splitId,
    waitMs: waitMs(10_000),
    epoch: z.string().max(256).optional(),
    readKeys: z.array(key).max(MAX_TXN_READS).default([]),
    writes: z.array(z.object({ key, value: z.unknown().optional(), deleted: z.boolean().optional() })).max(MAX_TXN_WRITES),
  }),
  'kv.prepared': z.object({ ts }),
  'kv.abort': z.object({ txnId }),
  'kv.ok': z.object({}),
  /**
   * The outcome of transaction `txnId` at the split leader (envelope group = the split). An id the
   * leader has no record of is decided aborted through the log, so a late commit with that id can
   * never win. `waitMs` (default 2,000) bounds how long an undecided (in-flight) transaction is
   * waited for before the answer is `pending`. Answered with `kv.txn-status.reply`.
   */
  'kv.txn-status': z.object({ txnId, waitMs: waitMs(2_000) }),
  /**
   * `committed` carries the commit timestamp `ts` and, like `kv.committed`, is answered only once
   * commit wait for `ts` is over (clients treat it as the commit's reply); `aborted` may carry a
   * `reason`; `pending` is not yet decided. A lookup at a split the transaction did not commit in
   * answers `aborted` (the id is unknown there).
   */
  'kv.txn-status.reply': z
    .object({ state: z.enum(TXN_STATES), ts: ts.optional(), reason: z.string().max(1024).optional() })
    .refine((b) => b.state !== 'committed' || b.ts !== undefined, { message: 'a committed outcome carries its ts' }),
  /**
   * Lock-free read at any replica whose t_safe covers the read timestamp: `ts` for a snapshot
   * read, `maxStalenessUs` for a bounded-staleness read, neither for a strong read (now.latest).
   */
  'kv.snapshot': z.object({
    keys: z.array(key).max(1000).optional(),
    scan: z.object({ start: key, end: key, limit: z.number().int().positive().max(MAX_ROWS).default(1000) }).optional(),
    ts: ts.optional(),
    maxStalenessUs: micros.optional(),
    waitMs: waitMs(2_000),
    /**
     * Deprecated, accepted for compatibility with older clients only: the server decides on its own
     * when a strong read may be served under its lease, and ignores this field. Clients omit it.
     */
    leaseRead: z.boolean().default(false),
    /**
     * The read is this split's alone (no other split is read at the timestamp this one picks): a
     * strong read may then be served at the leader's last commit, without waiting out the clock
     * uncertainty (docs/transactions.md, rule 9a). Set only for a strong read of one split.
     */
    soleSplit: z.boolean().default(false),
  }),
  /**
   * `resetEventLoop`: after this reply's figures are taken, start a new `eventLoop.sinceReset`
   * window (docs/metrics.md, "Event-loop delay"); what a benchmark uses to measure a window it chooses.
   */
  'node.status': z.object({ resetEventLoop: z.boolean().optional() }),
  'node.status.reply': z.object({
    node: name,
    dc: name,
    tt: z.object({ earliest: reportedUs, latest: reportedUs, epsilonUs: durationUs, serving: z.boolean() }),
    /** Synced storage commits since the process started (each one fsync): an idle node does none. */
    fsyncs: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
    /** CPU time this process has used since it started (process.cpuUsage), µs. */
    cpuUs: z.object({ user: counter, system: counter }).optional(),
    /** Messages this process's bus received and dispatched since it started (synod_bus_received_total). */
    busReceived: counter.optional(),
    /** Event-loop delay: the last completed rolling window, and since the last `resetEventLoop` (docs/metrics.md). */
    eventLoop: z
      .object({
        window: delayFigures,
        sinceReset: delayFigures,
        /** Since the last `resetEventLoop`: the delay split into waiting for a CPU and the process's own stalls (Linux). */
        stalls: z
          .object({
            samples: counter,
            maxDelayMs: delayMs,
            maxOwnMs: delayMs,
            maxWaitMs: delayMs,
            waitMs: delayMs,
            windowMs: delayMs,
            worstOwn: z.object({ gapMs: delayMs, runMs: delayMs, waitMs: delayMs, asleepMs: delayMs }).optional(),
          })
          .optional(),
      })
      .optional(),
    /**
     * Commits this process acknowledged as a split leader (kv.commit answered committed) since it
     * started: their count, summed latency (request in to reply out) and commit wait, µs, and the
     * count per latency bucket (COMMIT_LATENCY_BOUNDS_MS, plus one above the last). Readers take
     * differences of two readings.
     */
    commits: z
      .object({ count: counter, latencyUsSum: counter, commitWaitUsSum: counter, latencyBuckets: z.array(counter).length(COMMIT_LATENCY_BOUNDS_MS.length + 1) })
      .optional(),
    /** Paxos groups hosted here that are quiescent (docs/spanserver.md, "Quiescent splits"). */
    quietGroups: counter.optional(),
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
          /** Locks held by transactions at this replica (a leader), and 2PC transactions prepared here, undecided. */
          locksHeld: slot.optional(),
          prepared: slot.optional(),
          /** The replica is quiescent: a leader that stopped heartbeating, or a follower of one. */
          quiet: z.boolean().optional(),
        }),
      )
      .max(100_000),
  }),
} as const;
