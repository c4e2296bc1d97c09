import { describe, expect, it } from 'vitest';
import { runSimulation } from './simulation.js';
import { timed } from './timed.fixture.js';

const DETERMINISM_BUDGET_MS = 10_000; // idle 0.8 s, both cores busy 1.1 s
const FIFTY_SEEDS_BUDGET_MS = 30_000; // idle 3.7 s, both cores busy 4.6 s
const FIVE_REPLICAS_BUDGET_MS = 30_000; // idle 2.7 s, both cores busy 4.5 s

describe('determinism', () => {
  it('the same seed gives the identical trace; another seed does not', () => {
    const [a, b, c] = timed('determinism, 3 runs', DETERMINISM_BUDGET_MS, () => [
      runSimulation({ seed: 17, faults: 'heavy', trace: true }),
      runSimulation({ seed: 17, faults: 'heavy', trace: true }),
      runSimulation({ seed: 18, faults: 'heavy' }),
    ]);
    expect(a!.traceHash).toBe(b!.traceHash);
    expect(a!.trace).toEqual(b!.trace);
    expect(a!.events).toBeGreaterThan(1000);
    expect(c!.traceHash).not.toBe(a!.traceHash);
  }, DETERMINISM_BUDGET_MS);
});

describe('the correct implementation', () => {
  it('passes 50 seeds with heavy faults (3 replicas) and makes progress', () => {
    let acked = 0;
    timed('50 seeds, 3 replicas', FIFTY_SEEDS_BUDGET_MS, () => {
      for (let seed = 1; seed <= 50; seed++) {
        const r = runSimulation({ seed, faults: 'heavy' });
        expect(r.violations, `seed ${seed}`).toEqual([]);
        acked += r.commandsAcked;
      }
    });
    expect(acked).toBeGreaterThan(50 * 20);
  }, FIFTY_SEEDS_BUDGET_MS);

  it('passes 20 seeds with heavy faults on 5 replicas and 3 groups', () => {
    timed('20 seeds, 5 replicas, 3 groups', FIVE_REPLICAS_BUDGET_MS, () => {
      for (let seed = 1; seed <= 20; seed++) {
        const r = runSimulation({ seed, faults: 'heavy', replicas: 5, groups: 3 });
        expect(r.violations, `seed ${seed}`).toEqual([]);
      }
    });
  }, FIVE_REPLICAS_BUDGET_MS);

  it('with no faults every command is applied on every replica', () => {
    const r = runSimulation({ seed: 3, faults: 'none' });
    expect(r.ok).toBe(true);
    for (const g of r.groups) {
      expect(g.chosen).toBeGreaterThan(0);
      expect(new Set(Object.values(g.appliedUpTo))).toEqual(new Set([g.chosen]));
    }
  });
});
