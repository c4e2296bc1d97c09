// One runner thread: imports the user's script with `k6*` mapped to the shims, then plays one
// role given by workerData: 'init' (report options), 'setup', 'vu' (iterations) or 'teardown'.
import { register } from 'node:module';
import { workerData, parentPort } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';

register('./hooks.mjs', import.meta.url);
const { flush, vu } = await import('./shims/context.mjs');

/** @type {{role: string, script: string, env: Record<string,string>, vuId: number, scenario?: any, data?: unknown, deadline?: number, shared?: Int32Array, stop: Int32Array}} */
const w = workerData;
const g = /** @type {any} */ (globalThis);
g.__ENV = w.env;
g.__VU = w.vuId;
g.__ITER = 0;
vu.scenario = w.scenario?.name ?? '';

const post = (msg) => parentPort?.postMessage(msg);
const errText = (e) => (e instanceof Error ? e.stack ?? e.message : String(e));

let mod;
try {
  mod = await import(pathToFileURL(w.script).href);
} catch (e) {
  post({ kind: 'fatal', phase: 'init', error: errText(e) });
  process.exit(0);
}

/** Runs `fn`, reporting an exception in setup or teardown as fatal (k6 aborts the test). */
function runPhase(phase, fn) {
  try {
    const r = fn();
    flush();
    post({ kind: 'done', phase, result: r === undefined ? null : JSON.parse(JSON.stringify(r)) });
  } catch (e) {
    flush();
    post({ kind: 'fatal', phase, error: errText(e) });
  }
}

function iterations() {
  const s = w.scenario;
  const fn = mod[s.exec];
  if (typeof fn !== 'function') {
    post({ kind: 'fatal', phase: 'init', error: `scenario "${s.name}": the script exports no function "${s.exec}"` });
    return;
  }
  const data = w.data;
  for (let i = 0; ; i++) {
    if (Atomics.load(w.stop, 0) !== 0 || Date.now() >= w.deadline) break;
    if (s.executor === 'per-vu-iterations' && i >= s.iterations) break;
    // shared-iterations: the VUs draw from one counter, so the total is exact.
    if (s.executor === 'shared-iterations' && Atomics.add(w.shared, 0, 1) >= s.iterations) break;
    g.__ITER = i;
    const start = Date.now();
    try {
      fn(data);
      vu.samples.push({ metric: 'iterations', type: 'counter', isTime: false, value: 1 });
    } catch (e) {
      // k6 logs an exception in an iteration, ends that iteration and carries on.
      post({ kind: 'iteration-error', error: errText(e) });
      vu.samples.push({ metric: 'iteration_errors', type: 'counter', isTime: false, value: 1 });
    }
    vu.samples.push({ metric: 'iteration_duration', type: 'trend', isTime: true, value: Date.now() - start });
    flush();
  }
  post({ kind: 'done', phase: 'vu', result: null });
}

if (w.role === 'init') post({ kind: 'done', phase: 'init', result: { options: mod.options ?? {}, exports: Object.keys(mod), hasSetup: typeof mod.setup === 'function', hasTeardown: typeof mod.teardown === 'function' } });
else if (w.role === 'setup') runPhase('setup', () => mod.setup());
else if (w.role === 'teardown') runPhase('teardown', () => mod.teardown(w.data));
else iterations();
