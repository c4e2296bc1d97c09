/**
 * The k6 runner (loadtest/k6-runner) through `node loadtest/k6.mjs run`, with tiny k6 scripts
 * against a local HTTP server: k6's exit codes for passing and failing thresholds and checks, a
 * script exception in setup, and options the runner does not support.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runK6 } from './run-k6.js';

let server: Server;
let url: string;
let dir: string;

beforeAll(async () => {
  // /ok answers 200 with JSON, /missing 404: enough for http_req_failed and checks.
  server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.statusCode = req.url === '/missing' ? 404 : 200;
    res.end(JSON.stringify({ ok: req.url !== '/missing', method: req.method }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = mkdtempSync(join(tmpdir(), 'k6-runner-'));
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

/** Writes a k6 script whose body follows the common imports, and runs it. */
async function run(name: string, body: string) {
  const file = join(dir, `${name}.js`);
  writeFileSync(file, `import http from 'k6/http';\nimport { check, group, sleep } from 'k6';\nimport { Counter, Rate, Trend, Gauge } from 'k6/metrics';\n${body}\n`);
  const r = await runK6([file], 30_000, { TARGET: url });
  return { ...r, report: `exit ${r.code}\nstdout:\n${r.out}\nstderr:\n${r.err}` };
}

describe('exit codes', () => {
  it('0 when every threshold holds; the summary names the checks, groups and thresholds', async () => {
    const r = await run(
      'pass',
      `export const options = { scenarios: { s: { executor: 'per-vu-iterations', vus: 2, iterations: 3 } },
         thresholds: { http_req_failed: ['rate<0.01'], checks: ['rate==1'], iterations: ['count==6'], my_count: ['count==6'], my_trend: ['max<100'] } };
       const c = new Counter('my_count'); const t = new Trend('my_trend'); const g = new Gauge('my_gauge');
       export function setup() { return { n: 5 }; }
       export default function (data) {
         group('reads', () => {
           const res = http.get(__ENV.TARGET + '/ok', { headers: { 'X-Vu': String(__VU) } });
           check(res, { 'status 200': (r) => r.status === 200, 'json ok': (r) => r.json().ok === true });
         });
         c.add(1); t.add(data.n); g.add(__ITER); sleep(0.01);
       }`,
    );
    expect(r.code, r.report).toBe(0);
    expect(r.out).toMatch(/█ reads/);
    expect(r.out).toMatch(/✓ status 200/);
    expect(r.out).toMatch(/✓ iterations 'count==6' \(6\)/);
    expect(r.out).toMatch(/✓ my_trend 'max<100' \(5\)/);
  });

  it('99 when a threshold on latency fails', async () => {
    const r = await run(
      'slow',
      `export const options = { iterations: 2, thresholds: { http_req_duration: ['p(99)<0'] } };
       export default function () { http.get(__ENV.TARGET + '/ok'); }`,
    );
    expect(r.code, r.report).toBe(99);
    expect(r.out).toMatch(/✗ http_req_duration 'p\(99\)<0'/);
    expect(r.err).toMatch(/thresholds on metrics 'http_req_duration' have been crossed/);
  });

  it('99 when a check fails under a threshold on checks, and on http_req_failed for a 404', async () => {
    const r = await run(
      'check',
      `export const options = { iterations: 3, thresholds: { checks: ['rate==1'], http_req_failed: ['rate<0.5'] } };
       export default function () { check(http.get(__ENV.TARGET + '/missing'), { 'found': (r) => r.status === 200 }); }`,
    );
    expect(r.code, r.report).toBe(99);
    expect(r.out).toMatch(/✗ found/);
    expect(r.out).toMatch(/✗ checks 'rate==1' \(0\)/);
    expect(r.out).toMatch(/✗ http_req_failed 'rate<0.5' \(1\)/);
  });

  it('0 for a failing check without a threshold on it, and a 404 declared expected is no failure', async () => {
    const r = await run(
      'expected',
      `export const options = { iterations: 2, thresholds: { http_req_failed: ['rate==0'] } };
       export default function () {
         const res = http.get(__ENV.TARGET + '/missing', { responseCallback: http.expectedStatuses(200, 404) });
         check(res, { 'found': (r) => r.status === 200 });
       }`,
    );
    expect(r.code, r.report).toBe(0);
    expect(r.out).toMatch(/✗ found/);
  });

  it('99 for a threshold on a custom Rate that saw a false', async () => {
    const r = await run(
      'rate',
      `const ok = new Rate('all_ok');
       export const options = { scenarios: { a: { executor: 'shared-iterations', vus: 2, iterations: 4 } }, thresholds: { all_ok: ['rate==1'] } };
       export default function () { ok.add(__ITER !== 1); }`,
    );
    expect(r.code, r.report).toBe(99);
    expect(r.out).toMatch(/✗ all_ok 'rate==1'/);
  });

  it('107 when setup throws, and the iterations never run', async () => {
    const r = await run(
      'setup-throws',
      `const n = new Counter('ran');
       export const options = { iterations: 1, thresholds: { ran: ['count==0'] } };
       export function setup() { throw new Error('no accounts'); }
       export default function () { n.add(1); }`,
    );
    expect(r.code, r.report).toBe(107);
    expect(r.err).toMatch(/setup: Error: no accounts/);
  });

  it('104 for options the runner does not support, named in the error', async () => {
    const executor = await run('ramping', `export const options = { scenarios: { r: { executor: 'ramping-vus', stages: [] } } };\nexport default function () {}`);
    expect(executor.code, executor.report).toBe(104);
    expect(executor.err).toMatch(/executor "ramping-vus" is not supported/);
    const threshold = await run('bad-threshold', `export const options = { thresholds: { http_reqs: ['count is big'] } };\nexport default function () {}`);
    expect(threshold.code, threshold.report).toBe(104);
    expect(threshold.err).toMatch(/threshold "count is big" is not understood/);
  });
});

it('an exception in an iteration is logged and counted, and the test goes on (as in k6)', async () => {
  const r = await run(
    'iteration-throws',
    `export const options = { iterations: 3, thresholds: { iterations: ['count==2'] } };
     export default function () { if (__ITER === 0) throw new Error('boom'); }`,
  );
  expect(r.code, r.report).toBe(0);
  expect(r.err).toMatch(/Error: boom/);
  expect(r.out).toMatch(/iterations with an exception: 1/);
});
