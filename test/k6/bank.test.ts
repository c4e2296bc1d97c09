/**
 * The must-show run of issue 19: `npm run k6 -- loadtest/k6/bank.js` (under the runner) against a
 * real 3-DC cluster and a `synod gateway` process: thresholds judged, the bank's total never
 * changes, the summary printed, exit 0.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { useTestCluster } from '../cluster/helpers.js';
import { startGateway, type GatewayProcess } from '../gateway/gateway-process.js';
import { runK6 } from './run-k6.js';

const TOKEN = 'k6-test-token-0123456789abcdef';
const cluster = useTestCluster({ truetime: 'local', epsilonMs: 2 });
let gw: GatewayProcess;

beforeAll(async () => {
  const tokenFile = join(cluster().dir, 'tokens');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  // The default rate limit (200/s per token) would turn a load test into 429s.
  gw = await startGateway(['--data-dir', cluster().dir, '--token-file', tokenFile, '--rate-limit-per-sec', '100000', '--rate-limit-burst', '100000']);
}, 60_000);
afterAll(async () => {
  await gw?.stop();
});

it('runs bank.js: transfers commit, every audit sees the same total, thresholds pass, exit 0', async () => {
  // P99_MS is generous: the verdict under test is the bank's, not this shared machine's latency.
  const r = await runK6(['-e', 'DURATION=5s', '-e', 'VUS=3', '-e', 'P99_MS=10000', 'loadtest/k6/bank.js'], 90_000, { SYNOD_GATEWAY: gw.url, SYNOD_TOKEN: TOKEN });
  const report = `exit ${r.code}\n${r.out}\n${r.err}`;
  expect(r.code, report).toBe(0);
  expect(r.out, report).toMatch(/✓ bank_total_ok '(rate==1)' \(1\)/);
  expect(r.out, report).toMatch(/✓ bank_audits 'count>0'/);
  expect(r.out, report).toMatch(/✓ bank_transfers 'count>0'/);
  expect(r.out, report).toMatch(/✓ total unchanged/);
  expect(r.out, report).toMatch(/✓ http_req_failed 'rate<0.01'/);
}, 120_000);
