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
 *
 * Counters and histograms are updated on hot paths (every bus message, every request), so their
 * series live here only: an update is one map lookup and a few additions, and the prom-client
 * metric reads them when the registry renders (its get() is given ours), in prom-client's own
 * value format, so the exposition is the same as if prom-client had counted. Gauges are set at
 * scrape time and stay plain prom-client gauges.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { METRIC_CATALOG, type MetricDef, type MetricType } from './metric-catalog.js';

export type Labels = Record<string, string>;

/** Label sets kept per metric: a label fed from input (a node, a split, a kind) must not grow without bound. */
export const DEFAULT_MAX_SERIES_PER_METRIC = 2_000;

type PromMetric = Counter<string> | Gauge<string> | Histogram<string>;

/** One label set of a counter or histogram, as prom-client would hold it. */
interface Series {
  /** A copy of the labels first given (prom-client keeps the first object given). */
  labels: Labels;
  /** The counter's value; a histogram's observation count. */
  value: number;
  /** Histograms: the sum of observations and the count per bucket (not cumulative). */
  sum: number;
  buckets: number[] | undefined;
}

interface Entry {
  def: MetricDef;
  prom: PromMetric;
  /** Gauges: per label set, the value. */
  values: Map<string, number>;
  /** Counters and histograms: every series (in first-update order, as prom-client renders them). */
  series: Map<string, Series>;
  labelNames: readonly string[];
  /** Histograms: the buckets' upper bounds, ascending. */
  bounds: readonly number[];
}

/** prom-client's fields this file reads when it answers for prom-client's get(). */
type PromFields = { name: string; aggregator: string };

/** prom-client's default histogram buckets (used when the catalog gives none). */
const PROM_DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The series key of a label set: `name="value"` pairs sorted by name, comma-joined. Every update
 * computes it, so the common label sets (up to two labels) skip the sort and the arrays.
 */
function keyOf(labels: Labels): string {
  let a: string | undefined;
  let b: string | undefined;
  let n = 0;
  for (const k in labels) {
    if (n === 0) a = k;
    else if (n === 1) b = k;
    n++;
    if (n > 2) break;
  }
  if (n === 0) return '';
  if (n === 1) return `${a}=${JSON.stringify(labels[a!])}`;
  if (n === 2) {
    if (b! < a!) {
      const t = a;
      a = b;
      b = t;
    }
    return `${a}=${JSON.stringify(labels[a!])},${b}=${JSON.stringify(labels[b!])}`;
  }
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(',');
}

export interface MetricsOptions {
  maxSeriesPerMetric?: number;
  /**
   * How long render() runs before it lets the event loop take a turn (setImmediate), ms (default
   * 4): a process with hundreds of splits has thousands of series, and a scrape rendered in one
   * go stalls every split it hosts (docs/metrics.md, "Event-loop delay").
   */
  renderSliceMs?: number;
}

