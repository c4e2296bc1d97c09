import type { PhysicalClock } from './clock.js';

/**
 * The host clock in µs: the wall-clock time at process start plus the monotonic clock since,
 * so it never steps backwards while the process runs. Processes on one host agree to within
 * tens of µs (the reference time master advertises 100 µs by default).
 */
export class SystemClock implements PhysicalClock {
  nowUs(): number {
    return Math.round((performance.timeOrigin + performance.now()) * 1000);
  }
}

export const systemClock = new SystemClock();
