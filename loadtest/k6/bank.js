// @ts-check
// The bank workload: VUs move money between accounts, each transfer one read-write transaction
// conditioned on the balances it read; auditors read every account in one snapshot and check the
// total never changes. Env: SYNOD_GATEWAY, SYNOD_TOKEN, ACCOUNTS (10), VUS (4), DURATION (30s),
// P99_MS (1000). Thresholds: the total always right, <1% failed requests, p(99) latency.
import { check, fail, sleep } from 'k6';
import { Counter, Rate } from 'k6/metrics';
import { batchGet, env, envInt, runId, txn, valuesOf } from './lib/gateway.js';

const ACCOUNTS = envInt('ACCOUNTS', 10);
const INITIAL = 1000;
const TOTAL = ACCOUNTS * INITIAL;
const DURATION = env('DURATION', '30s');
// A transfer whose balances changed under it is retried this often before it gives up.
const ATTEMPTS = 5;

const totalOk = new Rate('bank_total_ok');
const audits = new Counter('bank_audits');
const transfers = new Counter('bank_transfers');
const conflicts = new Counter('bank_conflicts');

export const options = {
  scenarios: {
    transfers: { executor: 'constant-vus', vus: envInt('VUS', 4), duration: DURATION, exec: 'transfer' },
    audits: { executor: 'constant-vus', vus: 1, duration: DURATION, exec: 'audit' },
  },
  thresholds: {
    bank_total_ok: ['rate==1'],
    // An audit that never ran would leave bank_total_ok without samples: require some.
    bank_audits: ['count>0'],
    bank_transfers: ['count>0'],
    http_req_failed: ['rate<0.01'],
    http_req_duration: [`p(99)<${envInt('P99_MS', 1000)}`],
    checks: ['rate>0.99'],
  },
};

/** @param {string} run @param {number} i */
const account = (run, i) => `bank/${run}/acct/${String(i).padStart(4, '0')}`;

export function setup() {
  const run = runId();
  const keys = Array.from({ length: ACCOUNTS }, (_, i) => account(run, i));
  const res = txn({ id: `bank-${run}-open`, writes: keys.map((key) => ({ key, value: INITIAL })) });
  if (res.status !== 200) fail(`opening ${ACCOUNTS} accounts: ${res.status} ${res.body}`);
  return { run, keys };
}

/** @param {{run: string, keys: string[]}} data */
export function transfer(data) {
  const from = Math.floor(Math.random() * ACCOUNTS);
  const to = (from + 1 + Math.floor(Math.random() * (ACCOUNTS - 1))) % ACCOUNTS;
  const a = data.keys[from] ?? '';
  const b = data.keys[to] ?? '';
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const read = batchGet([a, b]);
    if (!check(read, { 'balances read': (r) => r.status === 200 })) return;
    const bal = valuesOf(read);
    const amount = Math.min(1 + Math.floor(Math.random() * 10), bal[a]);
    if (amount <= 0) return;
    const res = txn({
      id: `bank-${data.run}-${__VU}-${__ITER}-${attempt}`,
      conditions: [{ key: a, equals: bal[a] }, { key: b, equals: bal[b] }],
      writes: [{ key: a, value: bal[a] - amount }, { key: b, value: bal[b] + amount }],
    });
    check(res, { 'transfer answered': (r) => r.status === 200 || r.status === 409 });
    if (res.status === 200) {
      transfers.add(1);
      return;
    }
    if (res.status !== 409) return;
    conflicts.add(1);
  }
}

/** Every account in one snapshot (batchGet reads all keys at one timestamp). @param {{keys: string[]}} data */
export function audit(data) {
  const res = batchGet(data.keys);
  if (!check(res, { 'audit read': (r) => r.status === 200 })) return;
  const values = valuesOf(res);
  const sum = data.keys.reduce((s, k) => s + Number(values[k]), 0);
  audits.add(1);
  totalOk.add(sum === TOTAL);
  check(sum, { 'total unchanged': (s) => s === TOTAL });
  sleep(0.1);
}

/** One last audit after every transfer ended. @param {{keys: string[]}} data */
export function teardown(data) {
  audit(data);
}
