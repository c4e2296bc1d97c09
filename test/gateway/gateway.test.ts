/**
 * The HTTP gateway (docs/gateway.md) as a `synod gateway` process over a real 3-DC cluster (three
 * spanservers, nats-server): every endpoint, and bad input of every kind answered with a JSON
 * error of the documented status and code while the cluster and the gateway stay up.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { exitedProcesses, useTestCluster, waitFor } from '../cluster/helpers.js';
import { api, rawRequest, startGateway, type GatewayProcess } from './gateway-process.js';

const TOKEN = 'test-token-0123456789abcdef';
// Processes start and the cluster commits on a machine shared with other test runs: no 5 s default.
vi.setConfig({ testTimeout: 30_000 });
const cluster = useTestCluster({ truetime: 'local', epsilonMs: 2 });
let gw: GatewayProcess;
const call = (method: string, path: string, opts: Parameters<typeof api>[3] = {}) => api(gw.url, method, path, { token: TOKEN, ...opts });
const enc = encodeURIComponent;

beforeAll(async () => {
  const dir = cluster().dir;
  const tokenFile = join(dir, 'tokens');
  writeFileSync(tokenFile, `# gateway tokens\n\n${TOKEN}\nsecond-token-abcdefghijklmnop\n`);
  gw = await startGateway(['--data-dir', dir, '--token-file', tokenFile]);
}, 60_000);
afterAll(async () => {
  await gw?.stop();
});

/** The gateway and every cluster process are up, and a normal request succeeds. */
async function expectUnharmed(): Promise<void> {
  expect(gw.proc.exitCode).toBeNull();
  expect(exitedProcesses(cluster())).toEqual([]);
  const put = await call('PUT', '/v1/kv/canary', { body: { value: { ok: true } } });
  expect(put.status).toBe(200);
  const get = await call('GET', '/v1/kv/canary');
  expect(get.body).toMatchObject({ key: 'canary', value: { ok: true } });
}

