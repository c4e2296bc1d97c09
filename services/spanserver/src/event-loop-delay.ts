/**
 * How late this process's event loop runs its callbacks (docs/metrics.md, "Event-loop delay"):
 * node:perf_hooks' `monitorEventLoopDelay` samples the loop every `resolutionMs` and records how
 * much later than asked each sample ran. A spanserver whose loop stalls delays every split it
 * hosts at once (heartbeats, leases, replies), so the figures are exported twice:
 *
 *   - `window`: the last completed rolling window (`windowMs`, default 10 s), for the gauges
 *     `synod_event_loop_delay_p99_seconds` / `_max_seconds`: a scrape at any moment sees a whole
 *     window, not whatever happened since another scraper's last visit;
 *   - `sinceReset`: since the last `node.status {resetEventLoop: true}` (or the start), so a
 *     benchmark gets the figures of exactly the window it chose (loadtest/bench-splits.ts).
 *
 * The two are separate histograms: resetting one never disturbs the other.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { RunQueueProbe, StallFigures } from './run-queue-probe.js';

/** The part of node:perf_hooks' IntervalHistogram used here (values in nanoseconds). */
export interface DelayHistogram {
  percentile(p: number): number;
  readonly max: number;
  readonly count: number;
  reset(): void;
  enable(): void;
  disable(): void;
}

/** Delay figures of one window, in ms; all 0 when no sample was taken. */
export interface DelayFigures {
  /** How long the window lasted. */
  windowMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Samples taken (about windowMs / resolution when the loop keeps up). */
  samples: number;
}

export interface EventLoopDelayOptions {
  /** Sampling period of the monitor, ms (default 2: finer costs CPU, coarser hides short stalls). */
  resolutionMs?: number;
  /** Length of the rolling window behind the gauges, ms (default 10,000). */
  windowMs?: number;
  /** Monotonic ms (default performance.now). */
  nowMs?: () => number;
  /** Opens a started histogram (default monitorEventLoopDelay, enabled). */
  open?: (resolutionMs: number) => DelayHistogram;
  /** Splits the `sinceReset` window's delay into run-queue wait and own stalls (started and reset with it). */
  runQueue?: RunQueueProbe;
}

const NS_PER_MS = 1e6;

function openMonitor(resolutionMs: number): DelayHistogram {
  const h = monitorEventLoopDelay({ resolution: resolutionMs });
  h.enable();
  return h;
}

function figuresOf(h: DelayHistogram, windowMs: number): DelayFigures {
  // An empty HdrHistogram reports max 0 but percentiles and min as huge sentinels: say 0.
  if (h.count === 0) return { windowMs, p50Ms: 0, p99Ms: 0, maxMs: 0, samples: 0 };
  return { windowMs, p50Ms: h.percentile(50) / NS_PER_MS, p99Ms: h.percentile(99) / NS_PER_MS, maxMs: h.max / NS_PER_MS, samples: h.count };
}

export class EventLoopDelay {
  private readonly rolling: DelayHistogram;
  private readonly probe: DelayHistogram;
  private readonly nowMs: () => number;
  private readonly windowMs: number;
  private rollingSince: number;
  private probeSince: number;
  private last: DelayFigures;
  private timer: NodeJS.Timeout | undefined;
  private readonly runQueue: RunQueueProbe | undefined;

  constructor(opts: EventLoopDelayOptions = {}) {
    this.runQueue = opts.runQueue?.available() ? opts.runQueue : undefined;
    const resolutionMs = opts.resolutionMs ?? 2;
    if (!(resolutionMs >= 1 && resolutionMs <= 1_000)) throw new Error(`event-loop delay resolution must be 1..1000 ms, got ${resolutionMs}`);
    this.windowMs = opts.windowMs ?? 10_000;
    if (!(this.windowMs >= 100 && this.windowMs <= 3_600_000)) throw new Error(`event-loop delay window must be 100 ms..1 h, got ${this.windowMs}`);
    this.nowMs = opts.nowMs ?? (() => performance.now());
    const open = opts.open ?? openMonitor;
    this.rolling = open(resolutionMs);
    this.probe = open(resolutionMs);
    this.rollingSince = this.probeSince = this.nowMs();
    this.last = { windowMs: 0, p50Ms: 0, p99Ms: 0, maxMs: 0, samples: 0 };
  }

  /** Starts rotating the rolling window every windowMs; the timer does not keep the process alive. */
  start(): this {
    if (!this.timer) {
      this.timer = setInterval(() => this.rotate(), this.windowMs);
      this.timer.unref();
      this.runQueue?.start();
    }
    return this;
  }

  /** Closes the current rolling window: its figures become `window()`, and a new one begins. */
  rotate(): void {
    const now = this.nowMs();
    this.last = figuresOf(this.rolling, now - this.rollingSince);
    this.rolling.reset();
    this.rollingSince = now;
  }

  /** The last completed rolling window (zeros before the first one closes). */
  window(): DelayFigures {
    return this.last;
  }

  /** Since the last resetProbe() (or construction). */
  sinceReset(): DelayFigures {
    return figuresOf(this.probe, this.nowMs() - this.probeSince);
  }

  /**
   * Starts a new `sinceReset` window; the rolling window is untouched. A perf_hooks reset also
   * forgets the previous sample's time, so the one sampling interval running at the reset (at
   * most resolutionMs plus any stall in it) is not counted.
   */
  resetProbe(): void {
    this.probe.reset();
    this.probeSince = this.nowMs();
    this.runQueue?.reset();
  }

  /** Since the last resetProbe(): how much of the delay was waiting for a CPU; undefined without the probe. */
  stallsSinceReset(): StallFigures | undefined {
    return this.runQueue?.sinceReset();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.runQueue?.stop();
    this.rolling.disable();
    this.probe.disable();
  }
}
