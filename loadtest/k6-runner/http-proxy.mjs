// The main thread's half of a VU's synchronous request: run it with fetch, record k6's built-in
// HTTP metrics, write the answer into the VU's shared buffer and wake the VU.

const encoder = new TextEncoder();

/** k6 shows header names canonicalised ("Content-Type"). */
const canonical = (h) => h.replace(/(^|-)([a-z])/g, (_, d, c) => d + c.toUpperCase());

/**
 * @param {{method: string, url: string, headers: Record<string,string>, body?: string, binary?: boolean, timeoutMs: number, expected: 'none' | 'default' | number[]}} req
 * @param {Int32Array} ctl @param {Uint8Array} data
 * @param {(s: {metric: string, type: string, isTime: boolean, value: number}) => void} record
 */
export async function perform(req, ctl, data, record) {
  const start = performance.now();
  let answer;
  try {
    const body = req.body === undefined ? undefined : req.binary ? Buffer.from(req.body, 'latin1') : req.body;
    const res = await fetch(req.url, { method: req.method, headers: req.headers, ...(body !== undefined ? { body } : {}), signal: AbortSignal.timeout(req.timeoutMs), redirect: 'follow' });
    const buf = Buffer.from(await res.arrayBuffer());
    const duration = performance.now() - start;
    const headers = {};
    res.headers.forEach((v, k) => (headers[canonical(k)] = v));
    answer = { status: res.status, status_text: res.statusText, headers, body: buf.toString('utf8'), error: '', error_code: 0, timings: { duration, waiting: duration, blocked: 0, connecting: 0, sending: 0, receiving: 0 } };
    record({ metric: 'data_received', type: 'counter', isTime: false, value: buf.length });
  } catch (e) {
    const duration = performance.now() - start;
    const cause = /** @type {any} */ (e).cause;
    answer = { status: 0, status_text: '', headers: {}, body: '', error: String(cause?.message ?? /** @type {Error} */ (e).message), error_code: /** @type {Error} */ (e).name === 'TimeoutError' ? 1050 : 1000, timings: { duration, waiting: 0, blocked: 0, connecting: 0, sending: 0, receiving: 0 } };
  }
  record({ metric: 'data_sent', type: 'counter', isTime: false, value: (req.body?.length ?? 0) + req.url.length });
  record({ metric: 'http_reqs', type: 'counter', isTime: false, value: 1 });
  record({ metric: 'http_req_duration', type: 'trend', isTime: true, value: answer.timings.duration });
  if (req.expected !== 'none') {
    const ok = req.expected === 'default' ? answer.status >= 200 && answer.status < 400 : req.expected.includes(answer.status);
    record({ metric: 'http_req_failed', type: 'rate', isTime: false, value: ok ? 0 : 1 });
  }
  let bytes = encoder.encode(JSON.stringify(answer));
  if (bytes.length > data.length) {
    // JSON escaping can grow a character to 6 bytes: an eighth always fits.
    answer.body = answer.body.slice(0, Math.floor(data.length / 8));
    answer.error = `response body larger than the runner's ${data.length} byte limit; cut`;
    bytes = encoder.encode(JSON.stringify(answer));
  }
  data.set(bytes);
  Atomics.store(ctl, 1, bytes.length);
  Atomics.store(ctl, 0, 1);
  Atomics.notify(ctl, 0);
}
