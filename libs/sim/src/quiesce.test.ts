import { describe, expect, it } from 'vitest';
import { QUIESCE_OPTIONS, scenarioOptions } from './options.js';
import { runSimulation } from './simulation.js';

/**
 * Quiescent groups (docs/paxos.md, "Quiescent groups") under faults: groups go quiet in the
 * clients' lulls and are woken by the next request, while crashes, partitions and lost messages
 * go on. Every checker must pass, and quiescence must actually have happened.
 */
describe('quiescent groups in the simulator', () => {
  it('pass 60 seeds with light faults, going quiet and waking in most of them', () => {
    let quietSeeds = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const r = runSimulation({ seed, faults: 'light', ...QUIESCE_OPTIONS });
      expect(r.violations, `seed ${seed}`).toEqual([]);
      if (r.quietLeaderTicks > 0) quietSeeds++;
    }
    expect(quietSeeds).toBeGreaterThan(40);
  }, 120_000);

  it('pass 40 seeds with heavy faults, and 30 of the production scenario (moves, transfers, snapshots)', () => {
    let quietSeeds = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const r = runSimulation({ seed, faults: 'heavy', ...QUIESCE_OPTIONS });
      expect(r.violations, `heavy seed ${seed}`).toEqual([]);
      if (r.quietLeaderTicks > 0) quietSeeds++;
    }
    for (let seed = 1; seed <= 30; seed++) {
      const r = runSimulation({ seed, faults: 'light', ...scenarioOptions('production', seed), ...QUIESCE_OPTIONS });
      expect(r.violations, `production seed ${seed}`).toEqual([]);
      if (r.quietLeaderTicks > 0) quietSeeds++;
    }
    expect(quietSeeds).toBeGreaterThan(30);
  }, 120_000);

  it('without lulls or with quiescence off, no leader is ever quiet', () => {
    expect(runSimulation({ seed: 1, faults: 'none', ...QUIESCE_OPTIONS, lullEveryUs: 0 }).quietLeaderTicks).toBe(0);
    expect(runSimulation({ seed: 1, faults: 'none', lullEveryUs: 1_500_000, lullUs: 800_000 }).quietLeaderTicks).toBe(0);
  });
});
