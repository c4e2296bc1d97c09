// @ts-check
// A key-value mix over a preloaded key space: strong reads, writes, multi-key snapshot reads,
// scans, and a write-then-delete of a scratch key. Env: SYNOD_GATEWAY, SYNOD_TOKEN, KEYS (100),
// VUS (4), DURATION (30s), P99_MS (1000).
import { check, fail } from 'k6';
import { Counter } from 'k6/metrics';
import { batchGet, deleteKey, env, envInt, getKey, putKey, runId, scan, txn } from './lib/gateway.js';

const KEYS = envInt('KEYS', 100);
const ops = new Counter('kv_ops');

export const options = {
  scenarios: { mix: { executor: 'constant-vus', vus: envInt('VUS', 4), duration: env('DURATION', '30s') } },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    http_req_duration: [`p(99)<${envInt('P99_MS', 1000)}`],
    checks: ['rate>0.99'],
    kv_ops: ['count>0'],
  },
};

/** @param {string} run @param {number} i */
const keyOf = (run, i) => `kv/${run}/${String(i).padStart(6, '0')}`;

export function setup() {
  const run = runId();
  const res = txn({ id: `kv-${run}-load`, writes: Array.from({ length: KEYS }, (_, i) => ({ key: keyOf(run, i), value: { n: 0 } })) });
  if (res.status !== 200) fail(`loading ${KEYS} keys: ${res.status} ${res.body}`);
  return { run };
}

/** @param {{run: string}} data */
export default function (data) {
  const key = keyOf(data.run, Math.floor(Math.random() * KEYS));
  const dice = Math.random();
  if (dice < 0.6) {
    check(getKey(key), { 'get found': (r) => r.status === 200 && /** @type {any} */ (r.json()).value !== undefined });
  } else if (dice < 0.8) {
    check(putKey(key, { n: __ITER, vu: __VU }), { 'put committed': (r) => r.status === 200 });
  } else if (dice < 0.9) {
    const keys = Array.from({ length: 10 }, () => keyOf(data.run, Math.floor(Math.random() * KEYS)));
    check(batchGet(keys), { 'batchGet all found': (r) => r.status === 200 && /** @type {any} */ (r.json()).results.every((/** @type {any} */ x) => x.found) });
  } else if (dice < 0.95) {
    check(scan(`kv/${data.run}/`, `kv/${data.run}0`, 20), { 'scan a page': (r) => r.status === 200 && /** @type {any} */ (r.json()).rows.length === Math.min(20, KEYS) });
  } else {
    const scratch = `kv/${data.run}/scratch/${__VU}`;
    check(putKey(scratch, 'x'), { 'scratch written': (r) => r.status === 200 });
    check(deleteKey(scratch), { 'scratch deleted': (r) => r.status === 200 });
  }
  ops.add(1);
}
