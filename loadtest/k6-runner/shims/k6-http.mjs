// The runner's `k6/http`: synchronous requests (the main thread performs them, see context.mjs).
import { blockingRequest } from './context.mjs';

const DEFAULT_TIMEOUT_MS = 60_000;
/** @type {((res: {status: number}) => boolean) | null} */
let defaultCallback = null;

/** k6 sends an object body as a form; strings go as they are. */
function encodeBody(body) {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return { body };
  if (body instanceof ArrayBuffer) return { body: Buffer.from(body).toString('latin1'), binary: true };
  return { body: new URLSearchParams(Object.entries(body).map(([k, v]) => /** @type {[string, string]} */ ([k, String(v)]))).toString(), form: true };
}

function parseTimeout(t) {
  if (t === undefined) return DEFAULT_TIMEOUT_MS;
  if (typeof t === 'number') return t;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(t);
  if (!m) throw new Error(`invalid timeout "${t}"`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[m[2]];
}

/** k6's default: 200..399 are expected. */
const defaultExpected = (res) => res.status >= 200 && res.status < 400;

/**
 * @param {string} method @param {string} url @param {unknown} [body]
 * @param {{headers?: Record<string,string>, tags?: Record<string,string>, timeout?: string|number, responseCallback?: any}} [params]
 */
export function request(method, url, body, params = {}) {
  const enc = encodeBody(body);
  const headers = { ...params.headers };
  if (enc?.form && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/x-www-form-urlencoded';
  const timeoutMs = parseTimeout(params.timeout);
  const cb = params.responseCallback !== undefined ? params.responseCallback : defaultCallback ?? defaultExpected;
  const r = blockingRequest({ method: method.toUpperCase(), url: String(url), headers, body: enc?.body, binary: enc?.binary, tags: params.tags ?? {}, expected: cb === null ? 'none' : cb.statuses ?? 'default' }, timeoutMs);
  return {
    ...r,
    url: String(url),
    request: { method: method.toUpperCase(), url: String(url), headers, body: enc?.body ?? '' },
    /** @param {string} [selector] */
    json(selector) {
      if (selector !== undefined) throw new Error('the k6 runner does not support res.json(selector); use res.json() and index it');
      return JSON.parse(r.body);
    },
  };
}

export const get = (url, params) => request('GET', url, null, params);
export const head = (url, params) => request('HEAD', url, null, params);
export const options = (url, body, params) => request('OPTIONS', url, body, params);
export const post = (url, body, params) => request('POST', url, body, params);
export const put = (url, body, params) => request('PUT', url, body, params);
export const patch = (url, body, params) => request('PATCH', url, body, params);
export const del = (url, body, params) => request('DELETE', url, body, params);

/** @param {...(number | {min: number, max: number})} specs */
export function expectedStatuses(...specs) {
  const statuses = [];
  for (const s of specs) {
    if (typeof s === 'number') statuses.push(s);
    else for (let i = s.min; i <= s.max && statuses.length < 1000; i++) statuses.push(i);
  }
  return Object.assign((res) => statuses.includes(res.status), { statuses });
}

export function setResponseCallback(cb) {
  defaultCallback = cb;
}

export default { request, get, head, options, post, put, patch, del, expectedStatuses, setResponseCallback };
