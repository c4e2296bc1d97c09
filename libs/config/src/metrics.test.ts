import { afterEach, describe, expect, it } from 'vitest';
import { Metrics } from './metrics.js';
import { serveProbes, type ProbeServer, type Readiness } from './metrics-http.js';

describe('Metrics (prom-client)', () => {
  it('renders catalogued counters, gauges and histograms as Prometheus text with their help and type', async () => {
    const m = new Metrics();
    m.inc('synod_bus_dropped_total', { reason: 'bad_body' }, 2);
    m.set('synod_split_leader', 1, { split: 's1' });
    m.observe('synod_commit_wait_seconds', 0.0003);
    m.observe('synod_commit_wait_seconds', 0.002);
    const text = await m.render();
    expect(text).toContain('# TYPE synod_bus_dropped_total counter');
    expect(text).toContain('synod_bus_dropped_total{reason="bad_body"} 2');
    expect(text).toContain('# TYPE synod_split_leader gauge');
    expect(text).toContain('synod_split_leader{split="s1"} 1');
    expect(text).toContain('# TYPE synod_commit_wait_seconds histogram');
    // Cumulative buckets: 0.3 ms is under 0.5 ms, 2 ms under 2.5 ms.
    expect(text).toContain('synod_commit_wait_seconds_bucket{le="0.00025"} 0');
    expect(text).toContain('synod_commit_wait_seconds_bucket{le="0.0005"} 1');
    expect(text).toContain('synod_commit_wait_seconds_bucket{le="0.0025"} 2');
    expect(text).toContain('synod_commit_wait_seconds_count 2');
    expect(m.get('synod_commit_wait_seconds')).toBe(2);
    expect(m.get('synod_bus_dropped_total', { reason: 'bad_body' })).toBe(2);
  });

  it('keeps each Metrics apart (its own registry)', async () => {
    const a = new Metrics();
    const b = new Metrics();
    a.inc('synod_bus_received_total');
    expect(b.get('synod_bus_received_total')).toBe(0);
    expect(await b.render()).not.toContain('synod_bus_received_total');
  });

  it('bounds the label sets of a metric and counts what it refuses', () => {
    const m = new Metrics({ maxSeriesPerMetric: 2 });
    for (const master of ['tm-a', 'tm-b', 'tm-c', 'tm-d']) m.inc('synod_truetime_masters_rejected_total', { master });
    m.inc('synod_truetime_masters_rejected_total', { master: 'tm-a' });
    expect(m.get('synod_truetime_masters_rejected_total', { master: 'tm-a' })).toBe(2);
    expect(m.get('synod_truetime_masters_rejected_total', { master: 'tm-c' })).toBe(0);
    expect(m.get('synod_metrics_series_refused_total', { metric: 'synod_truetime_masters_rejected_total' })).toBe(2);
  });

  it('one series per label set, whatever the order the labels are given in', async () => {
    const m = new Metrics();
    m.observe('synod_read_latency_seconds', 0.001, { kind: 'kv.read', outcome: 'ok' });
    m.observe('synod_read_latency_seconds', 0.001, { outcome: 'ok', kind: 'kv.read' });
    m.observe('synod_read_latency_seconds', 0.001, { outcome: 'ok', kind: 'kv.snapshot' });
    expect(m.get('synod_read_latency_seconds', { outcome: 'ok', kind: 'kv.read' })).toBe(2);
    expect(m.get('synod_read_latency_seconds', { kind: 'kv.snapshot', outcome: 'ok' })).toBe(1);
    expect(m.total('synod_read_latency_seconds')).toBe(3);
    m.inc('synod_bus_dropped_total', { reason: 'a' });
    m.inc('synod_bus_dropped_total', { reason: 'a' }, 2);
    m.inc('synod_bus_dropped_total', { reason: 'a,b' });
    expect(m.get('synod_bus_dropped_total', { reason: 'a' })).toBe(3);
    expect(m.get('synod_bus_dropped_total', { reason: 'a,b' })).toBe(1);
    m.inc('synod_bus_received_total');
    expect(m.get('synod_bus_received_total', {})).toBe(1);
    // Three labels (an uncatalogued metric takes its labels from the first update).
    m.inc('synod_test_three_total', { a: '1', b: '2', c: '3' });
    m.inc('synod_test_three_total', { c: '3', a: '1', b: '2' });
    m.inc('synod_test_three_total', { b: '2', a: '1', c: '4' });
    expect(m.get('synod_test_three_total', { a: '1', c: '3', b: '2' })).toBe(2);
    expect(m.get('synod_test_three_total', { a: '1', b: '2', c: '4' })).toBe(1);
    expect(m.get('synod_test_three_total', { a: '1', b: '2' })).toBe(0);
    const text = await m.render();
    expect(text).toContain('synod_read_latency_seconds_count{kind="kv.read",outcome="ok"} 2');
    expect(text).toContain('synod_bus_dropped_total{reason="a"} 3');
  });

  it('refuses a counter going down, a type mismatch and an undeclared label', () => {
    const m = new Metrics();
    expect(() => m.inc('synod_bus_received_total', {}, -1)).toThrow(/cannot go down/);
    expect(() => m.set('synod_bus_received_total', 3)).toThrow(/counter/);
    expect(() => m.inc('synod_bus_dropped_total', { reason: 'x', extra: 'y' })).toThrow();
  });

  it('exports a name missing from the catalog and counts it', async () => {
    const m = new Metrics();
    m.inc('synod_not_catalogued_total', { k: 'v' });
    expect(m.get('synod_metrics_uncataloged_total', { metric: 'synod_not_catalogued_total' })).toBe(1);
    expect(await m.render()).toContain('synod_not_catalogued_total{k="v"} 1');
  });

  it('renders the text prom-client would, letting the event loop run between metrics', async () => {
    // renderSliceMs 0: a turn after every metric. prom-client's own registry.metrics() renders
    // them all in one turn: the immediate below would run only after it resolved.
    const m = new Metrics({ renderSliceMs: 0 });
    for (let i = 0; i < 50; i++) m.set('synod_split_leader', i % 2, { split: `s${i}` });
    m.inc('synod_bus_received_total', {}, 3);
    m.observe('synod_commit_latency_seconds', 0.002, { outcome: 'ok' });
    let turns = 0;
    const tick = () => {
      turns++;
      if (turns < 1_000) setImmediate(tick);
    };
    setImmediate(tick);
    const text = await m.render();
    expect(turns).toBeGreaterThan(1);
    expect(text).toBe(await m.registry.metrics());
  });

  it('awaits a collector that sets its gauges in slices', async () => {
    const m = new Metrics();
    m.onCollect(async () => {
      await new Promise((r) => setImmediate(r));
      m.set('synod_chaos_version', 7);
    });
    expect(await m.render()).toContain('synod_chaos_version 7');
  });

  it('runs collectors before each render', async () => {
    const m = new Metrics();
    let n = 0;
    m.onCollect(() => m.set('synod_chaos_version', ++n));
    expect(await m.render()).toContain('synod_chaos_version 1');
    expect(await m.render()).toContain('synod_chaos_version 2');
  });
});

