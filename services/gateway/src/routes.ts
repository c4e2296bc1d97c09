import type { SynodClient } from '@synod/client';
import { SynodError } from '@synod/codec';
import { z } from 'zod';
import { clusterStatus, type ClusterReach } from './cluster.js';
import { GatewayError } from './errors.js';
import { decodePageToken, encodePageToken } from './page-token.js';
import * as s from './schemas.js';
import type { TxnRegistry } from './transactions.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RouteInput {
  params: Record<string, unknown>;
  query: Record<string, unknown>;
  body: unknown;
}

/**
 * One endpoint: its path as OpenAPI writes it, its schemas, and its handler. The server registers
 * exactly these and the OpenAPI document is generated from exactly these (docs/gateway.md).
 */
export interface RouteDef {
  method: Method;
  /** OpenAPI path: `{key}` is the rest of the path (keys may contain "/"), `{id}` one segment. */
  path: string;
  operationId: string;
  summary: string;
  /** Probes and the document itself need no token and are not rate limited. */
  public?: boolean;
  /** Touches the cluster: a success counts for readiness. */
  cluster: boolean;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  response: { status: number; schema: z.ZodType; description: string };
  /** Other statuses the endpoint answers with its own body (not an error), e.g. /readyz's 503. */
  alsoReturns?: { status: number; description: string };
  handle(input: RouteInput): Promise<{ status?: number; body: unknown }>;
}

export interface RouteDeps {
  client: SynodClient;
  txns: TxnRegistry;
  reach: ClusterReach;
  openapi: () => unknown;
}

/**
 * How far ahead of this gateway's clock a snapshot `ts` may be. A read at a future timestamp waits
 * at the server until the cluster's time passes it, a bounded wait that the client retries; one
 * further ahead could only tie up the request for all its retries and fail.
 */
export const MAX_FUTURE_TS_MS = 10_000;

const readOptions = (q: { ts?: number | undefined; maxStalenessMs?: number | undefined }) => {
  if (q.ts !== undefined && q.maxStalenessMs !== undefined) throw new SynodError('INVALID_ARGUMENT', 'give ts or maxStalenessMs, not both');
  const latest = (Date.now() + MAX_FUTURE_TS_MS) * 1000;
  if (q.ts !== undefined && q.ts > latest) throw new SynodError('INVALID_ARGUMENT', `ts ${q.ts} is more than ${MAX_FUTURE_TS_MS} ms ahead of the gateway's clock (µs since the epoch expected)`, { limit: latest });
  return { ...(q.ts !== undefined ? { ts: q.ts } : {}), ...(q.maxStalenessMs !== undefined ? { maxStalenessMs: q.maxStalenessMs } : {}) };
};

