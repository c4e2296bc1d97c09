import { MAX_TIMESTAMP_US, MAX_TXN_READS, MAX_TXN_WRITES } from '@synod/limits';
import { z } from 'zod';

/**
 * The request and response schemas of the HTTP API: handlers validate with them and the OpenAPI
 * document is generated from them (docs/gateway.md). Objects are strict: an unknown field is
 * INVALID_ARGUMENT, never ignored.
 */

/** Keys are non-empty strings; their byte maximum (KEY_TOO_LARGE) is checked by libs/limits. */
export const key = z.string().min(1).describe('A key: a non-empty UTF-8 string of at most 4 KiB (docs/limits.md)');
export const value = z.unknown().describe('Any JSON value, at most 1 MiB encoded (docs/limits.md)');

const MAX_TS = MAX_TIMESTAMP_US;
/** Timestamps are integer µs since the Unix epoch (DESIGN vocabulary), above 0 and below 2^52. */
export const timestamp = z.number().int().positive().max(MAX_TS).describe('A timestamp: integer microseconds since the Unix epoch');

/** A number in a query string: digits only, so "", "1e3", "-1" and "0x10" are refused, not coerced. */
const queryInt = (max: number, what: string) =>
  z
    .string()
    .regex(/^\d{1,16}$/, `${what}: a whole number`)
    .transform(Number)
    .pipe(z.number().int().positive().max(max));

export const readQuery = {
  ts: queryInt(MAX_TS, 'ts').optional().describe('Read at this timestamp (µs): a snapshot read'),
  maxStalenessMs: queryInt(3_600_000, 'maxStalenessMs').optional().describe('Accept data up to this old (ms), served by a nearby replica: a bounded-staleness read'),
};

export const getQuery = z.strictObject(readQuery);
export const keyParams = z.strictObject({ key: key.describe('The key, percent-encoded; it may contain "/"') });

export const getResponse = z.strictObject({ key, value, ts: timestamp });

export const batchGetRequest = z
  .strictObject({
    keys: z.array(key).min(1).max(MAX_TXN_READS),
    ts: timestamp.optional().describe('Read at this timestamp (µs): a snapshot read'),
    maxStalenessMs: z.number().int().positive().max(3_600_000).optional().describe('Accept data up to this old (ms): a bounded-staleness read'),
  })
  .refine((b) => b.ts === undefined || b.maxStalenessMs === undefined, { message: 'give ts or maxStalenessMs, not both' })
  ;
export const batchGetResponse = z
  .strictObject({
    ts: timestamp.describe('The one timestamp every key was read at'),
    results: z.array(z.strictObject({ key, found: z.boolean(), value: value.optional() })),
  })
  ;

export const MAX_PAGE = 1_000;
export const DEFAULT_PAGE = 100;
/** Bounds a page token: a resume key and an end key of at most 4 KiB each, as base64url JSON. */
export const MAX_PAGE_TOKEN_CHARS = 24_576;
export const scanQuery = z.strictObject({
  start: z.string().optional().describe('First key (inclusive); default the first key'),
  end: z.string().optional().describe('End key (exclusive); default the open end'),
  limit: queryInt(MAX_PAGE, 'limit').optional().describe(`Rows per page, 1..${MAX_PAGE}, default ${DEFAULT_PAGE}`),
  pageToken: z.string().max(MAX_PAGE_TOKEN_CHARS).optional().describe('nextPageToken of the previous page: the next page at the same snapshot'),
});
export const scanResponse = z
  .strictObject({
    ts: timestamp.describe('The snapshot every page of this scan reads at'),
    rows: z.array(z.strictObject({ key, value })),
    nextPageToken: z.string().optional().describe('Present when more rows may follow'),
  })
  ;

export const putRequest = z.strictObject({ value });
export const writeResponse = z
  .strictObject({ ts: timestamp.describe('Commit timestamp'), txnId: z.string().describe('The cluster-side transaction id') })
  ;

/** Client-chosen transaction ids: what makes a retried POST /v1/txn idempotent. */
export const txnId = z
  .string()
  .regex(/^[A-Za-z0-9._~-]{1,64}$/, 'an id is 1 to 64 letters, digits, ".", "_", "~" or "-"')
  .describe('Client-chosen id: a repeated request with the same id returns the first outcome');

const condition = z.union([
  z.strictObject({ key, equals: value.describe('The key must hold exactly this JSON value') }),
  z.strictObject({ key, absent: z.literal(true).describe('The key must not exist') }),
  z.strictObject({ key, present: z.literal(true).describe('The key must exist') }),
]);
const write = z.union([z.strictObject({ key, value }), z.strictObject({ key, delete: z.literal(true) })]);

export const txnRequest = z
  .strictObject({
    id: txnId,
    reads: z.array(key).max(MAX_TXN_READS).default([]).describe('Keys read (with locks) in the transaction'),
    conditions: z.array(condition).max(MAX_TXN_READS).default([]).describe('All must hold, or nothing is written (409 CONDITION_FAILED)'),
    writes: z.array(write).max(MAX_TXN_WRITES).default([]).describe('Written atomically at the commit timestamp if every condition holds'),
  })
  ;
export type TxnRequest = z.infer<typeof txnRequest>;

export const txnResponse = z
  .strictObject({
    id: txnId,
    state: z.literal('committed'),
    ts: z.number().int().nonnegative().describe('Commit timestamp; 0 for a transaction that touched nothing'),
    reads: z.array(z.strictObject({ key, found: z.boolean(), value: value.optional() })),
    txnId: z.string().optional().describe('The cluster-side transaction id'),
    split: z.string().optional().describe('The split whose leader holds the outcome'),
    attempts: z.number().int().positive(),
  })
  ;

export const txnParams = z.strictObject({ id: txnId });
export const txnStatusResponse = z
  .strictObject({
    id: txnId,
    state: z.enum(['committed', 'aborted', 'pending', 'condition_failed', 'running']),
    ts: timestamp.optional(),
    reason: z.string().optional(),
    txnId: z.string().optional(),
    split: z.string().optional(),
  })
  ;

export const clusterResponse = z
  .strictObject({
    nodes: z.array(
      z.strictObject({
        node: z.string(),
        dc: z.string(),
        up: z.boolean(),
        error: z.string().optional(),
        epsilonUs: z.number().optional(),
        serving: z.boolean().optional(),
        groups: z.array(z.strictObject({ id: z.string(), isLeader: z.boolean(), leader: z.string().nullable(), appliedUpTo: z.number(), tSafe: z.number() })),
      }),
    ),
    splits: z.array(z.strictObject({ id: z.string(), start: z.string(), end: z.string(), replicas: z.array(z.string()), leader: z.string().nullable() })),
  })
  ;

export const healthResponse = z.strictObject({ status: z.literal('ok') });
export const readyResponse = z.strictObject({
  ready: z.boolean(),
  lastClusterOkAgoMs: z.number().nullable().describe('Since the last successful call to the cluster; null before the first'),
  leaderlessSplits: z.array(z.string()).max(32).describe('Splits for which the last spanserver that answered the probe heard no live leader: none known, or its t_safe over 5 s behind its clock (not ready while any)'),
});
export const openapiResponse = z.record(z.string(), z.unknown()).describe('This document');
export const noParams = z.strictObject({});
