/**
 * The gateway as an operator runs it (docs/gateway.md), over a real 3-DC cluster: its OpenAPI
 * document (valid OpenAPI 3.1, listing exactly the routes the server registers), the per-client
 * rate limit, --insecure, TLS, --help, refusing to start without auth, and a SIGTERM that lets
 * the request in flight finish.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { buildGateway, openApiPath } from '@synod/gateway';
import { describe, expect, it, vi } from 'vitest';
import { exitedProcesses, sleep, useTestCluster } from '../cluster/helpers.js';
import { api, runSynod, startGateway } from './gateway-process.js';

// Processes start and the cluster commits on a machine shared with other test runs: no 5 s default.
vi.setConfig({ testTimeout: 30_000 });
const cluster = useTestCluster({ truetime: 'local', epsilonMs: 2 });

describe('OpenAPI', () => {
  it('is a valid OpenAPI 3.1 document that lists every route the server registers, and only those', async () => {
    const tc = cluster();
    const gw = buildGateway({ client: await tc.client('dc-a', 'gw-openapi'), insecure: true, probeEveryMs: 0 });
    try {
      await gw.app.ready();
      const res = await gw.app.inject({ method: 'GET', url: '/openapi.json' });
      expect(res.statusCode).toBe(200);
      const doc = res.json() as { openapi: string; paths: Record<string, Record<string, { security: unknown[] }>> };
      const result = await new Validator().validate(doc);
      expect(result.errors ?? []).toEqual([]);
      expect(result.valid).toBe(true);
      expect(doc.openapi).toBe('3.1.0');

      const registered = gw.registeredRoutes.map((r) => `${r.method} ${openApiPath(r.url)}`).sort();
      const documented = Object.entries(doc.paths)
        .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
        .sort();
      expect(registered.length).toBeGreaterThanOrEqual(11);
      expect(documented).toEqual(registered);
      // Probes and the document are public; every data route asks for the bearer token.
      expect(doc.paths['/healthz']!.get!.security).toEqual([]);
      expect(doc.paths['/v1/txn']!.post!.security).toEqual([{ bearer: [] }]);
    } finally {
      await gw.close();
    }
  });
});

describe('synod gateway process', () => {
  it('--help lists its flags', async () => {
    const r = await runSynod(['gateway', '--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--host', '--port', 'default 8080', '--data-dir', '--cluster-file', '--token-file', '--insecure', '--tls-cert', '--tls-key', '--rate-limit-per-sec', '--rate-limit-burst', '--body-limit-bytes'])
      expect(r.out, flag).toContain(flag);
    expect(r.out).toContain('--max-in-flight');
  });

  it('refuses to start without --token-file or --insecure, and with a weak token', async () => {
    const dir = cluster().dir;
    const none = await runSynod(['gateway', '--data-dir', dir, '--port', '0']);
    expect(none.code).toBe(2);
    expect(none.err).toContain('INVALID_ARGUMENT');
    expect(none.err).toContain('--token-file');
    const weak = join(dir, 'weak-tokens');
    writeFileSync(weak, 'short\n');
    const w = await runSynod(['gateway', '--data-dir', dir, '--port', '0', '--token-file', weak]);
    expect(w.code).toBe(2);
    expect(w.err).toContain('shorter than 16');
  });

  it('--insecure serves without tokens; the per-client rate limit answers 429 with Retry-After, probes are exempt', async () => {
    const gw = await startGateway(['--data-dir', cluster().dir, '--insecure', '--rate-limit-per-sec', '1', '--rate-limit-burst', '3']);
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await api(gw.url, 'GET', '/v1/kv/rl-missing')).status);
      expect(statuses).toEqual([404, 404, 404]);
      const limited = await api(gw.url, 'GET', '/v1/kv/rl-missing');
      expect(limited.status).toBe(429);
      expect(limited.body.code).toBe('RATE_LIMITED');
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      // A write is refused too: nothing reaches the cluster.
      expect((await api(gw.url, 'PUT', '/v1/kv/rl-write', { body: { value: 1 } })).status).toBe(429);
      expect((await api(gw.url, 'GET', '/healthz')).status).toBe(200);
      expect((await api(gw.url, 'GET', '/openapi.json')).status).toBe(200);
      // A token comes back after a second.
      await sleep(1_100);
      expect((await api(gw.url, 'GET', '/v1/kv/rl-write')).status).toBe(404);
    } finally {
      expect(await gw.stop()).toBe(0);
    }
  });

  it('--max-in-flight: a request past the maximum in flight is 503 UNAVAILABLE with Retry-After; the others finish', async () => {
    const gw = await startGateway(['--data-dir', cluster().dir, '--insecure', '--max-in-flight', '2']);
    try {
      // Reads at a timestamp 1.5 s ahead wait at the server: two of them fill the gateway.
      const ts = (Date.now() + 1_500) * 1000;
      const slow = [0, 1].map(() => api(gw.url, 'POST', '/v1/kv:batchGet', { body: { keys: ['inflight-key'], ts } }));
      await sleep(300);
      const third = await api(gw.url, 'GET', '/v1/kv/inflight-key');
      expect(third.status).toBe(503);
      expect(third.body.code).toBe('UNAVAILABLE');
      expect(third.headers.get('retry-after')).toBe('1');
      expect((await api(gw.url, 'GET', '/healthz')).status).toBe(200);
      expect((await Promise.all(slow)).map((r) => r.status)).toEqual([200, 200]);
      // Their slots are free again.
      expect((await api(gw.url, 'GET', '/v1/kv/inflight-key')).status).toBe(404);
    } finally {
      expect(await gw.stop()).toBe(0);
    }
  });

  it('serves HTTPS with --tls-cert/--tls-key', async () => {
    const dir = cluster().dir;
    const [key, cert] = [join(dir, 'tls.key'), join(dir, 'tls.crt')];
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const gw = await startGateway(['--data-dir', dir, '--insecure', '--tls-cert', cert, '--tls-key', key]);
    try {
      expect(gw.url).toMatch(/^https:\/\//);
      const body = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = request(`${gw.url}/v1/cluster`, { ca: readFileSync(cert), timeout: 10_000 }, (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        });
        req.on('error', reject);
        req.end();
      });
      expect(body.status).toBe(200);
      expect(JSON.parse(body.text).nodes).toHaveLength(3);
      // Plain HTTP to the TLS port gets no JSON answer.
      await expect(fetch(gw.url.replace('https:', 'http:') + '/healthz', { signal: AbortSignal.timeout(5_000) })).rejects.toThrow();
    } finally {
      expect(await gw.stop()).toBe(0);
    }
  });

  it('on SIGTERM finishes the request in flight, then exits 0; the cluster stays up', async () => {
    const gw = await startGateway(['--data-dir', cluster().dir, '--insecure']);
    // A read at a timestamp 700 ms ahead waits at the server until the cluster's time passes it.
    const ts = (Date.now() + 700) * 1000;
    const inFlight = api(gw.url, 'POST', '/v1/kv:batchGet', { body: { keys: ['drain-key'], ts } });
    await sleep(200);
    const exit = gw.stop();
    const r = await inFlight;
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.ts).toBe(ts);
    expect(await exit).toBe(0);
    await expect(fetch(gw.url + '/healthz', { signal: AbortSignal.timeout(5_000) })).rejects.toThrow();
    expect(exitedProcesses(cluster())).toEqual([]);
  });
});