describe('probes and auth', () => {
  it('serves /healthz, /readyz and /openapi.json without a token; /readyz turns ready once the cluster answers', async () => {
    expect(await api(gw.url, 'GET', '/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect((await api(gw.url, 'GET', '/openapi.json')).body.openapi).toBe('3.1.0');
    const ready = await waitFor('/readyz 200', 10_000, async () => {
      const r = await api(gw.url, 'GET', '/readyz');
      return r.status === 200 ? r : undefined;
    });
    expect(ready.body.ready).toBe(true);
    expect(ready.body.lastClusterOkAgoMs).toBeLessThanOrEqual(10_000);
  });

  it('answers 401 UNAUTHENTICATED without a token, with a wrong one and with another scheme', async () => {
    for (const authorization of [undefined, 'Bearer wrong-token-0123456789abcdef', `Basic ${TOKEN}`, `Bearer ${TOKEN}x`, 'Bearer']) {
      const r = await api(gw.url, 'GET', '/v1/cluster', authorization ? { headers: { authorization } } : {});
      expect(r.status, String(authorization)).toBe(401);
      expect(r.body.code).toBe('UNAUTHENTICATED');
      expect(r.headers.get('www-authenticate')).toBe('Bearer');
    }
    // Not even a write goes through without a token.
    const w = await api(gw.url, 'PUT', '/v1/kv/no-token', { body: { value: 1 } });
    expect(w.status).toBe(401);
    expect((await call('GET', '/v1/kv/no-token')).status).toBe(404);
  });

  it('serves /metrics without a token, like the probes, while the API stays closed (docs/metrics.md)', async () => {
    const m = await fetch(`${gw.url}/metrics`);
    expect(m.status).toBe(200);
    expect(await m.text()).toMatch(/^# (HELP|TYPE) /m);
    expect((await api(gw.url, 'GET', '/v1/cluster')).status).toBe(401);
  });

  it('accepts every token of the file', async () => {
    expect((await api(gw.url, 'GET', '/v1/cluster', { token: 'second-token-abcdefghijklmnop' })).status).toBe(200);
  });
});

describe('endpoints', () => {
  it('GET /v1/cluster: three spanservers up and every split with a leader', async () => {
    const r = await call('GET', '/v1/cluster');
    expect(r.status).toBe(200);
    expect(r.body.nodes.map((n: { node: string }) => n.node).sort()).toEqual(['n1', 'n2', 'n3']);
    expect(r.body.nodes.every((n: { up: boolean }) => n.up)).toBe(true);
    expect(r.body.splits.map((s: { id: string; start: string }) => s.start)).toEqual(['', 'g', 'p']);
    expect(r.body.splits.every((s: { leader: string | null }) => s.leader !== null)).toBe(true);
  });

  it('PUT, GET and DELETE one key (with "/" and non-ASCII in it) holding a JSON value', async () => {
    const key = 'users/zoë/1';
    const value = { name: 'Zoë', tags: ['a', 'b'], n: 1.5, nested: { ok: null } };
    const put = await call('PUT', `/v1/kv/${enc(key)}`, { body: { value } });
    expect(put.status).toBe(200);
    expect(put.body.ts).toBeGreaterThan(0);
    expect(typeof put.body.txnId).toBe('string');
    const get = await call('GET', `/v1/kv/${enc(key)}`);
    expect(get).toMatchObject({ status: 200, body: { key, value } });
    expect(get.body.ts).toBeGreaterThanOrEqual(put.body.ts);
    // Unencoded slashes reach the same key.
    expect((await call('GET', '/v1/kv/users/zo%C3%AB/1')).body.value).toEqual(value);
    const del = await call('DELETE', `/v1/kv/${enc(key)}`);
    expect(del.status).toBe(200);
    expect(del.body.ts).toBeGreaterThan(put.body.ts);
    const gone = await call('GET', `/v1/kv/${enc(key)}`);
    expect(gone.status).toBe(404);
    expect(gone.body.code).toBe('NOT_FOUND');
    expect(gone.body.hint.ts).toBeGreaterThanOrEqual(del.body.ts);
    // The value before the delete is still there at a snapshot below it.
    const before = await call('GET', `/v1/kv/${enc(key)}?ts=${del.body.ts - 1}`);
    expect(before.body.value).toEqual(value);
  });

  it('POST /v1/kv:batchGet: strong across three splits at one ts, at a snapshot ts, and with bounded staleness', async () => {
    const keys = ['bg-a', 'h-bg', 'q-bg'];
    const first: number[] = [];
    for (const k of keys) first.push((await call('PUT', `/v1/kv/${k}`, { body: { value: `${k}@1` } })).body.ts);
    const t1 = Math.max(...first);
    for (const k of keys) await call('PUT', `/v1/kv/${k}`, { body: { value: `${k}@2` } });

    const strong = await call('POST', '/v1/kv:batchGet', { body: { keys: [...keys, 'bg-missing'] } });
    expect(strong.status).toBe(200);
    expect(strong.body.results).toEqual([...keys.map((key) => ({ key, found: true, value: `${key}@2` })), { key: 'bg-missing', found: false }]);
    expect(strong.body.ts).toBeGreaterThan(t1);

    const snap = await call('POST', '/v1/kv:batchGet', { body: { keys, ts: t1 } });
    expect(snap.body).toEqual({ ts: t1, results: keys.map((key) => ({ key, found: true, value: `${key}@1` })) });

    const stale = await call('POST', '/v1/kv:batchGet', { body: { keys, maxStalenessMs: 60_000 } });
    expect(stale.status).toBe(200);
    expect(stale.body.ts).toBeGreaterThanOrEqual(Date.now() * 1000 - 61_000_000);
    expect(stale.body.results).toHaveLength(3);
  });

  it('GET /v1/kv scans across a split boundary in pages, every page at the first page\'s snapshot', async () => {
    // Five keys below the split boundary "g" and two above it; nothing else in [start, end).
    const keys = ['fz-scan-1', 'fz-scan-2', 'fz-scan-3', 'fz-scan-4', 'fz-scan-5', 'g-scan-1', 'g-scan-2'];
    for (const k of keys) expect((await call('PUT', `/v1/kv/${k}`, { body: { value: k } })).status).toBe(200);
    const start = 'fz-scan-';
    const end = 'g-scan-~';
    const first = await call('GET', `/v1/kv?start=${start}&end=${enc(end)}&limit=3`);
    expect(first.status).toBe(200);
    expect(first.body.rows.map((r: { key: string }) => r.key)).toEqual(keys.slice(0, 3));
    // Written after the first page: not in the scan's snapshot.
    await call('PUT', '/v1/kv/fz-scan-4a', { body: { value: 'late' } });
    await call('DELETE', '/v1/kv/g-scan-2');
    const seen = [...first.body.rows];
    let token: string | undefined = first.body.nextPageToken;
    let pages = 1;
    while (token) {
      const page = await call('GET', `/v1/kv?limit=3&pageToken=${token}`);
      expect(page.status).toBe(200);
      expect(page.body.ts).toBe(first.body.ts);
      seen.push(...page.body.rows);
      token = page.body.nextPageToken;
      pages++;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(keys.map((k) => ({ key: k, value: k })));
    // A fresh scan sees the later writes.
    const now = await call('GET', `/v1/kv?start=${start}&end=${enc(end)}&limit=100`);
    expect(now.body.rows.map((r: { key: string }) => r.key)).toEqual([...keys.slice(0, 4), 'fz-scan-4a', keys[4], keys[5]]);
    expect(now.body.nextPageToken).toBeUndefined();
  });

  it('POST /v1/txn: reads, conditions and writes across splits; a repeated id gets the first answer; GET /v1/txn/{id} reports it', async () => {
    await call('PUT', '/v1/kv/acct-a', { body: { value: 100 } });
    await call('PUT', '/v1/kv/zz-acct', { body: { value: 0 } });
    const req = {
      id: 'transfer-1',
      reads: ['acct-a', 'zz-acct'],
      conditions: [{ key: 'acct-a', equals: 100 }, { key: 'txn-marker', absent: true }, { key: 'zz-acct', present: true }],
      writes: [
        { key: 'acct-a', value: 90 },
        { key: 'zz-acct', value: 10 },
        { key: 'txn-marker', value: 'transfer-1' },
      ],
    };
    const r = await call('POST', '/v1/txn', { body: req });
    expect(r.status).toBe(200);
    // The outcome lives at the first split written, in split id order (docs/transactions.md).
    const split = ['acct-a', 'zz-acct', 'txn-marker'].map((k) => cluster().cluster.rangeMap.splitFor(k).id).sort()[0];
    expect(new Set(['acct-a', 'zz-acct'].map((k) => cluster().cluster.rangeMap.splitFor(k).id)).size).toBe(2);
    expect(r.body).toMatchObject({ id: 'transfer-1', state: 'committed', split, reads: [{ key: 'acct-a', found: true, value: 100 }, { key: 'zz-acct', found: true, value: 0 }] });
    expect(r.body.ts).toBeGreaterThan(0);
    const after = await call('POST', '/v1/kv:batchGet', { body: { keys: ['acct-a', 'zz-acct', 'txn-marker'] } });
    expect(after.body.results.map((x: { value: unknown }) => x.value)).toEqual([90, 10, 'transfer-1']);

    // Again with the same id: the recorded answer, nothing runs (it would now fail its conditions).
    const again = await call('POST', '/v1/txn', { body: req });
    expect(again).toMatchObject({ status: 200, body: r.body });
    expect((await call('GET', '/v1/kv/acct-a')).body.value).toBe(90);

    const status = await call('GET', '/v1/txn/transfer-1');
    expect(status).toMatchObject({ status: 200, body: { id: 'transfer-1', state: 'committed', ts: r.body.ts, txnId: r.body.txnId, split: r.body.split } });

    // The same id with another body is refused.
    const reuse = await call('POST', '/v1/txn', { body: { ...req, writes: [] } });
    expect(reuse.status).toBe(400);
    expect(reuse.body.code).toBe('INVALID_ARGUMENT');
  });

  it('POST /v1/txn: a failed condition writes nothing (409 CONDITION_FAILED) and its status says so', async () => {
    await call('PUT', '/v1/kv/cond-k', { body: { value: { v: 1 } } });
    const r = await call('POST', '/v1/txn', { body: { id: 'cond-1', conditions: [{ key: 'cond-k', equals: { v: 2 } }], writes: [{ key: 'cond-k', value: 'no' }, { key: 'zz-cond', value: 'no' }] } });
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({ code: 'CONDITION_FAILED', hint: { key: 'cond-k' } });
    expect((await call('GET', '/v1/kv/cond-k')).body.value).toEqual({ v: 1 });
    expect((await call('GET', '/v1/kv/zz-cond')).status).toBe(404);
    expect((await call('GET', '/v1/txn/cond-1')).body).toMatchObject({ id: 'cond-1', state: 'condition_failed' });
    const del = await call('POST', '/v1/txn', { body: { id: 'cond-2', conditions: [{ key: 'cond-k', present: true }], writes: [{ key: 'cond-k', delete: true }] } });
    expect(del.status).toBe(200);
    expect((await call('GET', '/v1/kv/cond-k')).status).toBe(404);
    const unknown = await call('GET', '/v1/txn/never-ran');
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('NOT_FOUND');
  });
});

describe('bad input: a JSON error with the documented status and code, the cluster unharmed', () => {
  const cases: Array<{ name: string; method: string; path: string; opts?: Parameters<typeof api>[3]; status: number; code: string }> = [
    { name: 'malformed JSON', method: 'PUT', path: '/v1/kv/bad', opts: { raw: '{"value": 1,' }, status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'empty JSON body', method: 'PUT', path: '/v1/kv/bad', opts: { raw: '' }, status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'a body that is not JSON', method: 'PUT', path: '/v1/kv/bad', opts: { raw: 'value=1', headers: { 'content-type': 'text/plain' } }, status: 415, code: 'INVALID_ARGUMENT' },
    { name: 'missing value', method: 'PUT', path: '/v1/kv/bad', opts: { body: {} }, status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'unknown body field', method: 'PUT', path: '/v1/kv/bad', opts: { body: { value: 1, ttl: 5 } }, status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'unknown field in a transaction write', method: 'POST', path: '/v1/txn', opts: { body: { id: 'bad-1', writes: [{ key: 'a', value: 1, lease: 2 }] } }, status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'unknown query parameter', method: 'GET', path: '/v1/kv/bad?consistency=strong', status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'a body on DELETE', method: 'DELETE', path: '/v1/kv/bad', opts: { body: { value: 1 } }, status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'empty key', method: 'GET', path: '/v1/kv/', status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'bad transaction id', method: 'POST', path: '/v1/txn', opts: { body: { id: 'has space', writes: [] } }, status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'batchGet without keys', method: 'POST', path: '/v1/kv:batchGet', opts: { body: { keys: [] } }, status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'ts and maxStalenessMs together', method: 'POST', path: '/v1/kv:batchGet', opts: { body: { keys: ['a'], ts: 5, maxStalenessMs: 5 } }, status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'ts not a number', method: 'GET', path: '/v1/kv/a?ts=yesterday', status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'negative ts', method: 'GET', path: '/v1/kv/a?ts=-5', status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'ts in exponent form', method: 'GET', path: '/v1/kv/a?ts=1e15', status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'ts past 2^52', method: 'GET', path: '/v1/kv/a?ts=9999999999999999', status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'ts a day ahead of the clock', method: 'GET', path: `/v1/kv/a?ts=${(Date.now() + 86_400_000) * 1000}`, status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'ts in seconds-like size ahead in a body', method: 'POST', path: '/v1/kv:batchGet', opts: { body: { keys: ['a'], ts: 2 ** 52 } }, status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'ts zero', method: 'GET', path: '/v1/kv/a?ts=0', status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'ts as a string in a body', method: 'POST', path: '/v1/kv:batchGet', opts: { body: { keys: ['a'], ts: '1700000000000000' } }, status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'fractional ts in a body', method: 'POST', path: '/v1/kv:batchGet', opts: { body: { keys: ['a'], ts: 1.5 } }, status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'page token not base64url', method: 'GET', path: '/v1/kv?pageToken=not%2Ba%2Btoken!', status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'page token of garbage', method: 'GET', path: `/v1/kv?pageToken=${Buffer.from('garbage').toString('base64url')}`, status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'page token with a wrong version', method: 'GET', path: `/v1/kv?pageToken=${Buffer.from(JSON.stringify({ v: 2, ts: 5, from: 'b', start: 'a', end: '' })).toString('base64url')}`, status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'page token with a bad ts', method: 'GET', path: `/v1/kv?pageToken=${Buffer.from(JSON.stringify({ v: 1, ts: -1, from: 'b', start: 'a', end: '' })).toString('base64url')}`, status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'page token resuming outside its range', method: 'GET', path: `/v1/kv?pageToken=${Buffer.from(JSON.stringify({ v: 1, ts: 5, from: 'z', start: 'a', end: 'c' })).toString('base64url')}`, status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'page token with an extra field', method: 'GET', path: `/v1/kv?pageToken=${Buffer.from(JSON.stringify({ v: 1, ts: 5, from: 'b', start: 'a', end: '', x: 1 })).toString('base64url')}`, status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'scan range backwards', method: 'GET', path: '/v1/kv?start=m&end=c', status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'scan limit over the page maximum', method: 'GET', path: '/v1/kv?limit=1001', status: 400, code: 'INVALID_ARGUMENT' },
    { name: 'key over 4 KiB', method: 'PUT', path: `/v1/kv/${'k'.repeat(5000)}`, opts: { body: { value: 1 } }, status: 413, code: 'KEY_TOO_LARGE' },
    { name: 'value over 1 MiB', method: 'PUT', path: '/v1/kv/big', opts: { body: { value: 'v'.repeat(1_100_000) } }, status: 413, code: 'VALUE_TOO_LARGE' },
    { name: 'unknown route', method: 'GET', path: '/v2/things', status: 404, code: 'NOT_FOUND' },
    { name: 'unknown method on a route', method: 'PATCH', path: '/v1/kv/a', opts: { body: { value: 1 } }, status: 404, code: 'NOT_FOUND' },
  ];
  for (const c of cases)
    it(c.name, async () => {
      const r = await call(c.method, c.path, c.opts);
      expect(r.status, JSON.stringify(r.body).slice(0, 300)).toBe(c.status);
      expect(r.headers.get('content-type')).toMatch(/^application\/json/);
      expect(r.body.code).toBe(c.code);
      expect(typeof r.body.message).toBe('string');
      expect(r.body.message.length).toBeGreaterThan(0);
    });

  it('body over the body limit: 413 BODY_TOO_LARGE before the body is read', async () => {
    const r = await rawRequest(gw.url, 'PUT', '/v1/kv/huge', Buffer.from(JSON.stringify({ value: 'v'.repeat(6 * 1024 * 1024) })), TOKEN);
    expect(r.status).toBe(413);
    expect(r.body).toMatchObject({ code: 'BODY_TOO_LARGE', hint: { limit: 5 * 1024 * 1024 } });
  });

  it('refused writes wrote nothing, and the cluster and the gateway are unharmed', async () => {
    for (const k of ['bad', 'big', 'huge']) expect((await call('GET', `/v1/kv/${k}`)).status).toBe(404);
    await expectUnharmed();
  });
});
