// @ts-check
// Hot-key contention: every VU increments one counter in read-write transactions conditioned on
// the value read, and its own tally in the same transaction. Conflicts are retried by the next
// iteration; in the end the counter must equal the sum of the tallies (no lost or doubled
// increment). Env: SYNOD_GATEWAY, SYNOD_TOKEN, VUS (8), DURATION (30s), P99_MS (2000).
import { check } from 'k6';
import { Counter, Rate } from 'k6/metrics';
import { batchGet, env, envInt, runId, scan, txn, valuesOf } from './lib/gateway.js';

const commits = new Counter('hot_commits');
const conflicts = new Counter('hot_conflicts');
const invariantOk = new Rate('hot_invariant_ok');

export const options = {
  scenarios: { contend: { executor: 'constant-vus', vus: envInt('VUS', 8), duration: env('DURATION', '30s') } },
  thresholds: {
    hot_invariant_ok: ['rate==1'],
    hot_commits: ['count>0'],
    http_req_failed: ['rate<0.01'],
    http_req_duration: [`p(99)<${envInt('P99_MS', 2000)}`],
  },
};

export function setup() {
  const run = runId();
  return { run, hot: `hot/${run}/counter`, tallies: `hot/${run}/vu/` };
}

/** @param {string} key @param {unknown} value */
const expect = (key, value) => (value === undefined ? { key, absent: true } : { key, equals: value });

/** @param {{run: string, hot: string, tallies: string}} data */
export default function (data) {
  const mine = `${data.tallies}${String(__VU).padStart(4, '0')}`;
  const read = batchGet([data.hot, mine]);
  if (!check(read, { 'read counter': (r) => r.status === 200 })) return;
  const v = valuesOf(read);
  const res = txn({
    id: `hot-${data.run}-${__VU}-${__ITER}`,
    conditions: [expect(data.hot, v[data.hot]), expect(mine, v[mine])],
    writes: [{ key: data.hot, value: (v[data.hot] ?? 0) + 1 }, { key: mine, value: (v[mine] ?? 0) + 1 }],
  });
  check(res, { 'increment answered': (r) => r.status === 200 || r.status === 409 });
  if (res.status === 200) commits.add(1);
  else if (res.status === 409) conflicts.add(1);
}

/** The counter against the sum of the tallies (at most 1,000 VUs: one scan page). @param {{hot: string, tallies: string}} data */
export function teardown(data) {
  const rows = scan(data.tallies, data.tallies.replace(/\/$/, '0'), 1000);
  const counter = batchGet([data.hot]);
  if (!check(rows, { 'tallies read': (r) => r.status === 200 }) || !check(counter, { 'counter read': (r) => r.status === 200 })) return;
  const tallies = /** @type {{rows: Array<{value: number}>}} */ (/** @type {unknown} */ (rows.json())).rows.reduce((s, r) => s + r.value, 0);
  const total = valuesOf(counter)[data.hot] ?? 0;
  invariantOk.add(total === tallies);
  check(total, { 'counter equals the tallies': (t) => t === tallies });
}
