// Aggregation of metric samples by name, and k6 threshold expressions judged on the aggregates.
import { InvalidOptions } from './options.mjs';

/** Trend samples kept per metric; past it a uniform reservoir sample keeps memory bounded. */
const RESERVOIR = 1_000_000;

export class Metrics {
  constructor() {
    /** @type {Map<string, {type: string, isTime: boolean, count: number, sum: number, min: number, max: number, passes: number, last: number, values: number[]}>} */
    this.byName = new Map();
    /** check name (with its group) → passes and fails */
    this.checks = new Map();
  }

  add(s) {
    let m = this.byName.get(s.metric);
    if (!m) {
      m = { type: s.type, isTime: s.isTime, count: 0, sum: 0, min: Infinity, max: -Infinity, passes: 0, last: 0, values: [] };
      this.byName.set(s.metric, m);
    }
    m.count++;
    m.sum += s.value;
    m.min = Math.min(m.min, s.value);
    m.max = Math.max(m.max, s.value);
    m.last = s.value;
    if (s.value !== 0) m.passes++;
    if (m.type === 'trend') {
      if (m.values.length < RESERVOIR) m.values.push(s.value);
      else {
        const j = Math.floor(Math.random() * m.count);
        if (j < RESERVOIR) m.values[j] = s.value;
      }
    }
    if (s.metric === 'checks' && s.tags?.check !== undefined) {
      const key = `${s.tags.group ?? ''}\u0000${s.tags.check}`;
      const c = this.checks.get(key) ?? { group: s.tags.group ?? '', name: s.tags.check, passes: 0, fails: 0 };
      if (s.value) c.passes++;
      else c.fails++;
      this.checks.set(key, c);
    }
  }

  /** The values a threshold expression can name for one metric (k6's aggregation methods). */
  stats(name) {
    const m = this.byName.get(name);
    if (!m) return undefined;
    if (m.type === 'counter') return { count: m.count === 0 ? 0 : m.sum, rate: m.sum / Math.max(elapsedSeconds(), 1e-9) };
    if (m.type === 'gauge') return { value: m.last, min: m.min, max: m.max };
    if (m.type === 'rate') return { rate: m.count === 0 ? 0 : m.passes / m.count, passes: m.passes, fails: m.count - m.passes };
    const sorted = m.values.slice().sort((a, b) => a - b);
    return { avg: m.count === 0 ? 0 : m.sum / m.count, min: m.min, max: m.max, med: percentile(sorted, 50), count: m.count, p: (q) => percentile(sorted, q), sorted };
  }
}

let testSeconds = 0;
export function setElapsedSeconds(s) {
  testSeconds = s;
}
function elapsedSeconds() {
  return testSeconds;
}

/** Linear interpolation between closest ranks, as k6 computes p(N). */
export function percentile(sorted, q) {
  if (sorted.length === 0) return 0;
  if (sorted.length === 1) return sorted[0];
  const pos = (q / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

const OPS = { '<': (a, b) => a < b, '<=': (a, b) => a <= b, '>': (a, b) => a > b, '>=': (a, b) => a >= b, '==': (a, b) => a === b, '===': (a, b) => a === b, '!=': (a, b) => a !== b };

/**
 * Parses "p(99)<300", "rate==1", "count>0", "avg<=5": [aggregation, operator, number].
 * Throws for what the runner does not know (k6's exit code 104, invalid config).
 */
export function parseThreshold(expr) {
  const m = /^\s*(p\(\s*(\d+(?:\.\d+)?)\s*\)|avg|min|max|med|count|rate|value)\s*(<=|>=|===|==|!=|<|>)\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*$/.exec(expr);
  if (!m) throw new InvalidOptions(`threshold "${expr}" is not understood by the k6 runner (aggregation op number, e.g. "p(99)<300", "rate==1")`);
  return { agg: m[2] !== undefined ? 'p' : m[1], q: m[2] !== undefined ? Number(m[2]) : 0, op: m[3], limit: Number(m[4]), source: expr };
}

/**
 * Judges every threshold; a threshold on a metric no sample reached passes when k6 would:
 * counts and rates are taken as 0, so "count<10" passes and "rate==1" fails.
 * @returns {Array<{metric: string, source: string, ok: boolean, actual: number | undefined}>}
 */
export function judge(metrics, thresholds) {
  const out = [];
  for (const [metric, list] of Object.entries(thresholds ?? {})) {
    if (/[{}]/.test(metric)) throw new InvalidOptions(`threshold on "${metric}": sub-metrics ({tag:value}) are not supported by the k6 runner`);
    for (const item of Array.isArray(list) ? list : [list]) {
      const t = parseThreshold(typeof item === 'string' ? item : item.threshold);
      const st = metrics.stats(metric);
      let actual;
      if (st) actual = t.agg === 'p' ? st.p?.(t.q) : st[t.agg];
      else if (t.agg === 'count' || t.agg === 'rate') actual = 0;
      const ok = actual !== undefined && OPS[t.op](actual, t.limit);
      out.push({ metric, source: t.source, ok, actual });
    }
  }
  return out;
}
