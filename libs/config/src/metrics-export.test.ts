/**
 * Counters and histograms are counted by Metrics itself and handed to prom-client only when the
 * registry renders (metrics.ts): the exposition must be exactly what prom-client produces when it
 * counts the same updates itself, text and JSON, for every shape of series.
 */
import { describe, expect, it } from 'vitest';
import { Counter, Histogram, Registry } from 'prom-client';
import { METRIC_CATALOG, type MetricDef } from './metric-catalog.js';
import { Metrics, type Labels } from './metrics.js';

const catalog = METRIC_CATALOG as Record<string, MetricDef>;

/** The same updates into a registry of plain prom-client metrics. */
function reference() {
  const registry = new Registry();
  const made = new Map<string, Counter<string> | Histogram<string>>();
  const metric = (name: string, type: 'counter' | 'histogram', labels: Labels) => {
    let m = made.get(name);
    if (!m) {
      const def = catalog[name];
      const cfg = { name, help: def?.help ?? `${name} (not in the metric catalog: add it to libs/config/src/metric-catalog.ts and docs/metrics.md)`, labelNames: [...(def ? (def.labels ?? []) : Object.keys(labels))], registers: [registry] };
      m = type === 'counter' ? new Counter(cfg) : new Histogram({ ...cfg, ...(def?.buckets ? { buckets: [...def.buckets] } : {}) });
      made.set(name, m);
    }
    return m;
  };
  return {
    registry,
    inc: (name: string, labels: Labels = {}, by = 1) => (metric(name, 'counter', labels) as Counter<string>).inc(labels, by),
    observe: (name: string, value: number, labels: Labels = {}) => (metric(name, 'histogram', labels) as Histogram<string>).observe(labels, value),
  };
}

describe('Metrics exports counters and histograms exactly as prom-client counts them', () => {
  it('text and JSON match for labelled and label-less series, bucket edges, and uncatalogued histograms', async () => {
    const m = new Metrics();
    const ref = reference();
    const both = {
      inc: (name: string, labels?: Labels, by?: number) => (m.inc(name, labels, by), ref.inc(name, labels, by)),
      observe: (name: string, v: number, labels?: Labels) => (m.observe(name, v, labels), ref.observe(name, v, labels)),
    };
    const names = ['synod_bus_received_total', 'synod_bus_dropped_total', 'synod_read_latency_seconds', 'synod_commit_wait_seconds', 'synod_storage_persist_seconds', 'synod_test_uncatalogued_seconds'];
    // Created by a refused update: a label-less metric shows its zero series as prom-client's does.
    expect(() => m.inc('synod_bus_received_total', { x: 'y' })).toThrow();
    expect(() => ref.inc('synod_bus_received_total', { x: 'y' })).toThrow();
    expect(() => m.observe('synod_commit_wait_seconds', 1, { x: 'y' })).toThrow();
    expect(() => ref.observe('synod_commit_wait_seconds', 1, { x: 'y' })).toThrow();
    expect(await m.registry.getSingleMetricAsString('synod_bus_received_total')).toBe(await ref.registry.getSingleMetricAsString('synod_bus_received_total'));
    expect(await m.registry.getSingleMetricAsString('synod_commit_wait_seconds')).toBe(await ref.registry.getSingleMetricAsString('synod_commit_wait_seconds'));
    both.inc('synod_bus_received_total', {}, 0);
    both.observe('synod_storage_persist_seconds', 0.0001);
    const bounds = catalog.synod_read_latency_seconds!.buckets!;
    const values = [0, -1, 1e-9, 0.1, 0.3, 1e6, ...bounds, ...bounds.map((b) => b * (1 + 1e-12)), ...bounds.map((b) => b * (1 - 1e-12))];
    for (const [i, v] of values.entries()) {
      both.observe('synod_read_latency_seconds', v, i % 3 === 0 ? { kind: 'kv.read', outcome: 'ok' } : i % 3 === 1 ? { outcome: 'ok', kind: 'kv.snapshot' } : { kind: 'kv.read', outcome: 'UNAVAILABLE' });
      both.observe('synod_commit_wait_seconds', v);
      both.observe('synod_test_uncatalogued_seconds', v * 3, { where: 'x' });
      both.inc('synod_bus_dropped_total', { reason: i % 2 ? 'bad_body' : 'a "quoted", \\ reason\n' }, i % 4);
      both.inc('synod_bus_received_total', {}, 0.1 * i);
    }
    for (const name of names) expect(await m.registry.getSingleMetricAsString(name), name).toBe(await ref.registry.getSingleMetricAsString(name));
    const json = async (r: Registry) => (await r.getMetricsAsJSON()).filter((x) => names.includes(x.name));
    expect(await json(m.registry)).toEqual(await json(ref.registry));
    // The synchronous reads agree with what was exported.
    expect(m.get('synod_read_latency_seconds', { outcome: 'ok', kind: 'kv.read' })).toBe(Math.ceil(values.length / 3));
    expect(m.total('synod_read_latency_seconds')).toBe(values.length);
  });

  it('refuses what prom-client refuses: an undeclared label, a value that is not a finite number', () => {
    const m = new Metrics();
    expect(() => m.observe('synod_read_latency_seconds', 0.1, { kind: 'kv.read', outcome: 'ok', extra: 'x' })).toThrow(/extra/);
    expect(() => m.observe('synod_commit_wait_seconds', Number.NaN)).toThrow(TypeError);
    expect(() => m.observe('synod_commit_wait_seconds', Number.POSITIVE_INFINITY)).toThrow(TypeError);
    expect(() => m.inc('synod_bus_received_total', {}, Number.POSITIVE_INFINITY)).toThrow(TypeError);
    expect(m.total('synod_commit_wait_seconds')).toBe(0);
  });
});
