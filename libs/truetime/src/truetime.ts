/**
 * TrueTime for one process: a physical clock plus the sync state that disciplines it.
 *
 *   tt.now()               -> {earliest, latest} in µs; true time is inside
 *   tt.after(t)            -> t has definitely passed
 *   tt.before(t)           -> t has definitely not arrived
 *   tt.waitUntilAfter(t)   -> commit wait
 *
 * Times may be given as µs numbers or js-joda Instants; `nowInstant()` answers in Instants.
 * `now()` always answers, but while `isServing()` is false its interval must not be relied on
 * (unsynced, ε too large, or the local clock disagrees with the time masters).
 */
import type { Duration, Instant } from '@js-joda/core';
import type { PhysicalClock } from './clock.js';
import { waitUntilAfter, type CommitWaitOptions } from './commit-wait.js';
import { epsilonOf, isAfter, isBefore, type TTInterval } from './interval.js';
import { ClockSync, type SyncConfig, type SyncStatus } from './sync.js';
import { microsToDuration, microsToInstant, toMicros, type TimeLike } from './units.js';

export class TrueTime {
  readonly sync: ClockSync;

  constructor(
    readonly clock: PhysicalClock,
    cfg: Partial<SyncConfig> = {},
  ) {
    this.sync = new ClockSync(cfg, clock.nowUs());
  }

  now(): TTInterval {
    return this.sync.now(this.clock.nowUs());
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
    return this.sync.status(this.clock.nowUs());
  }

  isServing(): boolean {
    return this.status().serving;
  }

  /** Commit wait: resolves with the first interval seen whose `earliest` is past `t`. */
  waitUntilAfter(t: TimeLike, opts?: CommitWaitOptions): Promise<TTInterval> {
    return waitUntilAfter(() => this.now(), toMicros(t), opts);
  }
}
