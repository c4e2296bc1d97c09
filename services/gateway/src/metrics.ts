/**
 * The gateway's /metrics (docs/metrics.md): Prometheus text of the process's registry (the bus's,
 * one per process, with the client's and the bus's counters) plus a latency histogram of every
 * HTTP request it answered. /healthz and /readyz are the gateway's own (docs/gateway.md).
 */
import type { Metrics } from '@synod/config';
import type { Gateway } from './server.js';

/** Adds request timing and `GET /metrics` to a gateway built by buildGateway, before it listens. */
export function addMetrics(gw: Gateway, metrics: Metrics): void {
  metrics.collectProcessMetrics();
  gw.app.addHook('onResponse', async (req, reply) => {
    // The route pattern, not the URL: keys in paths must not become label values (bounded series).
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.observe('synod_gateway_request_seconds', reply.elapsedTime / 1000, { route, method: req.method, status: String(reply.statusCode) });
  });
  gw.app.get('/metrics', async (_req, reply) => {
    const text = await metrics.render();
    return reply.code(200).header('content-type', metrics.contentType).send(text);
  });
}
