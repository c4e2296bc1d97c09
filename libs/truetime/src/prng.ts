import { Prng } from '@synod/prng';

/**
 * The TrueTime simulator's view of the project's PRNG (@synod/prng): integers drawn in [lo, hi],
 * and a fixed non-zero seed for seed 0, as its seeded runs have always used.
 */
export class Rng {
  private readonly p: Prng;
  constructor(seed: number) {
    this.p = new Prng(seed >>> 0 || 0x9e3779b9);
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.p.next();
  }
  /** Uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return this.p.range(lo, hi);
  }
  chance(p: number): boolean {
    return this.p.next() < p;
  }
  sign(): 1 | -1 {
    return this.p.next() < 0.5 ? -1 : 1;
  }
}
