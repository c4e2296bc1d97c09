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
}

export const opsPerSec = (r: RunResult) => r.ops / r.seconds;

/** Runs `op` from `concurrency` loops for `seconds`, recording each op's latency. */
export async function closedLoop(label: string, concurrency: number, seconds: number, op: () => Promise<unknown>): Promise<RunResult> {
  const latencies: number[] = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      await op();
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - start) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  return { label, ops: latencies.length, seconds: elapsed, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
}

export function formatRow(r: RunResult): string {
  return `${r.label.padEnd(28)} ${opsPerSec(r).toFixed(0).padStart(9)} req/s   p50 ${r.p50Ms.toFixed(3).padStart(7)} ms   p99 ${r.p99Ms.toFixed(3).padStart(7)} ms`;
}
