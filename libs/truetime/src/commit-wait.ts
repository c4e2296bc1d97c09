/**
 * Commit wait (Spanner §4.1.2): resolve as soon after `now().earliest > t` as the runtime allows.
 * Most of the wait is one setTimeout (which fires up to ~1 ms late, so it is aimed short); the last
 * stretch polls with setImmediate, which re-checks every event-loop turn without blocking it.
 * This is the shell around the pure arithmetic in interval.ts.
 */
import { isAfter, type TTInterval } from './interval.js';

export interface CommitWaitOptions {
  /** How far before the target the coarse timer is aimed, µs (default 2000: covers timer lateness). */
  timerLeadUs?: number;
  signal?: AbortSignal;
}

/**
 * Waits until `now()` says `t` has definitely passed and resolves with that interval.
 * `now` is any TrueTime reading function, e.g. `() => tt.now()`.
 */
export function waitUntilAfter(now: () => TTInterval, t: number, opts: CommitWaitOptions = {}): Promise<TTInterval> {
  const lead = opts.timerLeadUs ?? 2_000;
  return new Promise((resolve, reject) => {
    const step = () => {
      if (opts.signal?.aborted) return reject(opts.signal.reason ?? new Error('aborted'));
      const iv = now();
      if (isAfter(iv, t)) return resolve(iv);
      const remainingUs = t - iv.earliest + 1;
      if (remainingUs > lead + 1_000) setTimeout(step, Math.floor((remainingUs - lead) / 1_000));
      else setImmediate(step);
    };
    step();
  });
}