export function gatewayRoutes(d: RouteDeps): RouteDef[] {
  const { client } = d;
  return [
    {
      method: 'GET',
      path: '/healthz',
      operationId: 'healthz',
      summary: 'Alive: the process serves HTTP',
      public: true,
      cluster: false,
      response: { status: 200, schema: s.healthResponse, description: 'Alive' },
      handle: async () => ({ body: { status: 'ok' } }),
    },
    {
      method: 'GET',
      path: '/readyz',
      operationId: 'readyz',
      summary: 'Ready: the cluster answered a call recently',
      public: true,
      cluster: false,
      response: { status: 200, schema: s.readyResponse, description: 'Ready' },
      alsoReturns: { status: 503, description: 'Not ready: no successful cluster call within the ready window (same body)' },
      handle: async () => {
        const r = d.reach.readiness();
        return { status: r.ready ? 200 : 503, body: r };
      },
    },
    {
      method: 'GET',
      path: '/openapi.json',
      operationId: 'openapi',
      summary: 'This OpenAPI 3.1 document',
      public: true,
      cluster: false,
      response: { status: 200, schema: s.openapiResponse, description: 'The document' },
      handle: async () => ({ body: d.openapi() }),
    },
    {
      method: 'GET',
      path: '/v1/kv/{key}',
      operationId: 'get',
      summary: 'Read one key: strong by default, at a snapshot `ts`, or with bounded staleness',
      cluster: true,
      params: s.keyParams,
      query: s.getQuery,
      response: { status: 200, schema: s.getResponse, description: 'The value; 404 NOT_FOUND (hint ts) when the key is absent' },
      handle: async ({ params, query }) => {
        const key = params.key as string;
        const r = await client.read([key], readOptions(query));
        if (!r.values.has(key)) throw new GatewayError('NOT_FOUND', `key ${JSON.stringify(key.slice(0, 64))} not found at ${r.ts}`, { ts: r.ts });
        return { body: { key, value: r.values.get(key), ts: r.ts } };
      },
    },
    {
      method: 'PUT',
      path: '/v1/kv/{key}',
      operationId: 'put',
      summary: 'Write one key (a read-write transaction)',
      cluster: true,
      params: s.keyParams,
      body: s.putRequest,
      response: { status: 200, schema: s.writeResponse, description: 'Committed' },
      handle: async ({ params, body }) => {
        const key = params.key as string;
        const r = await client.transaction(async (tx) => tx.put(key, (body as z.infer<typeof s.putRequest>).value));
        return { body: { ts: r.ts, txnId: r.txnId } };
      },
    },
    {
      method: 'DELETE',
      path: '/v1/kv/{key}',
      operationId: 'delete',
      summary: 'Delete one key (a read-write transaction; deleting an absent key commits too)',
      cluster: true,
      params: s.keyParams,
      response: { status: 200, schema: s.writeResponse, description: 'Committed' },
      handle: async ({ params }) => {
        const key = params.key as string;
        const r = await client.transaction(async (tx) => tx.delete(key));
        return { body: { ts: r.ts, txnId: r.txnId } };
      },
    },
    {
      method: 'POST',
      path: '/v1/kv:batchGet',
      operationId: 'batchGet',
      summary: 'Read several keys at one timestamp, across splits: strong, snapshot `ts`, or bounded staleness `maxStalenessMs`',
      cluster: true,
      body: s.batchGetRequest,
      response: { status: 200, schema: s.batchGetResponse, description: 'One consistent snapshot' },
      handle: async ({ body }) => {
        const b = body as z.infer<typeof s.batchGetRequest>;
        const keys = [...new Set(b.keys)];
        const r = await client.read(keys, readOptions(b));
        return { body: { ts: r.ts, results: keys.map((key) => (r.values.has(key) ? { key, found: true, value: r.values.get(key) } : { key, found: false })) } };
      },
    },
    {
      method: 'GET',
      path: '/v1/kv',
      operationId: 'scan',
      summary: 'Keys in [start, end) in key order, one page at a time, every page at the first page\'s snapshot',
      cluster: true,
      query: s.scanQuery,
      response: { status: 200, schema: s.scanResponse, description: 'One page' },
      handle: async ({ query }) => {
        const q = query as z.infer<typeof s.scanQuery>;
        const token = q.pageToken !== undefined ? decodePageToken(q.pageToken) : undefined;
        if (token && ((q.start !== undefined && q.start !== token.start) || (q.end !== undefined && q.end !== token.end)))
          throw new SynodError('INVALID_ARGUMENT', 'start and end must be those of the scan the pageToken came from (or left out)');
        const start = token?.start ?? q.start ?? '';
        const end = token?.end ?? q.end ?? '';
        if (end !== '' && start > end) throw new SynodError('INVALID_ARGUMENT', 'start is after end: the range [start, end) would be backwards', { field: 'query.start' });
        const from = token?.from ?? start;
        const limit = q.limit ?? s.DEFAULT_PAGE;
        // One row more than the page tells whether another page follows.
        const r = await client.scan(from, end, { limit: limit + 1, ...(token ? { ts: token.ts } : {}) });
        const rows = r.rows.slice(0, limit);
        const more = r.rows.length > limit;
        return { body: { ts: r.ts, rows, ...(more ? { nextPageToken: encodePageToken({ v: 1, ts: r.ts, from: `${rows.at(-1)!.key}\u0000`, start, end }) } : {}) } };
      },
    },
    {
      method: 'POST',
      path: '/v1/txn',
      operationId: 'transaction',
      summary: 'One read-write transaction: reads, conditions and writes, atomic across splits, idempotent by `id`',
      cluster: true,
      body: s.txnRequest,
      response: { status: 200, schema: s.txnResponse, description: 'Committed (or the recorded answer to an earlier request with this id)' },
      handle: async ({ body }) => ({ body: await d.txns.run(body as s.TxnRequest) }),
    },
    {
      method: 'GET',
      path: '/v1/txn/{id}',
      operationId: 'transactionStatus',
      summary: 'The outcome of a transaction this gateway ran, by its client-chosen id',
      cluster: true,
      params: s.txnParams,
      response: { status: 200, schema: s.txnStatusResponse, description: 'What is known of it' },
      handle: async ({ params }) => ({ body: await d.txns.status(params.id as string) }),
    },
    {
      method: 'GET',
      path: '/v1/cluster',
      operationId: 'clusterStatus',
      summary: 'Every spanserver (up or down, ε, groups it leads) and every split with its leader',
      cluster: true,
      response: { status: 200, schema: s.clusterResponse, description: 'The cluster as its nodes report it' },
      handle: async () => {
        const body = await clusterStatus(client);
        // Readiness means some node answered, not that the status call returned.
        if (!body.nodes.some((n) => n.up)) throw new SynodError('UNAVAILABLE', 'no spanserver answered a status request');
        return { body };
      },
    },
  ];
}

/** The framework's path for an OpenAPI path: `{key}` matches the rest of the path, `:` is escaped. */
export function frameworkPath(openApiPath: string): string {
  return openApiPath.replace(/:/g, '::').replace('/{key}', '/*').replace(/\{(\w+)\}/g, ':$1');
}

/** The OpenAPI path of a framework path (the inverse of frameworkPath). */
export function openApiPath(frameworkUrl: string): string {
  return frameworkUrl.replace('/*', '/{key}').replace(/(?<!:):(\w+)/g, '{$1}').replace(/::/g, ':');
}
