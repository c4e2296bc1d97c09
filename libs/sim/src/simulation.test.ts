import { describe, expect, it } from 'vitest';
import { runSimulation } from './simulation.js';

describe('determinism', () => {
  it('the same seed gives the identical trace; another seed does not', () => {
    const a = runSimulation({ seed: 17, faults: 'heavy', trace: true });
    const b = runSimulation({ seed: 17, faults: 'heavy', trace: true });
    expect(a.traceHash).toBe(b.traceHash);
    expect(a.trace).toEqual(b.trace);
    expect(a.events).toBeGreaterThan(1000);
    expect(runSimulation({ seed: 18, faults: 'heavy' }).traceHash).not.toBe(a.traceHash);
  });
});

describe('the correct implementation', () => {
  it('passes 50 seeds with heavy faults (3 replicas) and makes progress', () => {
    let acked = 0;
    for (let seed = 1; seed <= 50; seed++) {
      const r = runSimulation({ seed, faults: 'heavy' });
      expect(r.violations, `seed ${seed}`).toEqual([]);
      acked += r.commandsAcked;
    }
    expect(acked).toBeGreaterThan(50 * 20);
  });

  it('passes 20 seeds with heavy faults on 5 replicas and 3 groups', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const r = runSimulation({ seed, faults: 'heavy', replicas: 5, groups: 3 });
      expect(r.violations, `seed ${seed}`).toEqual([]);
    }
  });

  it('with no faults every command is applied on every replica', () => {
    const r = runSimulation({ seed: 3, faults: 'none' });
    expect(r.ok).toBe(true);
    for (const g of r.groups) {
      expect(g.chosen).toBeGreaterThan(0);
      expect(new Set(Object.values(g.appliedUpTo))).toEqual(new Set([g.chosen]));
    }
  });
});
