/**
 * The small HTTP endpoint of a synod process (docs/metrics.md): `GET /metrics` (Prometheus text
 * from the process's Metrics), `GET /healthz` (200 while the process runs its event loop) and
 * `GET /readyz` (200 when the process's own readiness check passes, else 503 with the reasons),
 * for Prometheus and Kubernetes probes. No body is read and no other path or method is served.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import type { Metrics } from './metrics.js';

/** What /readyz reports: ready, or not with the reasons (short strings, e.g. "clock out of bounds"). */
export interface Readiness {
  ready: boolean;
  reasons: string[];
}

export interface ProbeServerOptions {
  metrics: Metrics;
  readiness: () => Readiness;
  port: number;
  /** Default 127.0.0.1; in a pod, 0.0.0.0 so the kubelet and Prometheus reach it. */
  host?: string;
}

export interface ProbeServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** A probe or scrape that takes longer than this is cut (a stuck client must not hold a socket). */
const REQUEST_TIMEOUT_MS = 10_000;
/** Connections at once: a scraper and two probes need a handful. */
const MAX_CONNECTIONS = 64;

/** Serves /metrics, /healthz and /readyz on `port` until closed; resolves once listening. */
export async function serveProbes(opts: ProbeServerOptions): Promise<ProbeServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET') return send(405, 'text/plain; charset=utf-8', 'only GET\n');
    if (path === '/healthz') return send(200, 'application/json', JSON.stringify({ ok: true }) + '\n');
    if (path === '/readyz') {
      const r = opts.readiness();
      return send(r.ready ? 200 : 503, 'application/json', JSON.stringify(r) + '\n');
    }
    if (path === '/metrics') {
      // A failing collector is a bug: answer 500 with it rather than a partial exposition.
      opts.metrics.render().then(
        (text) => send(200, opts.metrics.contentType, text),
        (err: unknown) => send(500, 'text/plain; charset=utf-8', `metrics failed: ${String((err as Error)?.message ?? err).slice(0, 500)}\n`),
      );
      return;
    }
    send(404, 'text/plain; charset=utf-8', 'not found: /metrics, /healthz, /readyz\n');
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = REQUEST_TIMEOUT_MS;
  server.maxConnections = MAX_CONNECTIONS;
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

/** The flags every process takes for its probe endpoint (docs/metrics.md); a port of 0 turns it off. */
export const METRICS_FLAGS_HELP = `  --metrics-port <n>          serve /metrics, /healthz, /readyz on this port, default 0 (off)
  --metrics-host <addr>       their listen address, default 127.0.0.1`;

export const metricsFlags = {
  metricsPort: z.coerce.number().int().min(0).max(65_535).default(0),
  metricsHost: z.string().min(1).max(253).default('127.0.0.1'),
};

/** Starts the probe endpoint when `metricsPort` is set (else undefined). */
export async function maybeServeProbes(cfg: { metricsPort: number; metricsHost: string }, metrics: Metrics, readiness: () => Readiness): Promise<ProbeServer | undefined> {
  if (cfg.metricsPort === 0) return undefined;
  return serveProbes({ metrics, readiness, port: cfg.metricsPort, host: cfg.metricsHost });
}
