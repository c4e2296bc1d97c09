// k6 options → the scenarios the runner plays, validated against what it supports and bounded.

export const MAX_VUS = 64;
export const MAX_DURATION_MS = 10 * 60_000;
const EXECUTORS = ['constant-vus', 'per-vu-iterations', 'shared-iterations'];

export class InvalidOptions extends Error {}

/** k6 durations: "1h2m3s", "500ms", "1.5s", or a number of milliseconds. */
export function parseDuration(d, what) {
  if (typeof d === 'number' && Number.isFinite(d) && d >= 0) return d;
  if (typeof d !== 'string' || d === '') throw new InvalidOptions(`${what}: "${d}" is not a duration like "30s", "1m30s" or "500ms"`);
  const units = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, µs: 0.001, ns: 1e-6 };
  let ms = 0;
  let rest = d;
  while (rest !== '') {
    const m = /^(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/.exec(rest);
    if (!m) throw new InvalidOptions(`${what}: "${d}" is not a duration like "30s", "1m30s" or "500ms"`);
    ms += Number(m[1]) * units[m[2]];
    rest = rest.slice(m[0].length);
  }
  return ms;
}

function positiveInt(v, what, dflt) {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < 1) throw new InvalidOptions(`${what}: ${JSON.stringify(v)} is not a positive integer`);
  return v;
}

/**
 * @param {any} options the script's `options` export
 * @returns {Array<{name: string, executor: string, vus: number, iterations: number, durationMs: number, exec: string, startMs: number}>}
 */
export function scenariosOf(options) {
  let raw = options.scenarios;
  if (raw === undefined) {
    // Like k6: top-level duration means constant-vus, otherwise shared iterations (default 1).
    if (options.duration !== undefined && options.iterations === undefined) raw = { default: { executor: 'constant-vus', vus: options.vus ?? 1, duration: options.duration } };
    else raw = { default: { executor: 'shared-iterations', vus: options.vus ?? 1, iterations: options.iterations ?? 1, ...(options.duration !== undefined ? { maxDuration: options.duration } : {}) } };
  }
  if (typeof raw !== 'object' || raw === null) throw new InvalidOptions('options.scenarios must be an object');
  if (options.stages !== undefined) throw new InvalidOptions('options.stages is not supported by the k6 runner (use scenarios with constant-vus, per-vu-iterations or shared-iterations)');
  const out = [];
  for (const [name, s] of Object.entries(raw)) {
    const where = `scenario "${name}"`;
    if (!EXECUTORS.includes(s.executor)) throw new InvalidOptions(`${where}: executor "${s.executor}" is not supported by the k6 runner (only ${EXECUTORS.join(', ')})`);
    const vus = positiveInt(s.vus, `${where}.vus`, 1);
    let durationMs;
    let iterations = 0;
    if (s.executor === 'constant-vus') {
      if (s.duration === undefined) throw new InvalidOptions(`${where}: constant-vus needs a duration`);
      durationMs = parseDuration(s.duration, `${where}.duration`);
    } else {
      iterations = positiveInt(s.iterations, `${where}.iterations`, 1);
      durationMs = parseDuration(s.maxDuration ?? '10m', `${where}.maxDuration`);
    }
    if (durationMs > MAX_DURATION_MS) throw new InvalidOptions(`${where}: ${durationMs} ms is longer than the runner's limit of ${MAX_DURATION_MS} ms`);
    out.push({ name, executor: s.executor, vus, iterations, durationMs, exec: s.exec ?? 'default', startMs: s.startTime === undefined ? 0 : parseDuration(s.startTime, `${where}.startTime`) });
  }
  const total = out.reduce((n, s) => n + s.vus, 0);
  if (total > MAX_VUS) throw new InvalidOptions(`${total} VUs in all scenarios: the runner runs at most ${MAX_VUS} (one thread each); use real k6 or synod bench for more`);
  if (out.length === 0) throw new InvalidOptions('options.scenarios is empty');
  return out;
}
