#!/usr/bin/env node
// The synod k6 runner: a test harness that plays a k6 script under Node (docs/k6.md), for CI and
// machines without k6. Usage: node loadtest/k6-runner/run.mjs [run] [-e KEY=VALUE]... <script.js>
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { perform } from './http-proxy.mjs';
import { judge, Metrics, parseThreshold, setElapsedSeconds } from './metrics.mjs';
import { InvalidOptions, parseDuration, scenariosOf } from './options.mjs';
import { summary } from './summary.mjs';

/** k6's own exit codes (go.k6.io/k6/errext/exitcodes). */
export const EXIT = { ok: 0, thresholdsFailed: 99, setupTimeout: 100, teardownTimeout: 101, invalidConfig: 104, externalAbort: 105, scriptException: 107 };
const MAX_LOGGED_ERRORS = 20;

function parseArgs(argv) {
  const args = argv[0] === 'run' ? argv.slice(1) : argv;
  const env = {};
  let script;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '-e' || a === '--env') {
      const kv = args[++i] ?? '';
      const eq = kv.indexOf('=');
      if (eq < 1) throw new InvalidOptions(`${a} needs KEY=VALUE, got "${kv}"`);
      env[kv.slice(0, eq)] = kv.slice(eq + 1);
    } else if (a.startsWith('--env=')) {
      const kv = a.slice(6);
      const eq = kv.indexOf('=');
      if (eq < 1) throw new InvalidOptions(`--env needs KEY=VALUE, got "${kv}"`);
      env[kv.slice(0, eq)] = kv.slice(eq + 1);
    } else if (a.startsWith('-')) throw new InvalidOptions(`the k6 runner does not support the flag ${a} (only -e/--env KEY=VALUE); run real k6 for the others`);
    else if (script === undefined) script = a;
    else throw new InvalidOptions(`one script only, got "${script}" and "${a}"`);
  }
  if (script === undefined) throw new InvalidOptions('usage: run.mjs [run] [-e KEY=VALUE]... <script.js>');
  return { script: resolve(script), env };
}

class Run {
  constructor(script, env) {
    this.script = script;
    this.env = env;
    this.metrics = new Metrics();
    this.stop = new Int32Array(new SharedArrayBuffer(4));
    this.iterationErrors = 0;
    /** @type {Set<Worker>} */
    this.workers = new Set();
  }

  /**
   * One worker thread in a role; resolves with what the role returned, rejects with the script's
   * exception (a fatal error), and kills the thread when `timeoutMs` passes.
   */
  spawn(role, extra, timeoutMs) {
    const worker = new Worker(new URL('./worker.mjs', import.meta.url), { workerData: { role, script: this.script, env: this.env, vuId: 0, stop: this.stop, ...extra }, stdout: false, stderr: false });
    this.workers.add(worker);
    return new Promise((resolveP, reject) => {
      let settled = false;
      const settle = (fn) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      const timer = setTimeout(() => {
        settle(() => reject(Object.assign(new Error(`${role} did not finish within ${timeoutMs} ms`), { timeout: true })));
        void worker.terminate();
      }, timeoutMs);
      worker.on('message', (msg) => {
        if (msg.kind === 'samples') for (const s of msg.samples) this.metrics.add(s);
        else if (msg.kind === 'http') void perform(msg.req, msg.ctl, msg.data, (s) => this.metrics.add(s));
        else if (msg.kind === 'iteration-error') {
          if (++this.iterationErrors <= MAX_LOGGED_ERRORS) console.error(`ERRO iteration of VU ${extra.vuId ?? 0} failed: ${msg.error}`);
          if (this.iterationErrors === MAX_LOGGED_ERRORS) console.error(`ERRO (further iteration errors are counted, not printed)`);
        } else if (msg.kind === 'done') settle(() => resolveP(msg.result));
        else if (msg.kind === 'fatal') settle(() => reject(Object.assign(new Error(`${msg.phase}: ${msg.error}`), { phase: msg.phase })));
      });
      worker.on('error', (e) => settle(() => reject(Object.assign(e, { phase: role }))));
      worker.on('exit', (code) => {
        this.workers.delete(worker);
        settle(() => reject(new Error(`${role} thread exited with ${code} before it finished`)));
      });
    }).finally(() => void worker.terminate());
  }

