/**
 * TrueTime for one process: a physical clock plus the sync state that disciplines it.
 *
 *   tt.now()               -> {earliest, latest} in µs; true time is inside
 *   tt.after(t)            -> t has definitely passed
 *   tt.before(t)           -> t has definitely not arrived
 *   tt.waitUntilAfter(t)   -> commit wait
 *   tt.nowServing()        -> now() and isServing() at one clock reading
 *
 * Times may be given as µs numbers or js-joda Instants; `nowInstant()` answers in Instants.
 * `now()` always answers, but while `isServing()` is false its interval must not be relied on
 * (unsynced, ε too large, or the local clock disagrees with the time masters).
 */
import type { Duration, Instant } from '@js-joda/core';
import type { PhysicalClock } from './clock.js';
import { waitUntilAfter, type CommitWaitOptions } from './commit-wait.js';
import { epsilonOf, isAfter, isBefore, type Sample, type TTInterval } from './interval.js';
import { ClockSync, type SyncConfig, type SyncOutcome, type SyncStatus } from './sync.js';
import { microsToDuration, microsToInstant, toMicros, type TimeLike } from './units.js';

export class TrueTime {
  readonly sync: ClockSync;

  /**
   * @param monotonic a clock no clock fault steps (the process's monotonic clock, e.g.
   *   `monotonicClock`). With it, a sync refuses a masters' reading that the elapsed monotonic time
   *   cannot explain, and a local clock that stepped against it stops the process serving at once.
   */
  constructor(
    readonly clock: PhysicalClock,
    cfg: Partial<SyncConfig> = {},
    readonly monotonic?: PhysicalClock,
  ) {
    this.sync = new ClockSync(cfg, clock.nowUs());
  }

  now(): TTInterval {
    return this.sync.now(this.clock.nowUs(), this.monotonic?.nowUs());
  }

  /** Applies a sync round at the clocks' current readings. */
  applySync(samples: readonly Sample[]): SyncOutcome {
    return this.sync.apply(samples, this.clock.nowUs(), this.monotonic?.nowUs());
  }

  /** Anchors directly at the clocks' current readings (a drifting master set when installed). */
  anchorNow(iv: TTInterval): void {
    this.sync.anchorAt(this.clock.nowUs(), iv, this.monotonic?.nowUs());
  }

  nowInstant(): { earliest: Instant; latest: Instant } {
    const iv = this.now();
    return { earliest: microsToInstant(iv.earliest), latest: microsToInstant(iv.latest) };
  }

  after(t: TimeLike): boolean {
    return isAfter(this.now(), toMicros(t));
  }

  before(t: TimeLike): boolean {
    return isBefore(this.now(), toMicros(t));
  }

  epsilonUs(): number {
    return epsilonOf(this.now());
  }

  epsilon(): Duration {
    return microsToDuration(Math.ceil(this.epsilonUs()));
  }

  status(): SyncStatus {
    return this.sync.status(this.clock.nowUs(), this.monotonic?.nowUs());
  }

  /** `status().serving` at the clocks' current readings, without building the status (sync.ts servingAt). */
  isServing(): boolean {
    return this.sync.servingAt(this.clock.nowUs(), this.monotonic?.nowUs());
  }

  /**
   * `now()` and `isServing()` at one reading of the two clocks: the time of one request or input
   * (the spanserver's per-input CoreNow), for half the clock reads of calling both.
   */
  nowServing(): { tt: TTInterval; serving: boolean } {
    const local = this.clock.nowUs();
    const mono = this.monotonic?.nowUs();
    return { tt: this.sync.now(local, mono), serving: this.sync.servingAt(local, mono) };
  }

  /** Commit wait: resolves with the first interval seen whose `earliest` is past `t`. */
  waitUntilAfter(t: TimeLike, opts?: CommitWaitOptions): Promise<TTInterval> {
    return waitUntilAfter(() => this.now(), toMicros(t), opts);
  }
}
