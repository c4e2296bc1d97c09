// The worker's side of the runner: how a shim reaches the main thread. One instance per worker
// thread (one VU, or the setup/teardown VU), set up by worker.mjs before the script is imported.
import { parentPort } from 'node:worker_threads';

/** Largest response (JSON envelope with the body) a VU can receive; bigger bodies are cut. */
export const RESPONSE_BYTES = 4 * 1024 * 1024 + 64 * 1024;
const SAMPLE_BATCH = 500;

export const vu = {
  /** @type {Int32Array} [0]: 0 waiting, 1 answered; [1]: answer length in bytes */
  ctl: new Int32Array(new SharedArrayBuffer(8)),
  data: new Uint8Array(new SharedArrayBuffer(RESPONSE_BYTES)),
  /** @type {Array<{metric: string, type: string, isTime: boolean, value: number, tags?: Record<string, string>}>} */
  samples: [],
  /** group path, "" at the top level; k6 names nested groups "::a::b" */
  group: '',
  scenario: '',
};

/** Queues one metric sample for the main thread, in batches so VUs do not flood the port. */
export function emit(metric, type, isTime, value, tags) {
  vu.samples.push({ metric, type, isTime, value, ...(tags ? { tags } : {}) });
  if (vu.samples.length >= SAMPLE_BATCH) flush();
}

export function flush() {
  if (vu.samples.length === 0) return;
  parentPort?.postMessage({ kind: 'samples', samples: vu.samples });
  vu.samples = [];
}

const decoder = new TextDecoder();

/**
 * Sends a request to the main thread, which runs it, and blocks this thread until the answer is
 * written into the shared buffer: k6's HTTP calls are synchronous in the script.
 * @param {object} req
 * @param {number} timeoutMs the request's own timeout; the wait gives the main thread 5 s more
 */
export function blockingRequest(req, timeoutMs) {
  flush();
  Atomics.store(vu.ctl, 0, 0);
  parentPort?.postMessage({ kind: 'http', req: { ...req, timeoutMs }, ctl: vu.ctl, data: vu.data });
  const res = Atomics.wait(vu.ctl, 0, 0, timeoutMs + 5_000);
  if (res === 'timed-out') throw new Error(`the runner's HTTP helper did not answer within ${timeoutMs + 5_000} ms`);
  const len = Atomics.load(vu.ctl, 1);
  return JSON.parse(decoder.decode(vu.data.slice(0, len)));
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** Blocks the thread for `ms` (k6's sleep). */
export function blockFor(ms) {
  if (ms > 0) Atomics.wait(sleeper, 0, 0, ms);
}
