/**
 * Splits this process's event-loop delay into time its main thread waited for a CPU and time it
 * spent running (docs/metrics.md, "Event-loop delay"). On a machine with more runnable processes
 * than cores the loop is late even when no callback runs long; the kernel counts, per thread, how
 * long it sat runnable in a run queue (/proc/thread-self/schedstat, Linux, ns precision). A timer
 * every `intervalMs` reads it: of each sample's lateness, the part not explained by run-queue
 * wait is the process's own stall (a long callback, GC, a synchronous write).
 */
import { closeSync, openSync, readSync } from 'node:fs';

/** The main thread's cumulative scheduler figures. */
export interface SchedReading {
  /** Time on a CPU, ns. */
  runNs: number;
  /** Time runnable but waiting for a CPU, ns. */
  waitNs: number;
}

/** Figures since the last reset, in ms. */
export interface StallFigures {
  samples: number;
  /** Largest lateness of one sample. */
  maxDelayMs: number;
  /** Largest lateness of one sample beyond the run-queue wait inside it: the process's own stall. */
  maxOwnMs: number;
  /** Largest run-queue wait inside one sample. */
  maxWaitMs: number;
  /** All run-queue wait since the reset. */
  waitMs: number;
  /**
   * The sample with the largest own stall, its whole gap split into time on a CPU, run-queue wait
   * and the rest (asleep: idle in the event loop's poll, or blocked in a system call or page fault).
   */
  worstOwn?: { gapMs: number; runMs: number; waitMs: number; asleepMs: number };
  /** Since the reset. */
  windowMs: number;
}

/** Parses "<run ns> <wait ns> <slices>"; undefined if it is not that. */
export function parseSchedstat(text: string): SchedReading | undefined {
  const [run, wait] = text.trim().split(/\s+/).map(Number);
  return Number.isFinite(run) && Number.isFinite(wait) ? { runNs: run!, waitNs: wait! } : undefined;
}

const SCHEDSTAT = '/proc/thread-self/schedstat';

/**
 * The calling thread's schedstat through a file kept open and re-read from offset 0 (a /proc seq
 * file starts over at 0). Opening, reading and closing it 100 times a second was 1.4% of a
 * follower's main thread under puts, the read alone 0.9% (docs/benchmarks.md, "After round 5").
 * `/proc/thread-self` is resolved at open: open it on the thread to be measured.
 */
export class ThreadSchedstat {
  private fd: number | undefined;
  private readonly buf = Buffer.alloc(128);

  constructor() {
    try {
      this.fd = openSync(SCHEDSTAT, 'r');
    } catch {
      this.fd = undefined;
    }
  }

  /** The thread's figures now, or undefined where there are none (not Linux, schedstats off) or after close. */
  read(): SchedReading | undefined {
    if (this.fd === undefined) return undefined;
    try {
      const n = readSync(this.fd, this.buf, 0, this.buf.length, 0);
      return parseSchedstat(this.buf.toString('latin1', 0, n));
    } catch {
      return undefined;
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

export interface RunQueueProbeOptions {
  /** Sampling period, ms (default 10: 100 reads of a /proc file per second). */
  intervalMs?: number;
  nowMs?: () => number;
  read?: () => SchedReading | undefined;
}

const NS_PER_MS = 1e6;

export class RunQueueProbe {
  readonly intervalMs: number;
  private readonly nowMs: () => number;
  private readonly read: () => SchedReading | undefined;
  /** The schedstat file this probe opened (none when given `read`); closed by stop(). */
  private file: ThreadSchedstat | undefined;
  private timer: NodeJS.Timeout | undefined;
  private last: { atMs: number; sched: SchedReading } | undefined;
  private figures: StallFigures;
  private since: number;

  constructor(opts: RunQueueProbeOptions = {}) {
    this.intervalMs = opts.intervalMs ?? 10;
    if (!(this.intervalMs >= 1 && this.intervalMs <= 1_000)) throw new Error(`run-queue probe interval must be 1..1000 ms, got ${this.intervalMs}`);
    this.nowMs = opts.nowMs ?? (() => performance.now());
    if (opts.read) this.read = opts.read;
    else {
      const file = new ThreadSchedstat();
      this.file = file;
      this.read = () => file.read();
    }
    this.since = this.nowMs();
    this.figures = this.empty();
  }

  /** Whether this platform gives the figures at all. */
  available(): boolean {
    return this.read() !== undefined;
  }

  /** Samples every intervalMs; the timer does not keep the process alive. */
  start(): this {
    if (!this.timer) {
      this.sample();
      this.timer = setInterval(() => this.sample(), this.intervalMs);
      this.timer.unref();
    }
    return this;
  }

  /** One sample: how late it came after the previous one, and how much of that was run-queue wait. */
  sample(): void {
    const atMs = this.nowMs();
    const sched = this.read();
    if (sched === undefined) return;
    const prev = this.last;
    this.last = { atMs, sched };
    if (prev === undefined) return;
    const gap = atMs - prev.atMs;
    const delay = Math.max(0, gap - this.intervalMs);
    const wait = Math.max(0, sched.waitNs - prev.sched.waitNs) / NS_PER_MS;
    const run = Math.max(0, sched.runNs - prev.sched.runNs) / NS_PER_MS;
    const own = delay - Math.min(delay, wait);
    const f = this.figures;
    f.samples++;
    f.maxDelayMs = Math.max(f.maxDelayMs, delay);
    if (own > f.maxOwnMs) {
      f.maxOwnMs = own;
      f.worstOwn = { gapMs: gap, runMs: run, waitMs: wait, asleepMs: Math.max(0, gap - run - wait) };
    }
    f.maxWaitMs = Math.max(f.maxWaitMs, wait);
    f.waitMs += wait;
  }

  sinceReset(): StallFigures {
    const f = this.figures;
    return { ...f, ...(f.worstOwn ? { worstOwn: { ...f.worstOwn } } : {}), windowMs: this.nowMs() - this.since };
  }

  /** Starts a new window; the interval running now is not counted in it. */
  reset(): void {
    this.figures = this.empty();
    this.since = this.nowMs();
    this.last = undefined;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.file?.close();
    this.file = undefined;
  }

  private empty(): StallFigures {
    return { samples: 0, maxDelayMs: 0, maxOwnMs: 0, maxWaitMs: 0, waitMs: 0, windowMs: 0 };
  }
}
