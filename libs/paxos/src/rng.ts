/**
 * Injected randomness. The replica never calls Math.random: the shell (or the
 * simulator, from its seed) supplies this so runs are reproducible.
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
}
