/**
 * One closed-loop driver for both systems. Each loop owns one client (an `Adapter`) connected to
 * its DC (synod) or member (etcd), round-robin over the three; a workload is one call on it.
 */
import { procCpuSeconds } from '../node-load.js';
import { LatencyHistogram } from './report.js';

/** One client of one system, as the four workloads use it. Each call resolves with the retries it took (0: first attempt). */
export interface Adapter {
  /** Where this client sends (a DC or an etcd member), for the report. */
  readonly at: string;
  put(key: string, value: string): Promise<number>;
  /** Linearizable read (synod strong read at the leader; etcd linearizable range). */
  strongGet(key: string): Promise<number>;
  /** Read a replica near the client may serve (synod bounded staleness; etcd serializable range). */
  staleGet(key: string): Promise<number>;
  /** Read both keys and write both back incremented, in one transaction (synod read-write txn; etcd STM). */
  rmw2(keyA: string, keyB: string): Promise<number>;
  close(): Promise<void>;
}

export const WORKLOADS = ['put', 'strong-get', 'stale-get', 'rmw2'] as const;
export type Workload = (typeof WORKLOADS)[number];

export interface LoopResult {
  ops: number;
  seconds: number;
  errors: number;
  retries: number;
  /** The first few error messages, for the report. */
  errorSamples: string[];
  latency: LatencyHistogram;
  /** Server CPU seconds used over the measured window, summed over `pids`. */
  serverCpuSeconds: number;
  /**
   * CPU seconds (user + system) of this driver process over the measured window
   * (process.cpuUsage): the clients' side of every op, which shares the machine with the servers.
   */
  driverCpuSeconds: number;
  /** Server CPU seconds over the window per pid (same order as `serverPids`; NaN where /proc could not be read). */
  serverCpuByPid: number[];
}

export interface KeySpace {
  /** Key number i as the system stores it (e.g. a prefix that keeps synod's keys in one split). */
  key(i: number): string;
  /** How many keys are preloaded (reads and rmw2 pick among them). */
  size: number;
}

/** What `workload` does once on loop `w` (seq: the loop's op count, for fresh values). */
export function opFor(workload: Workload, keys: KeySpace, rand: () => number): (a: Adapter, w: number, seq: number) => Promise<number> {
  const pick = () => Math.floor(rand() * keys.size);
  switch (workload) {
    case 'put':
      // One key per loop: writers never conflict.
      return (a, w, seq) => a.put(keys.key(keys.size + w), String(seq).padStart(12, '0').padEnd(64, 'p'));
    case 'strong-get':
      return (a) => a.strongGet(keys.key(pick()));
    case 'stale-get':
      return (a) => a.staleGet(keys.key(pick()));
    case 'rmw2':
      return (a) => {
        const i = pick();
        let j = pick();
        if (j === i) j = (i + 1) % keys.size;
        return a.rmw2(keys.key(i), keys.key(j));
      };
  }
}

const cpuOf = (pids: number[]) => pids.map((p) => procCpuSeconds(p) ?? NaN);
const sum = (xs: number[]) => xs.reduce((s, x) => s + (Number.isFinite(x) ? x : 0), 0);

/**
 * Runs `op` from `clients` loops (loop w on adapters[w]) for `warmupSeconds` unmeasured, then
 * `seconds` measured. A failed op is counted (and the loop pauses 10 ms, so a dead server is not
 * spun on); every loop ends at the deadline plus at most the op in flight.
 */
export async function runClosedLoop(
  adapters: Adapter[],
  clients: number,
  warmupSeconds: number,
  seconds: number,
  op: (a: Adapter, w: number, seq: number) => Promise<number>,
  serverPids: number[],
  /** Called once as the measured window opens (e.g. to read the servers' counters then). */
  onMeasureStart?: () => void,
): Promise<LoopResult> {
  if (adapters.length < clients) throw new Error(`${clients} loops but ${adapters.length} clients`);
  const latency = new LatencyHistogram();
  let ops = 0;
  let errors = 0;
  let retries = 0;
  const errorSamples: string[] = [];
  let measuring = false;
  const t0 = performance.now();
  const measureFrom = t0 + warmupSeconds * 1000;
  const end = measureFrom + seconds * 1000;
  let cpuBefore: number[] = [];
  let driverBefore: NodeJS.CpuUsage = { user: 0, system: 0 };
  let measuredStart = measureFrom;
  const startMeasuring = () => {
    measuring = true;
    measuredStart = performance.now();
    cpuBefore = cpuOf(serverPids);
    driverBefore = process.cpuUsage();
    onMeasureStart?.();
  };
  const timer = setTimeout(startMeasuring, warmupSeconds * 1000);
  const loop = async (w: number) => {
    const a = adapters[w]!;
    let seq = 0;
    while (performance.now() < end) {
      const s = performance.now();
      const counted = measuring;
      try {
        const r = await op(a, w, ++seq);
        if (counted) {
          latency.record(performance.now() - s);
          ops++;
          retries += r;
        }
      } catch (err) {
        if (counted) {
          errors++;
          if (errorSamples.length < 5) errorSamples.push(err instanceof Error ? err.message.split('\n')[0]! : String(err));
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: clients }, (_, w) => loop(w)));
  } finally {
    clearTimeout(timer);
  }
  if (!measuring) startMeasuring();
  const driver = process.cpuUsage(driverBefore);
  const cpuAfter = cpuOf(serverPids);
  const elapsed = (performance.now() - measuredStart) / 1000;
  const serverCpuByPid = cpuAfter.map((a, i) => a - cpuBefore[i]!);
  return { ops, seconds: elapsed, errors, retries, errorSamples, latency, serverCpuSeconds: sum(serverCpuByPid), driverCpuSeconds: (driver.user + driver.system) / 1e6, serverCpuByPid };
}

/** Runs `fn` over 0..n-1 with at most `concurrency` in flight. */
export async function forEachLimited(n: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}
