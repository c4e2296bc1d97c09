/** Shared arithmetic for benchmark reports. */
export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export interface RunResult {
  label: string;
  ops: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  /** Every op's latency (ms), sorted: what `mergeRuns` combines. */
  latenciesMs?: Float64Array;
}

export const opsPerSec = (r: RunResult) => r.ops / r.seconds;

/** Runs `op` from `concurrency` loops for `seconds`, recording each op's latency; `op` gets its loop's number (0 … concurrency-1). */
export async function closedLoop(label: string, concurrency: number, seconds: number, op: (worker: number) => Promise<unknown>): Promise<RunResult> {
  const latencies: number[] = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  const worker = async (w: number) => {
    while (performance.now() < end) {
      const t0 = performance.now();
      await op(w);
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const elapsed = (performance.now() - start) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  return { label, ops: latencies.length, seconds: elapsed, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), latenciesMs: sorted };
}

/** Several runs of the same thing (e.g. alternating rounds) as one: ops and seconds added, percentiles over every op. */
export function mergeRuns(label: string, runs: RunResult[]): RunResult {
  const all = Float64Array.from(runs.flatMap((r) => [...(r.latenciesMs ?? [])])).sort();
  return { label, ops: runs.reduce((a, r) => a + r.ops, 0), seconds: runs.reduce((a, r) => a + r.seconds, 0), p50Ms: percentile(all, 50), p99Ms: percentile(all, 99), latenciesMs: all };
}

export function formatRow(r: RunResult): string {
  return `${r.label.padEnd(28)} ${opsPerSec(r).toFixed(0).padStart(9)} req/s   p50 ${r.p50Ms.toFixed(3).padStart(7)} ms   p99 ${r.p99Ms.toFixed(3).padStart(7)} ms`;
}

export interface OpenLoopResult extends RunResult {
  /** The rate asked for (ops/s). */
  offeredPerSec: number;
  /** Ops not started because `maxInFlight` were outstanding: the system fell behind the rate. */
  shed: number;
}

/**
 * Starts `op` at a fixed rate for `seconds`, whatever the replies do (an open loop: what a
 * service's many independent users look like, unlike closedLoop's fixed crowd). Latency runs
 * from each op's scheduled start, so a stalled system is not excused by starting fewer ops.
 * At most `maxInFlight` ops are outstanding; an op due beyond that is shed and counted.
 */
export async function openLoop(label: string, ratePerSec: number, seconds: number, maxInFlight: number, op: (seq: number) => Promise<unknown>): Promise<OpenLoopResult> {
  const latencies: number[] = [];
  const start = performance.now();
  const total = Math.floor(ratePerSec * seconds);
  const pending = new Set<Promise<unknown>>();
  let shed = 0;
  let errors: unknown;
  for (let seq = 0; seq < total && errors === undefined; seq++) {
    const due = start + (seq * 1000) / ratePerSec;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    if (pending.size >= maxInFlight) {
      shed++;
      continue;
    }
    const p: Promise<unknown> = op(seq).then(
      () => {
        latencies.push(performance.now() - due);
        pending.delete(p);
      },
      (err: unknown) => {
        errors ??= err;
        pending.delete(p);
      },
    );
    pending.add(p);
  }
  await Promise.all(pending);
  if (errors !== undefined) throw errors;
  const elapsed = (performance.now() - start) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  return { label, ops: latencies.length, seconds: elapsed, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), latenciesMs: sorted, offeredPerSec: ratePerSec, shed };
}
