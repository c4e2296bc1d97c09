import { describe, expect, it } from 'vitest';
import { runPlacement } from './span/placement-simulation.js';

/**
 * Findings of the placement scenario in the cores (docs/placement-sim.md, findings 1 and 2), kept
 * as regression tests that fail until the cores are fixed: `it.fails` turns red once they pass.
 *
 * Finding 1.
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

  /*
   * Finding 2. SplitTxnCore keeps a proposal that never reached the log in `proposed` across a
   * change of leadership (newEpoch clears the locks, coordinations and pending commits, not
   * `proposed`): n-a proposes decide(c-c1:6.5:abort) at ballot 3 while cut off, loses the
   * leadership, leads again at ballot 5, and from then on refuses every cut with "a decide record
   * in flight" (rule 19) until the run ends. The driver hands a leader that keeps refusing over.
   * Replay: npm run sim -- --scenario placement --seed 172 --hand-over-after 0 --trace
   */
  it.fails('a leader that lost a proposed decide record in an earlier term can be cut (seed 172, no hand-over)', { timeout: 60_000 }, () => {
    const r = runPlacement({ seed: 172, driver: { handOverAfterRefusals: 0 } });
    expect(r.violations.map((v) => `${v.checker}: ${v.detail}`)).toEqual([]);
  });

  it('the same seed passes when the driver hands the refusing leader over', { timeout: 60_000 }, () => {
    const r = runPlacement({ seed: 172 });
    expect(r.violations.map((v) => `${v.checker}: ${v.detail}`)).toEqual([]);
    expect(r.placement.cuts).toBeGreaterThan(0);
  });
});
