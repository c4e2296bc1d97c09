import type { SynodClient } from '@synod/client';
import { SynodError } from '@synod/codec';
import { MAX_KEY_BYTES, MAX_TXN_BYTES } from '@synod/limits';
import Fastify, { LogController, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from '@synod/config';
import type { z } from 'zod';
import type { Tokens } from './auth.js';
import { ClusterReach } from './cluster.js';
import { GatewayError, toErrorReply } from './errors.js';
import { openApiDocument } from './openapi.js';
import { PICTURE_PATHS } from './picture/paths.js';
import { RateLimiter } from './rate-limit.js';
import { frameworkPath, gatewayRoutes, type Method, type RouteDef } from './routes.js';
import { TxnRegistry } from './transactions.js';

/** Defaults of the gateway's bounds (docs/gateway.md, "Limits"). */
export const GATEWAY_DEFAULTS = {
  /** The largest transaction (4 MiB of keys and values) plus room for its JSON punctuation. */
  bodyLimitBytes: MAX_TXN_BYTES + 1024 * 1024,
  rateLimitPerSec: 200,
  rateLimitBurst: 400,
  /** Clients with a rate-limit bucket at once (least recently seen forgotten first). */
  rateLimitClients: 10_000,
  /** Requests being served at once (past it: 503 UNAVAILABLE); each holds cluster calls and memory. */
  maxInFlight: 1_024,
  readyWindowMs: 10_000,
  probeEveryMs: 2_000,
  /** Whole request (headers and body) must arrive within this. */
  requestTimeoutMs: 30_000,
  /** On close, requests in flight get this long to finish before their connections are cut. */
  drainTimeoutMs: 15_000,
} as const;

export interface GatewayOptions {
  client: SynodClient;
  /** Accepted bearer tokens; undefined only with `insecure`. */
  tokens?: Tokens | undefined;
  insecure?: boolean;
  /** Serve the live picture's paths (docs/picture.md) without a token: read-only, no keys or values. */
  picturePublic?: boolean;
  bodyLimitBytes?: number;
  rateLimitPerSec?: number;
  rateLimitBurst?: number;
  maxInFlight?: number;
  readyWindowMs?: number;
  /** 0 turns the idle readiness probe off (tests drive readiness through requests). */
  probeEveryMs?: number;
  logger?: Logger;
  https?: { key: Buffer; cert: Buffer };
  version?: string;
}

export interface Gateway {
  app: FastifyInstance;
  /** Every route the framework registered, as it registered them (method, url). */
  registeredRoutes: Array<{ method: string; url: string }>;
  reach: ClusterReach;
  /** Stops accepting, lets requests in flight finish, stops the readiness probe. */
  close(): Promise<void>;
}

/** The route input that fastify hands us, checked against one zod schema; a failure is INVALID_ARGUMENT naming each field. */
function validate<T extends z.ZodType>(schema: T, data: unknown, where: string): z.infer<T> {
  const r = schema.safeParse(data);
  if (r.success) return r.data;
  const issues = r.error.issues.slice(0, 10).map((i) => `${[where, ...i.path.map(String)].join('.')}: ${i.message}`);
  throw new SynodError('INVALID_ARGUMENT', issues.join('; '), { field: [where, ...(r.error.issues[0]?.path.map(String) ?? [])].join('.') });
}

/** Fastify's params for a route: the wildcard (`*`) is our `{key}`. */
function paramsOf(req: FastifyRequest): Record<string, unknown> {
  const p = { ...(req.params as Record<string, unknown>) };
  if ('*' in p) {
    p.key = p['*'];
    delete p['*'];
  }
  return p;
}

/** Builds the HTTP gateway over `client` (docs/gateway.md); call `app.listen` to serve. */
export function buildGateway(opts: GatewayOptions): Gateway {
  if (!opts.tokens && !opts.insecure) throw new Error('the gateway needs bearer tokens (--token-file) or --insecure');
  const bodyLimit = opts.bodyLimitBytes ?? GATEWAY_DEFAULTS.bodyLimitBytes;
  const app = Fastify({
    bodyLimit,
    // Keys up to 4 KiB, percent-encoded up to three times longer, travel in the path.
    routerOptions: { maxParamLength: 3 * MAX_KEY_BYTES + 64 },
    requestTimeout: GATEWAY_DEFAULTS.requestTimeoutMs,
    return503OnClosing: true,
    exposeHeadRoutes: false,
    // One line per request would drown the logs; errors are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    ...(opts.logger ? { loggerInstance: opts.logger } : {}),
    ...(opts.https ? { https: opts.https } : {}),
  }) as unknown as FastifyInstance;
  // JSON only: a text/plain body is 415, not a string handed to a schema.
  app.removeContentTypeParser('text/plain');
  const registeredRoutes: Gateway['registeredRoutes'] = [];
  app.addHook('onRoute', (r) => {
    for (const m of [r.method].flat()) registeredRoutes.push({ method: m, url: r.url });
  });

  const reach = new ClusterReach(opts.client, opts.readyWindowMs ?? GATEWAY_DEFAULTS.readyWindowMs);
  const txns = new TxnRegistry(opts.client);
  const limiter = new RateLimiter(opts.rateLimitPerSec ?? GATEWAY_DEFAULTS.rateLimitPerSec, opts.rateLimitBurst ?? GATEWAY_DEFAULTS.rateLimitBurst, GATEWAY_DEFAULTS.rateLimitClients);
  let doc: unknown;
  const routes: RouteDef[] = gatewayRoutes({ client: opts.client, txns, reach, openapi: () => doc });
  doc = openApiDocument(routes, { version: opts.version ?? '0.1.0' });

  app.setErrorHandler((err, req, reply) => {
    const r = toErrorReply(err, bodyLimit);
    if (r.status >= 500 && r.body.code === 'INTERNAL') req.log.error({ err }, 'request failed');
    void reply.code(r.status).headers(r.headers).send(r.body);
  });
  app.setNotFoundHandler((req) => {
    throw new GatewayError('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]!.slice(0, 200)}; the routes are in /openapi.json`);
  });

  // Probes, the OpenAPI document and /metrics (added by metrics.ts, docs/metrics.md) need no token.
  const publicUrls = new Set([...routes.filter((r) => r.public).map((r) => frameworkPath(r.path)), '/metrics', ...(opts.picturePublic ? PICTURE_PATHS : [])]);
  // Auth and rate limit run before the body is read: a refused request costs no parsing.
  const maxInFlight = opts.maxInFlight ?? GATEWAY_DEFAULTS.maxInFlight;
  let inFlight = 0;
  app.addHook('onRequest', async (req, reply) => {
    if (req.routeOptions.url !== undefined && publicUrls.has(req.routeOptions.url)) return;
    if (inFlight >= maxInFlight) throw new SynodError('UNAVAILABLE', `the gateway is serving ${inFlight} requests, its maximum; retry shortly`, { maxInFlight });
    inFlight++;
    // 'close' comes once per response, whether it was sent or the client went away.
    reply.raw.once('close', () => inFlight--);
    const tokenIndex = opts.tokens ? opts.tokens.match(req.headers.authorization) : -1;
    const wait = limiter.take(tokenIndex >= 0 ? `token:${tokenIndex}` : `ip:${req.ip}`);
    if (wait > 0) throw new GatewayError('RATE_LIMITED', `over ${limiter.perSecond} requests/s (burst ${limiter.burst}) for this client`, { retryAfterMs: Math.ceil(wait * 1000) }, Math.ceil(wait));
    if (opts.tokens && tokenIndex < 0) {
      throw new GatewayError('UNAUTHENTICATED', req.headers.authorization ? 'the bearer token is not valid' : 'missing Authorization: Bearer <token>');
    }
  });
  let closing = false;
  app.addHook('onSend', async (req, reply, payload) => {
    if (reply.statusCode === 401) void reply.header('www-authenticate', 'Bearer');
    // A keep-alive connection would hold the drain open after its last answer.
    if (closing) void reply.header('connection', 'close');
    return payload;
  });

  for (const r of routes) {
    app.route({
      method: r.method satisfies Method,
      url: frameworkPath(r.path),
      handler: async (req, reply) => {
        const params = r.params ? validate(r.params, paramsOf(req), 'path') : {};
        const query = r.query ? validate(r.query, req.query ?? {}, 'query') : {};
        if (!r.body && req.body !== undefined && req.body !== null) throw new SynodError('INVALID_ARGUMENT', `${r.method} ${r.path} takes no body`);
        const body = r.body ? validate(r.body, req.body, 'body') : undefined;
        const out = await r.handle({ params, query, body });
        if (r.cluster) reach.ok();
        return reply.code(out.status ?? r.response.status).send(out.body);
      },
    });
  }

  const probeEveryMs = opts.probeEveryMs ?? GATEWAY_DEFAULTS.probeEveryMs;
  if (probeEveryMs > 0) reach.start(probeEveryMs, (err) => app.log.error({ err }, 'readiness probe failed'));
  return {
    app,
    registeredRoutes,
    reach,
    async close() {
      closing = true;
      reach.stop();
      const cut = setTimeout(() => app.server.closeAllConnections(), GATEWAY_DEFAULTS.drainTimeoutMs);
      try {
        await app.close();
      } finally {
        clearTimeout(cut);
      }
    },
  };
}