  async scenario(s, data) {
    if (s.startMs > 0) await new Promise((r) => setTimeout(r, s.startMs));
    const deadline = Date.now() + s.durationMs;
    const shared = new Int32Array(new SharedArrayBuffer(4));
    // VUs end their iteration at the deadline; gracefulStop (k6's default 30 s) bounds the last one.
    const limit = s.durationMs + s.gracefulStopMs + 5_000;
    const vus = [];
    for (let i = 0; i < s.vus; i++) vus.push(this.spawn('vu', { vuId: s.firstVu + i, scenario: s, deadline, shared, data }, limit));
    this.metrics.add({ metric: 'vus_max', type: 'gauge', isTime: false, value: s.firstVu + s.vus - 1 });
    const results = await Promise.allSettled(vus);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed && !failed.reason.timeout) throw failed.reason;
    if (failed) console.error(`WARN scenario "${s.name}": VUs still busy ${s.gracefulStopMs} ms after the end were stopped`);
  }
}

async function main() {
  const { script, env } = parseArgs(process.argv.slice(2));
  if (!existsSync(script)) throw new InvalidOptions(`no such script: ${script}`);
  const run = new Run(script, { ...process.env, ...env });
  let aborted = false;
  const onSignal = () => {
    aborted = true;
    Atomics.store(run.stop, 0, 1);
    console.error('WARN stopping: VUs end their current iteration');
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const init = await run.spawn('init', {}, 60_000);
  const opts = init.options;
  const scenarios = scenariosOf(opts);
  for (const [metric, list] of Object.entries(opts.thresholds ?? {})) {
    if (/[{}]/.test(metric)) throw new InvalidOptions(`threshold on "${metric}": sub-metrics ({tag:value}) are not supported by the k6 runner`);
    for (const t of Array.isArray(list) ? list : [list]) parseThreshold(typeof t === 'string' ? t : t.threshold);
  }
  let firstVu = 1;
  const planned = scenarios.map((s) => {
    const p = { ...s, gracefulStopMs: parseDuration(opts.scenarios?.[s.name]?.gracefulStop ?? '30s', `scenario "${s.name}".gracefulStop`), firstVu };
    firstVu += s.vus;
    return p;
  });
  const setupMs = parseDuration(opts.setupTimeout ?? '60s', 'setupTimeout');
  const teardownMs = parseDuration(opts.teardownTimeout ?? '60s', 'teardownTimeout');

  const started = Date.now();
  let data = null;
  if (init.hasSetup) data = await run.spawn('setup', {}, setupMs).catch((e) => Promise.reject(Object.assign(e, { exit: e.timeout ? EXIT.setupTimeout : EXIT.scriptException })));
  for (const s of planned) if (!init.exports.includes(s.exec)) throw new InvalidOptions(`scenario "${s.name}": the script exports no function "${s.exec}"`);
  await Promise.all(planned.map((s) => run.scenario(s, data)));
  if (init.hasTeardown) await run.spawn('teardown', { data }, teardownMs).catch((e) => Promise.reject(Object.assign(e, { exit: e.timeout ? EXIT.teardownTimeout : EXIT.scriptException })));
  const seconds = (Date.now() - started) / 1000;
  setElapsedSeconds(seconds);

  const verdicts = judge(run.metrics, opts.thresholds);
  console.log(summary(run.metrics, verdicts, { script, scenarios: planned, seconds, iterationErrors: run.iterationErrors }));
  if (aborted) return EXIT.externalAbort;
  if (verdicts.some((v) => !v.ok)) {
    console.error(`ERRO thresholds on metrics '${[...new Set(verdicts.filter((v) => !v.ok).map((v) => v.metric))].join("', '")}' have been crossed`);
    return EXIT.thresholdsFailed;
  }
  return EXIT.ok;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`ERRO ${e.message}`);
    process.exit(e instanceof InvalidOptions ? EXIT.invalidConfig : e.exit ?? EXIT.scriptException);
  },
);
