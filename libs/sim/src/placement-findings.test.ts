import { describe, expect, it } from 'vitest';
import { runPlacement } from './span/placement-simulation.js';

/**
 * A finding of the placement scenario in the cores (docs/placement-sim.md, finding 1), kept as a
 * regression test that fails until the cores are fixed: `it.fails` turns red once it passes.
 *
 * Replica.transferLeadership releases the old leader's lease and its voters' lease votes, so the
 * successor leads before the old lease would have ended; but the old leader's transaction core
 * has already sent followers closed timestamps (and served lease reads) up to that lease end. The
 * successor's first commits get timestamps from its own now.latest, below them: a follower's
 * t_safe passed a commit that lands later, and a strong read served from it misses that commit.
 * The scenario's driver avoids it by quiescing the core for one lease before the hand-over.
 * Replay: npm run sim -- --scenario placement --seed 71 --transfer immediate --trace
 */
describe('placement findings', () => {
  it.fails('an immediate leader transfer keeps every commit above the closed timestamps and reads its predecessor served (seed 71)', { timeout: 60_000 }, () => {
    const r = runPlacement({ seed: 71, driver: { transfer: 'immediate' } });
    expect(r.violations.map((v) => `${v.checker}: ${v.detail}`)).toEqual([]);
  });

  it('the same seed passes with the quiesced hand-over', { timeout: 60_000 }, () => {
    const r = runPlacement({ seed: 71 });
    expect(r.violations.map((v) => `${v.checker}: ${v.detail}`)).toEqual([]);
    expect(r.placement.transfers).toBeGreaterThan(0);
  });
});
