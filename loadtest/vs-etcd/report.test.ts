import { describe, expect, it } from 'vitest';
import { counterOf, cpuSecondsFromStat, cpuTable, cpuUsPerOp, CPU_TABLE_HEADER, LatencyHistogram, markdownTable, parseIntList, ratio, TABLE_HEADER, valueWithCounter } from './report.js';

describe('LatencyHistogram', () => {
  it('percentiles are within 1% of the sorted sample', () => {
    const h = new LatencyHistogram();
    const xs = Array.from({ length: 10_000 }, (_, i) => 0.05 + (i % 997) * 0.37);
    for (const x of xs) h.record(x);
    const sorted = [...xs].sort((a, b) => a - b);
    for (const p of [50, 90, 99, 99.9]) {
      const exact = sorted[Math.ceil((p / 100) * sorted.length) - 1]!;
      expect(Math.abs(h.percentile(p) - exact) / exact).toBeLessThanOrEqual(0.0101);
      expect(h.percentile(p)).toBeGreaterThanOrEqual(exact);
    }
    expect(h.count).toBe(10_000);
    expect(h.percentile(100)).toBe(Math.max(...xs));
  });

  it('is NaN when empty, and merges', () => {
    const a = new LatencyHistogram();
    expect(a.percentile(50)).toBeNaN();
    const b = new LatencyHistogram();
    a.record(1);
    b.record(3);
    b.record(3);
    a.merge(b);
    expect(a.count).toBe(3);
    expect(a.percentile(50)).toBeCloseTo(3, 1);
    expect(a.percentile(1)).toBeCloseTo(1, 1);
  });

  it('keeps values beyond its range in the last bucket, capped at the max seen', () => {
    const h = new LatencyHistogram(10);
    h.record(50);
    expect(h.percentile(50)).toBeLessThanOrEqual(50);
  });
});

describe('CPU accounting from /proc/<pid>/stat', () => {
  it('adds utime and stime (fields 14, 15) in ticks of 1/100 s, past a command name with spaces and parentheses', () => {
    const stat = '4242 (etcd (a) b) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 12 0 100 0 0';
    expect(cpuSecondsFromStat(stat)).toBeCloseTo(3.25, 9);
  });

  it('refuses text that is not a stat line', () => {
    expect(() => cpuSecondsFromStat('nonsense')).toThrow();
  });

  it('per op: CPU seconds over a window ÷ ops, in µs', () => {
    expect(cpuUsPerOp(10, 10.5, 1000)).toBeCloseTo(500, 9);
    expect(cpuUsPerOp(10, 11, 0)).toBeNaN();
  });
});

describe('table', () => {
  it('ratios, with NaN where a side is missing', () => {
    expect(ratio(300, 150)).toBe(2);
    expect(ratio(1, 0)).toBeNaN();
    expect(ratio(undefined, 3)).toBeNaN();
  });

  it('prints the header the issue asks for and one row per (workload, clients)', () => {
    const t = markdownTable([
      { workload: 'put', clients: 1, synod: { opsPerSec: 100.4, p50Ms: 9.5, p99Ms: 20.25, cpuUsPerOp: 1234.4 }, etcd: { opsPerSec: 200, p50Ms: 4.987, p99Ms: 8, cpuUsPerOp: 300 } },
      { workload: 'stale-get', clients: 32, synod: { opsPerSec: 5000, p50Ms: 1, p99Ms: 3, cpuUsPerOp: NaN } },
    ]);
    const lines = t.split('\n');
    expect(lines[0]).toBe(TABLE_HEADER);
    expect(lines[0]).toBe('| workload | clients | synod ops/s | etcd ops/s | ratio | synod p50/p99 ms | etcd p50/p99 ms | synod CPU µs/op | etcd CPU µs/op |');
    expect(lines[2]).toBe('| put | 1 | 100 | 200 | 0.50 | 9.50 / 20.3 | 4.99 / 8.00 | 1234 | 300 |');
    expect(lines[3]).toBe('| stale-get | 32 | 5000 | — | — | 1.00 / 3.00 | — | — | — |');
  });

  it('prints server and driver CPU per op side by side, — where not measured', () => {
    const t = cpuTable([
      { workload: 'strong-get', clients: 128, synod: { opsPerSec: 1, p50Ms: 1, p99Ms: 1, cpuUsPerOp: 118.2, driverCpuUsPerOp: 140.6 }, etcd: { opsPerSec: 1, p50Ms: 1, p99Ms: 1, cpuUsPerOp: 300, driverCpuUsPerOp: 90 } },
      { workload: 'put', clients: 1, synod: { opsPerSec: 1, p50Ms: 1, p99Ms: 1, cpuUsPerOp: 500 } },
    ]).split('\n');
    expect(t[0]).toBe(CPU_TABLE_HEADER);
    expect(t[2]).toBe('| strong-get | 128 | 118 | 141 | 300 | 90 |');
    expect(t[3]).toBe('| put | 1 | 500 | — | — | — |');
  });
});

describe('flags and values', () => {
  it('parses client lists', () => {
    expect(parseIntList('1,32,128', 512)).toEqual([1, 32, 128]);
    expect(() => parseIntList('1,x', 512)).toThrow();
    expect(() => parseIntList('0', 512)).toThrow();
    expect(() => parseIntList('1000', 512)).toThrow();
  });

  it('64-byte values carry a counter the rmw workload increments', () => {
    const v = valueWithCounter(41);
    expect(Buffer.byteLength(v)).toBe(64);
    expect(counterOf(v)).toBe(41);
    expect(counterOf(undefined)).toBe(0);
  });
});
