/**
 * Seeded simulations run in virtual time: their verdicts never depend on machine speed, only
 * their running times do. Tests give each a budget of at least 4× its time on an idle 2-core
 * machine and print the time taken; they never assert it.
 */
export function timed<T>(what: string, budgetMs: number, run: () => T): T {
  const t0 = performance.now();
  try {
    return run();
  } finally {
    console.log(`[timing] ${what}: ${Math.round(performance.now() - t0)} ms (budget ${budgetMs} ms)`);
  }
}
