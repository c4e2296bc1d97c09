// @ts-check
// Read-mostly: readers do bounded-staleness reads (nearest replica, `maxStalenessMs`) of single
// keys and of several keys in one snapshot, while one writer keeps updating keys. Env:
// SYNOD_GATEWAY, SYNOD_TOKEN, KEYS (100), VUS (6 readers), DURATION (30s), STALENESS_MS (5000),
// P99_MS (1000).
import { check, fail, sleep } from 'k6';
import { Trend } from 'k6/metrics';
import { batchGet, env, envInt, getKey, putKey, runId, txn } from './lib/gateway.js';

const KEYS = envInt('KEYS', 100);
const STALENESS_MS = envInt('STALENESS_MS', 5000);
const DURATION = env('DURATION', '30s');
const P99_MS = envInt('P99_MS', 1000);
const staleRead = new Trend('stale_read_duration', true);

export const options = {
  scenarios: {
    readers: { executor: 'constant-vus', vus: envInt('VUS', 6), duration: DURATION, exec: 'read' },
    writer: { executor: 'constant-vus', vus: 1, duration: DURATION, exec: 'write' },
  },
  thresholds: {
    stale_read_duration: [`p(99)<${P99_MS}`],
    http_req_duration: [`p(99)<${P99_MS}`],
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
  },
};

/** @param {string} run @param {number} i */
const keyOf = (run, i) => `rm/${run}/${String(i).padStart(6, '0')}`;
const any = () => Math.floor(Math.random() * KEYS);

export function setup() {
  const run = runId();
  const res = txn({ id: `rm-${run}-load`, writes: Array.from({ length: KEYS }, (_, i) => ({ key: keyOf(run, i), value: { n: 0 } })) });
  if (res.status !== 200) fail(`loading ${KEYS} keys: ${res.status} ${res.body}`);
  return { run };
}

/** @param {{run: string}} data */
export function read(data) {
  if (Math.random() < 0.9) {
    const res = getKey(keyOf(data.run, any()), { maxStalenessMs: STALENESS_MS });
    staleRead.add(res.timings.duration);
    // Every key was written before the readers started, so even a stale read finds it.
    check(res, { 'stale read found': (r) => r.status === 200 && typeof (/** @type {any} */ (r.json()).value?.n) === 'number' });
  } else {
    const res = batchGet(Array.from({ length: 5 }, () => keyOf(data.run, any())), { maxStalenessMs: STALENESS_MS });
    staleRead.add(res.timings.duration);
    check(res, { 'stale snapshot found all': (r) => r.status === 200 && /** @type {any} */ (r.json()).results.every((/** @type {any} */ x) => x.found) });
  }
}

/** @param {{run: string}} data */
export function write(data) {
  check(putKey(keyOf(data.run, any()), { n: __ITER + 1 }), { 'write committed': (r) => r.status === 200 });
  sleep(0.05);
}
