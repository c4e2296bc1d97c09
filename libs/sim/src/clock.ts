import type { Prng } from './prng.js';

/**
 * A node's own physical clock in the simulator: an arbitrary offset and a rate
 * within [1 - d, 1 + d] of true (virtual) time, d = maxDriftPpm / 1e6. Replicas
 * only ever see this clock; the checkers convert back to true time.
 */
export class DriftingClock {
  readonly rate: number;
  readonly offsetUs: number;

  constructor(rng: Prng, maxDriftPpm: number) {
    // Most nodes at an extreme of the bound (the worst case for leases), the rest inside it.
    const u = rng.chance(0.8) ? (rng.chance(0.5) ? 1 : -1) : rng.next() * 2 - 1;
    this.rate = 1 + (u * maxDriftPpm) / 1_000_000;
    this.offsetUs = rng.int(1_000_000_000);
  }

  local(trueUs: number): number {
    return this.offsetUs + Math.floor(trueUs * this.rate);
  }

  /** The true instant at which this clock reads `localUs`. */
  trueOf(localUs: number): number {
    return (localUs - this.offsetUs) / this.rate;
  }
}