describe('serveProbes', () => {
  let srv: ProbeServer | undefined;
  afterEach(async () => {
    await srv?.close();
    srv = undefined;
  });

  it('answers /healthz always, /readyz by the readiness check, /metrics with the registry', async () => {
    const m = new Metrics();
    m.inc('synod_bus_received_total', {}, 7);
    let readiness: Readiness = { ready: true, reasons: [] };
    srv = await serveProbes({ metrics: m, readiness: () => readiness, port: 0 });
    const get = async (path: string, method = 'GET') => {
      const r = await fetch(srv!.url + path, { method });
      return { status: r.status, type: r.headers.get('content-type'), body: await r.text() };
    };
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/readyz')).status).toBe(200);
    readiness = { ready: false, reasons: ['clock out of bounds'] };
    const nr = await get('/readyz');
    expect(nr.status).toBe(503);
    expect(JSON.parse(nr.body)).toEqual({ ready: false, reasons: ['clock out of bounds'] });
    expect((await get('/healthz')).status).toBe(200);
    const metrics = await get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.type).toContain('text/plain');
    expect(metrics.body).toContain('synod_bus_received_total 7');
    expect((await get('/nope')).status).toBe(404);
    expect((await get('/metrics', 'POST')).status).toBe(405);
  });

  it('answers 500 naming the failure when a collector throws', async () => {
    const m = new Metrics();
    m.onCollect(() => {
      throw new Error('collector broke');
    });
    srv = await serveProbes({ metrics: m, readiness: () => ({ ready: true, reasons: [] }), port: 0 });
    const r = await fetch(srv.url + '/metrics');
    expect(r.status).toBe(500);
    expect(await r.text()).toContain('collector broke');
  });
});
