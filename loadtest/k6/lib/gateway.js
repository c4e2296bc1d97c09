// @ts-check
// The gateway's HTTP API (docs/gateway.md) as the scripts use it. Plain k6: imports k6 modules only.
import http from 'k6/http';

/** The gateway's address: SYNOD_GATEWAY, default the address `synod gateway` listens on. */
export const BASE = (__ENV.SYNOD_GATEWAY || 'http://127.0.0.1:8080').replace(/\/+$/, '');

/** @type {Record<string, string>} */
const HEADERS = { 'Content-Type': 'application/json' };
if (__ENV.SYNOD_TOKEN) HEADERS.Authorization = `Bearer ${__ENV.SYNOD_TOKEN}`;

/** An env var as a positive integer, or `dflt`. @param {string} name @param {number} dflt */
export function envInt(name, dflt) {
  const v = __ENV[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got "${v}"`);
  return n;
}

/** An env var as a string, or `dflt`. @param {string} name @param {string} dflt */
export const env = (name, dflt) => __ENV[name] || dflt;

/**
 * @param {Record<string, string>} [tags]
 * @param {number[]} [expected] statuses that are not failures (http_req_failed); default 2xx/3xx
 * @returns {import('k6/http').RefinedParams<'text'>}
 */
function params(tags, expected) {
  return { headers: HEADERS, ...(tags ? { tags } : {}), ...(expected ? { responseCallback: http.expectedStatuses(...expected) } : {}) };
}

const enc = encodeURIComponent;

/** GET /v1/kv/{key}, strong or with `?maxStalenessMs=`; a 404 (absent key) is expected. @param {string} key @param {{maxStalenessMs?: number}} [opts] */
export function getKey(key, opts = {}) {
  const q = opts.maxStalenessMs !== undefined ? `?maxStalenessMs=${opts.maxStalenessMs}` : '';
  return http.get(`${BASE}/v1/kv/${enc(key)}${q}`, params({ name: opts.maxStalenessMs !== undefined ? 'GET /v1/kv/{key}?maxStalenessMs' : 'GET /v1/kv/{key}' }, [200, 404]));
}

/** PUT /v1/kv/{key} @param {string} key @param {unknown} value */
export const putKey = (key, value) => http.put(`${BASE}/v1/kv/${enc(key)}`, JSON.stringify({ value }), params({ name: 'PUT /v1/kv/{key}' }));

/** DELETE /v1/kv/{key} @param {string} key */
export const deleteKey = (key) => http.del(`${BASE}/v1/kv/${enc(key)}`, null, { headers: HEADERS.Authorization ? { Authorization: HEADERS.Authorization } : {}, tags: { name: 'DELETE /v1/kv/{key}' } });

/**
 * POST /v1/kv:batchGet: every key at one timestamp (one snapshot), strong or bounded-stale.
 * @param {string[]} keys @param {{maxStalenessMs?: number}} [opts]
 */
export const batchGet = (keys, opts = {}) => http.post(`${BASE}/v1/kv:batchGet`, JSON.stringify({ keys, ...opts }), params({ name: 'POST /v1/kv:batchGet' }));

/** GET /v1/kv?start=&end=&limit= @param {string} start @param {string} end @param {number} limit */
export const scan = (start, end, limit) => http.get(`${BASE}/v1/kv?start=${enc(start)}&end=${enc(end)}&limit=${limit}`, params({ name: 'GET /v1/kv' }));

/**
 * @typedef {{key: string, equals?: unknown, absent?: boolean, present?: boolean}} Condition
 * @typedef {{key: string, value?: unknown, delete?: boolean}} Write
 */

/**
 * POST /v1/txn: one read-write transaction; 409 (a condition failed) is an expected answer.
 * @param {{id: string, reads?: string[], conditions?: Condition[], writes?: Write[]}} txn
 */
export const txn = (txn) => http.post(`${BASE}/v1/txn`, JSON.stringify(txn), params({ name: 'POST /v1/txn' }, [200, 409]));

/** The values of a batchGet answer by key (absent keys left out). @param {import('k6/http').RefinedResponse<any>} res */
export function valuesOf(res) {
  /** @type {Record<string, any>} */
  const out = {};
  const body = /** @type {{results: Array<{key: string, found: boolean, value?: unknown}>}} */ (/** @type {unknown} */ (res.json()));
  for (const r of body.results) if (r.found) out[r.key] = r.value;
  return out;
}

/** A run id, so keys and transaction ids of one run do not meet those of an earlier one. */
export const runId = () => `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
