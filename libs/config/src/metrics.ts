/**
 * The one metrics registry of a process (docs/architecture.md, "One place per concern"), backed
 * by prom-client: counters, gauges and histograms declared in metric-catalog.ts, rendered as
 * Prometheus text for /metrics (metrics-http.ts, docs/metrics.md).
 *
 * Each Metrics owns its own prom-client Registry, never the global one: tests run many buses in
 * one process and each must count alone; a process passes one Metrics to everything it runs.
 *
 * prom-client's reads are asynchronous (its get() may run collect callbacks), while the bus's
 * stats and many tests read a counter synchronously; so every update is also kept in a small map
 * of plain numbers, which doubles as the per-metric series bound.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { METRIC_CATALOG, type MetricDef, type MetricType } from './metric-catalog.js';

export type Labels = Record<string, string>;

/** Label sets kept per metric: a label fed from input (a node, a split, a kind) must not grow without bound. */
export const DEFAULT_MAX_SERIES_PER_METRIC = 2_000;

type PromMetric = Counter<string> | Gauge<string> | Histogram<string>;

interface Entry {
  def: MetricDef;
  prom: PromMetric;
  /** Per label set: the counter's or gauge's value, a histogram's observation count. */
  values: Map<string, number>;
}

/**
 * The series key of a label set: `name="value"` pairs sorted by name, comma-joined. Every update
 * computes it, so the common label sets (none, or one label) skip the sort and the arrays.
 */
function keyOf(labels: Labels): string {
  let first: string | undefined;
  let n = 0;
  for (const k in labels) {
    if (n++ === 0) first = k;
    else break;
  }
  if (n === 0) return '';
  if (n === 1) return `${first}=${JSON.stringify(labels[first!])}`;
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(',');
}

export interface MetricsOptions {
  maxSeriesPerMetric?: number;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly entries = new Map<string, Entry>();
  private readonly collectors: Array<() => void> = [];
  private readonly maxSeries: number;
  private processMetrics = false;

  constructor(opts: MetricsOptions = {}) {
    this.maxSeries = opts.maxSeriesPerMetric ?? DEFAULT_MAX_SERIES_PER_METRIC;
  }

  /** Adds `by` (≥ 0: a counter only goes up) to a counter. */
  inc(name: string, labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new RangeError(`metric ${name}: a counter cannot go down (by ${by})`);
    const e = this.entry(name, 'counter', labels);
    const key = keyOf(labels);
    const cur = e.values.get(key);
    if (cur === undefined && !this.admit(name, e)) return;
    (e.prom as Counter<string>).inc(labels, by);
    e.values.set(key, (cur ?? 0) + by);
  }

  set(name: string, value: number, labels: Labels = {}): void {
    const e = this.entry(name, 'gauge', labels);
    const key = keyOf(labels);
    if (!e.values.has(key) && !this.admit(name, e)) return;
    (e.prom as Gauge<string>).set(labels, value);
    e.values.set(key, value);
  }

  /** Records one observation (seconds for the *_seconds histograms) in a histogram. */
  observe(name: string, value: number, labels: Labels = {}): void {
    const e = this.entry(name, 'histogram', labels);
    const key = keyOf(labels);
    const cur = e.values.get(key);
    if (cur === undefined && !this.admit(name, e)) return;
    (e.prom as Histogram<string>).observe(labels, value);
    e.values.set(key, (cur ?? 0) + 1);
  }

  /** A counter's or gauge's value for exactly these labels (a histogram: its observation count); 0 if never set. */
  get(name: string, labels: Labels = {}): number {
    return this.entries.get(name)?.values.get(keyOf(labels)) ?? 0;
  }

  /** Sum over every label set of a counter (or of a histogram's counts). */
  total(name: string): number {
    let sum = 0;
    for (const v of this.entries.get(name)?.values.values() ?? []) sum += v;
    return sum;
  }

  /** Runs `fn` before every render: gauges read from live state at scrape time (ε, t_safe lag, leaders). */
  onCollect(fn: () => void): void {
    this.collectors.push(fn);
  }

  /** prom-client's default process metrics (CPU, memory, event-loop lag, GC) in this registry; once per process. */
  collectProcessMetrics(): void {
    if (this.processMetrics) return;
    this.processMetrics = true;
    collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of everything registered, after the collectors ran. */
  async render(): Promise<string> {
    for (const fn of this.collectors) fn();
    return this.registry.metrics();
  }

  /** Whether a label set `e` has not seen yet may start a series (the caller checked it is new). */
  private admit(name: string, e: Entry): boolean {
    if (e.values.size < this.maxSeries) return true;
    // Counted under its own bounded label (metric names are code, not input), never silently.
    if (name !== 'synod_metrics_series_refused_total') this.inc('synod_metrics_series_refused_total', { metric: name });
    return false;
  }

  private entry(name: string, type: MetricType, labels: Labels): Entry {
    const known = this.entries.get(name);
    if (known) {
      if (known.def.type !== type) throw new TypeError(`metric ${name} is a ${known.def.type}, not a ${type}`);
      return known;
    }
    const catalogued = (METRIC_CATALOG as Record<string, MetricDef>)[name];
    // A name missing from the catalog is a bug the catalog test catches; at run time it is still
    // exported (and counted), so a new call site in another library never crashes a process.
    const def: MetricDef = catalogued ?? { type, help: `${name} (not in the metric catalog: add it to libs/config/src/metric-catalog.ts and docs/metrics.md)`, labels: Object.keys(labels) };
    if (def.type !== type) throw new TypeError(`metric ${name} is a ${def.type} in the catalog, not a ${type}`);
    const cfg = { name, help: def.help, labelNames: [...(def.labels ?? [])], registers: [this.registry] };
    const prom: PromMetric = type === 'counter' ? new Counter(cfg) : type === 'gauge' ? new Gauge(cfg) : new Histogram({ ...cfg, ...(def.buckets ? { buckets: [...def.buckets] } : {}) });
    const e: Entry = { def, prom, values: new Map() };
    this.entries.set(name, e);
    if (!catalogued) this.inc('synod_metrics_uncataloged_total', { metric: name });
    return e;
  }
}
