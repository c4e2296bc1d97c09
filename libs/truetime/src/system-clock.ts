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

/**
 * The process's monotonic clock in µs (arbitrary origin): `performance.now()`. No clock fault
 * (`synod chaos skew|drift`) touches it, as no settimeofday touches CLOCK_MONOTONIC; TrueTime
 * uses it to tell a step of the local clock or of the masters from elapsed time.
 */
export const monotonicClock: PhysicalClock = { nowUs: () => Math.round(performance.now() * 1000) };
