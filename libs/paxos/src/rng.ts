/**
 * Injected randomness. The replica has no ambient randomness source: the shell (or the
 * simulator, from its seed) supplies this so runs are reproducible.
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
}
