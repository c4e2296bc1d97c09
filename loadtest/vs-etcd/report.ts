/**
 * The pure parts of `bench:vs-etcd`: a bounded-memory latency histogram, CPU time from
 * /proc/<pid>/stat text, ratios and the final markdown table (unit-tested in report.test.ts).
 */

/**
 * Latencies in log-spaced buckets (HDR-like): bucket i holds values in (G^(i-1), G^i] µs with
 * G = 1.01, so a percentile is exact to within 1%; values from 1 µs to about 10 min, ~2,800
 * counters whatever the number of samples.
 */
export class LatencyHistogram {
  static readonly GROWTH = 1.01;
  private static readonly LOG_G = Math.log(LatencyHistogram.GROWTH);
  private readonly counts: Uint32Array;
  count = 0;
  maxMs = 0;

  constructor(maxMs = 600_000) {
    this.counts = new Uint32Array(LatencyHistogram.bucketOf(maxMs * 1000) + 2);
  }

  static bucketOf(us: number): number {
    return us <= 1 ? 0 : Math.ceil(Math.log(us) / LatencyHistogram.LOG_G - 1e-9);
  }

  record(ms: number): void {
    const b = Math.min(this.counts.length - 1, LatencyHistogram.bucketOf(ms * 1000));
    this.counts[b]!++;
    this.count++;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  merge(other: LatencyHistogram): void {
    if (other.counts.length !== this.counts.length) throw new Error('histograms of different ranges');
    for (let i = 0; i < other.counts.length; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
    this.maxMs = Math.max(this.maxMs, other.maxMs);
  }

  /** The p-th percentile (0 < p ≤ 100) in ms: the upper bound of the bucket holding it, capped at the max; NaN when empty. */
  percentile(p: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.maxMs, LatencyHistogram.GROWTH ** i / 1000);
    }
    return this.maxMs;
  }
}

/** CPU seconds (utime + stime) in the text of /proc/<pid>/stat; USER_HZ is 100 on Linux here. */
export function cpuSecondsFromStat(stat: string, userHz = 100): number {
  // The command name (field 2) is in parentheses and may hold spaces or ')': fields after the last ')' start at state (field 3).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).trim().split(/\s+/);
  const ticks = Number(fields[11]) + Number(fields[12]);
  if (!Number.isFinite(ticks)) throw new Error(`not a /proc/<pid>/stat line: ${stat.slice(0, 80)}`);
  return ticks / userHz;
}

/** Server CPU per operation in µs, from total CPU seconds before and after a window. */
export function cpuUsPerOp(before: number, after: number, ops: number): number {
  return ops > 0 ? ((after - before) * 1e6) / ops : NaN;
}

/** a / b, or NaN when either is missing or b is 0. */
export function ratio(a: number | undefined, b: number | undefined): number {
  return a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0 ? NaN : a / b;
}

const fmt = (x: number | undefined, digits: number) => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits));
const ms = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '—' : x < 10 ? x.toFixed(2) : x.toFixed(1));

export interface Cell {
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerOp: number;
  /** The driver process's own CPU per op (µs): the clients' share, on the same machine. */
  driverCpuUsPerOp?: number;
}

export interface TableRow {
  workload: string;
  clients: number;
  synod?: Cell;
  etcd?: Cell;
}

export const TABLE_HEADER = '| workload | clients | synod ops/s | etcd ops/s | ratio | synod p50/p99 ms | etcd p50/p99 ms | synod CPU µs/op | etcd CPU µs/op |';

/** The final table; ratio = synod ops/s ÷ etcd ops/s; '—' where a system did not run or measured nothing. */
export function markdownTable(rows: TableRow[]): string {
  const lines = [TABLE_HEADER, '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |'];
  for (const r of rows) {
    const lat = (c: Cell | undefined) => (c ? `${ms(c.p50Ms)} / ${ms(c.p99Ms)}` : '—');
    lines.push(
      `| ${r.workload} | ${r.clients} | ${fmt(r.synod?.opsPerSec, 0)} | ${fmt(r.etcd?.opsPerSec, 0)} | ${fmt(ratio(r.synod?.opsPerSec, r.etcd?.opsPerSec), 2)} | ${lat(r.synod)} | ${lat(r.etcd)} | ${fmt(r.synod?.cpuUsPerOp, 0)} | ${fmt(r.etcd?.cpuUsPerOp, 0)} |`,
    );
  }
  return lines.join('\n');
}

export const CPU_TABLE_HEADER = '| workload | clients | synod server µs/op | synod driver µs/op | etcd server µs/op | etcd driver µs/op |';

/**
 * Where each op's CPU went: the servers' (from /proc) and the one driver process's
 * (process.cpuUsage), per system. Both run on one machine, so a driver that costs more per op
 * than the servers caps the throughput the table above can show.
 */
export function cpuTable(rows: TableRow[]): string {
  const lines = [CPU_TABLE_HEADER, '| --- | ---: | ---: | ---: | ---: | ---: |'];
  for (const r of rows)
    lines.push(`| ${r.workload} | ${r.clients} | ${fmt(r.synod?.cpuUsPerOp, 0)} | ${fmt(r.synod?.driverCpuUsPerOp, 0)} | ${fmt(r.etcd?.cpuUsPerOp, 0)} | ${fmt(r.etcd?.driverCpuUsPerOp, 0)} |`);
  return lines.join('\n');
}

/** A comma-separated list of positive integers (e.g. --clients 1,32,128). */
export function parseIntList(s: string, max: number): number[] {
  const xs = s.split(',').filter(Boolean).map((x) => Number(x.trim()));
  if (xs.length === 0 || xs.some((x) => !Number.isInteger(x) || x < 1 || x > max)) throw new Error(`"${s}": expected comma-separated integers 1..${max}`);
  return xs;
}

/** A 64-byte value whose first 12 bytes are a counter: what the read-modify-write workload increments. */
export function valueWithCounter(n: number, size = 64): string {
  return String(n).padStart(12, '0').padEnd(size, 'x').slice(0, size);
}

/** The counter of `valueWithCounter`, 0 for anything else (a missing key). */
export function counterOf(v: unknown): number {
  const n = typeof v === 'string' ? Number(v.slice(0, 12)) : NaN;
  return Number.isFinite(n) ? n : 0;
}