/** Lets the event loop run its timers and I/O before going on. */
const yieldTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export class Metrics {
  readonly registry = new Registry();
  private readonly entries = new Map<string, Entry>();
  private readonly collectors: Array<() => void | Promise<void>> = [];
  private readonly maxSeries: number;
  private readonly renderSliceMs: number;
  private processMetrics = false;

  constructor(opts: MetricsOptions = {}) {
    this.maxSeries = opts.maxSeriesPerMetric ?? DEFAULT_MAX_SERIES_PER_METRIC;
    this.renderSliceMs = opts.renderSliceMs ?? 4;
  }

  /** Adds `by` (≥ 0: a counter only goes up) to a counter. */
  inc(name: string, labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new RangeError(`metric ${name}: a counter cannot go down (by ${by})`);
    if (!Number.isFinite(by)) throw new TypeError(`metric ${name}: value is not a valid number: ${by}`);
    const e = this.entry(name, 'counter', labels);
    const key = keyOf(labels);
    const s = e.series.get(key) ?? this.newSeries(name, e, key, labels);
    if (!s) return;
    s.value += by;
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
    if (!Number.isFinite(value)) throw new TypeError(`metric ${name}: value is not a valid number: ${value}`);
    const e = this.entry(name, 'histogram', labels);
    const key = keyOf(labels);
    const s = e.series.get(key) ?? this.newSeries(name, e, key, labels);
    if (!s) return;
    // prom-client's rule: the first bound at or above the value; above every bound, only +Inf.
    const bounds = e.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        s.buckets![i]!++;
        break;
      }
    }
    s.sum += value;
    s.value += 1;
  }

  /** A counter's or gauge's value for exactly these labels (a histogram: its observation count); 0 if never set. */
  get(name: string, labels: Labels = {}): number {
    const e = this.entries.get(name);
    if (!e) return 0;
    const key = keyOf(labels);
    return (e.def.type === 'gauge' ? e.values.get(key) : e.series.get(key)?.value) ?? 0;
  }

  /** Sum over every label set of a counter (or of a histogram's counts). */
  total(name: string): number {
    let sum = 0;
    const e = this.entries.get(name);
    if (!e) return 0;
    if (e.def.type === 'gauge') for (const v of e.values.values()) sum += v;
    else for (const s of e.series.values()) sum += s.value;
    return sum;
  }

  /**
   * Runs `fn` before every render: gauges read from live state at scrape time (ε, t_safe lag,
   * leaders). One with much to set may return a promise and set them in slices (render awaits it).
   */
  onCollect(fn: () => void | Promise<void>): void {
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

  /**
   * The Prometheus text exposition of everything registered, after the collectors ran: the same
   * text as prom-client's `registry.metrics()`, rendered one metric at a time with a turn of the
   * event loop whenever a slice has run `renderSliceMs` (at most one turn per metric, and the
   * metrics are the catalog's), rather than every metric at once.
   */
  async render(): Promise<string> {
    for (const fn of this.collectors) await fn();
    if (this.registry.contentType !== Registry.PROMETHEUS_CONTENT_TYPE) return this.registry.metrics();
    const parts: string[] = [];
    let sliceStart = performance.now();
    for (const m of this.registry.getMetricsAsArray()) {
      parts.push(await this.registry.getSingleMetricAsString(m.name));
      if (performance.now() - sliceStart >= this.renderSliceMs) {
        await yieldTurn();
        sliceStart = performance.now();
      }
    }
    return `${parts.join('\n\n')}\n`;
  }

  /**
   * A counter's or histogram's series for a label set it has not seen (checked against the
   * declared labels as prom-client does), or undefined when the series bound refuses it.
   */
  private newSeries(name: string, e: Entry, key: string, labels: Labels): Series | undefined {
    for (const k in labels) if (!e.labelNames.includes(k)) throw new Error(`metric ${name}: label "${k}" is not included in its declared labels [${e.labelNames.join(', ')}]`);
    if (!this.admit(name, e)) return undefined;
    const s: Series = { labels: { ...labels }, value: 0, sum: 0, buckets: e.def.type === 'histogram' ? e.bounds.map(() => 0) : undefined };
    e.series.set(key, s);
    return s;
  }

  /** Whether a label set `e` has not seen yet may start a series (the caller checked it is new). */
  private admit(name: string, e: Entry): boolean {
    if ((e.def.type === 'gauge' ? e.values.size : e.series.size) < this.maxSeries) return true;
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
    const e: Entry = { def, prom, values: new Map(), series: new Map(), labelNames: cfg.labelNames, bounds: [...(def.buckets ?? PROM_DEFAULT_BUCKETS)] };
    if (type === 'counter') exportCounter(e, prom as Counter<string>);
    if (type === 'histogram') exportHistogram(e, prom as Histogram<string>);
    this.entries.set(name, e);
    if (!catalogued) this.inc('synod_metrics_uncataloged_total', { metric: name });
    return e;
  }
}

/**
 * What prom-client's Counter.get() would return had it counted the series itself: its values in
 * first-update order, each `{value, labels}`; a counter without labels shows 0 before any update.
 */
function exportCounter(e: Entry, prom: Counter<string>): void {
  prom.get = async () => {
    const values = [...e.series.values()].map((s) => ({ value: s.value, labels: s.labels }));
    if (values.length === 0 && e.labelNames.length === 0) values.push({ value: 0, labels: {} });
    const p = prom as unknown as PromFields;
    return { help: e.def.help, name: p.name, type: 'counter', values, aggregator: p.aggregator } as unknown as Awaited<ReturnType<Counter<string>['get']>>;
  };
  prom.reset = () => e.series.clear();
}

/**
 * What prom-client's Histogram.getForPromString() would return (the registry renders from it; its
 * get() splays it for JSON): per series, the cumulative buckets, +Inf, sum and count, in
 * first-update order; a histogram without labels shows its empty series before any observation.
 */
function exportHistogram(e: Entry, prom: Histogram<string>): void {
  const p = prom as unknown as PromFields;
  const empty = (): Series => ({ labels: {}, value: 0, sum: 0, buckets: e.bounds.map(() => 0) });
  const view = async () => {
    const name = p.name;
    const all = [...e.series.values()];
    if (all.length === 0 && e.labelNames.length === 0) all.push(empty());
    const values: Array<{ labels: Record<string, string | number>; sharedLabels: Labels; value: number; metricName: string; exemplar: null | undefined }> = [];
    for (const s of all) {
      let acc = 0;
      e.bounds.forEach((le, i) => {
        acc += s.buckets![i]!;
        values.push({ labels: { le }, sharedLabels: s.labels, value: acc, metricName: `${name}_bucket`, exemplar: null });
      });
      values.push({ labels: { le: '+Inf' }, sharedLabels: s.labels, value: s.value, metricName: `${name}_bucket`, exemplar: null });
      values.push({ labels: {}, sharedLabels: s.labels, value: s.sum, metricName: `${name}_sum`, exemplar: undefined });
      values.push({ labels: {}, sharedLabels: s.labels, value: s.value, metricName: `${name}_count`, exemplar: undefined });
    }
    return { name, help: e.def.help, type: 'histogram', values, aggregator: p.aggregator };
  };
  (prom as unknown as { getForPromString: typeof view }).getForPromString = view;
  prom.reset = () => e.series.clear();
}
