import { describe, expect, it } from 'vitest';
import { scenarioOptions } from './options.js';
import { longRunOptions, runSimulation } from './simulation.js';

describe('production scenario', () => {
  it('mixes compaction, snapshot transfer, membership changes and flexible quorums with heavy faults', () => {
    let installs = 0;
    let reconfigs = 0;
    let reads = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const r = runSimulation({ seed, faults: 'heavy', ...scenarioOptions('production', seed) });
      expect(r.violations, `seed ${seed}`).toEqual([]);
      installs += r.snapshotInstalls;
      reconfigs += r.reconfigs;
      reads += r.readsServed;
    }
    expect(installs).toBeGreaterThan(30);
    expect(reconfigs).toBeGreaterThan(30);
    expect(reads).toBeGreaterThan(300);
  });

  it('a long run keeps every log under its bound (20k slots here; `npm run sim -- --long-run` does 100k)', () => {
    const r = runSimulation(longRunOptions(20_000));
    expect(r.ok).toBe(true);
    expect(r.groups[0]!.chosen).toBeGreaterThanOrEqual(20_000);
    expect(r.footprint.samples).toBeGreaterThan(100);
    expect(r.footprint.maxLog).toBeLessThanOrEqual(r.footprint.logBound);
    expect(r.footprint.maxChosenMap).toBeLessThanOrEqual(r.footprint.logBound);
    expect(r.footprint.maxDedupe).toBeLessThanOrEqual(48);
  });
});
