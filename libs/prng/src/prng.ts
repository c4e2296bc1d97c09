/**
 * The one seeded PRNG of the project (mulberry32): small, fast, and good enough to drive
 * simulators and fuzzers. Every random decision of a run flows from one seed through `fork`,
 * so a run is a pure function of its seed. It satisfies `@synod/paxos`'s `Rng` (`next()`).
 */
export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return p > 0 && this.next() < p;
  }

  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('pick from empty list');
    return xs[this.int(xs.length)] as T;
  }

  /** An independent stream named by `label`: consuming it does not perturb this one. */
  fork(label: string): Prng {
    return new Prng(hashString(label, this.state));
  }
}

/** FNV-1a over the UTF-16 code units of `s`, mixed with `seed`. */
export function hashString(s: string, seed = 0x811c9dc5): number {
  let h = (seed ^ 0x811c9dc5) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
