import { describe, expect, it } from 'vitest';
import { runPlacement } from './span/placement-simulation.js';
import { manySplitsOptions, runSpan, SPAN_QUIESCE_OPTIONS } from './span/simulation.js';

/**
 * Quiescent splits (docs/paxos.md "Quiescent groups", docs/transactions.md "Quiescent splits")
 * under the span and placement scenarios' faults: splits go quiet in the clients' lulls and the
 * next transaction wakes them. Every checker must pass and quiescence must have happened. CI runs
 * more through the CLI (`npm run sim -- --scenario span --seeds 300 --quiesce`).
 */
describe('quiescent splits in the span and placement scenarios', () => {
  const run = (label: string, count: number, one: (seed: number) => { ok: boolean; violations: Array<{ checker: string; detail: string }>; totals: { quietLeaderTicks: number; rwCommitted: number } }) => {
    const failures: string[] = [];
    let quietSeeds = 0;
    let committed = 0;
    for (let seed = 1; seed <= count; seed++) {
      const r = one(seed);
      if (!r.ok) failures.push(`${label} seed ${seed}: ${r.violations.map((v) => `${v.checker}: ${v.detail.split('\n')[0]}`).join('; ')}`);
      if (r.totals.quietLeaderTicks > 0) quietSeeds++;
      committed += r.totals.rwCommitted;
    }
    expect(failures).toEqual([]);
    return { quietSeeds, committed };
  };

  it('span: 30 seeds, 3 splits', { timeout: 240_000 }, () => {
    const { quietSeeds, committed } = run('span', 30, (seed) => runSpan({ seed, ...SPAN_QUIESCE_OPTIONS }));
    expect(quietSeeds).toBeGreaterThan(20);
    expect(committed).toBeGreaterThan(30 * 5);
  });

  it('span: 6 seeds, 32 splits per node', { timeout: 240_000 }, () => {
    const { quietSeeds } = run('span 32 splits', 6, (seed) => runSpan({ seed, ...manySplitsOptions(32), ...SPAN_QUIESCE_OPTIONS }));
    expect(quietSeeds).toBe(6);
  });

  it('placement: 20 seeds (cuts, moves and transfers of quiet splits)', { timeout: 240_000 }, () => {
    const { quietSeeds } = run('placement', 20, (seed) => runPlacement({ seed, ...SPAN_QUIESCE_OPTIONS }));
    expect(quietSeeds).toBeGreaterThan(10);
  });
});
