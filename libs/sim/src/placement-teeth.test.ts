import { describe, expect, it } from 'vitest';
import type { PlacementBrokenVariant } from './span/cli-placement.js';
import { runPlacement, type PlacementOptions } from './span/placement-simulation.js';

/**
 * Teeth of the placement scenario's checkers (DESIGN §11: a checker is trusted only once a broken
 * implementation made it fail): each cut variant of the transaction core (libs/txn
 * CUT_BROKEN_VARIANTS) is run on seeds 1, 2, … until one fails, within a bound, and must be caught
 * by one of the checkers named for it. The first failing seed of each is printed ([teeth] …) and
 * recorded in docs/placement-sim.md; replay it with
 * `npm run sim -- --scenario placement --seed N --broken <variant> --trace`.
 */
const MAX_SEEDS = 40;

const CAUGHT_BY: Partial<Record<PlacementBrokenVariant, string[]>> = {
  // The parent keeps serving (and committing) its upper half after the cut: clients with an old
  // map are never told KEY_OUT_OF_RANGE, and the parent reads and writes keys the child owns.
  serveCutKeys: ['servedInRange'],
  // T_cut is not among the leader's pending timestamps: it closes timestamps above T_cut while
  // the cut is pending, and followers that have not applied the cut take them as t_safe.
  cutNotPending: ['parentTSafeBelowCut'],
};

function firstFailure(variant: PlacementBrokenVariant): { seed: number; checkers: string[]; detail: string } | undefined {
  for (let seed = 1; seed <= MAX_SEEDS; seed++) {
    const r = runPlacement({ seed, broken: [variant] as unknown as PlacementOptions['broken'] });
    if (!r.ok) return { seed, checkers: r.failedCheckers, detail: r.violations[0]!.detail };
  }
  return undefined;
}

describe('placement teeth: a broken cut in the core or the shell is caught', () => {
  it('a node shell that hosts a child before its parent\'s applies are durable is caught by childStartsComplete', { timeout: 240_000 }, () => {
    // The child's t_safe starts at T_cut: hosted at the cut's apply (not its durable write), it
    // reports it while versions of its keys below T_cut are still in the node's disk queue.
    let first: { seed: number; checkers: string[] } | undefined;
    for (let seed = 1; seed <= MAX_SEEDS && !first; seed++) {
      const r = runPlacement({ seed, hostChildAtApply: true });
      if (!r.ok) first = { seed, checkers: r.failedCheckers };
    }
    console.log(`[teeth] hostChildAtApply (shell): ${first ? `first failing seed ${first.seed}, caught by ${first.checkers.join(', ')}` : 'NOT caught'}`);
    expect(first?.checkers).toContain('childStartsComplete');
  });

  for (const [variant, checkers] of Object.entries(CAUGHT_BY) as Array<[PlacementBrokenVariant, string[]]>) {
    it(`${variant} is caught by ${checkers.join(' / ')}`, { timeout: 240_000 }, () => {
      const t0 = performance.now();
      const f = firstFailure(variant);
      const secs = ((performance.now() - t0) / 1000).toFixed(1);
      console.log(`[teeth] ${variant}: ${f ? `first failing seed ${f.seed}, caught by ${f.checkers.join(', ')} (${secs}s)\n  ${f.detail.slice(0, 300)}` : `NOT caught in ${MAX_SEEDS} seeds (${secs}s)`}`);
      expect(f, `${variant} not caught within ${MAX_SEEDS} seeds`).toBeDefined();
      expect(f!.checkers.some((c) => checkers.includes(c)), `${variant} caught by ${f!.checkers.join(', ')}`).toBe(true);
    });
  }
});
