import { describe, expect, it } from 'vitest';
import type { BrokenVariant } from './options.js';
import { runSimulation } from './simulation.js';

/**
 * A checker is only trusted after a broken implementation has made it fail
 * (DESIGN §11). Each variant must be caught within MAX_SEEDS seeds.
 */
const MAX_SEEDS = 200;

function firstFailingSeed(broken: BrokenVariant, extra: { faultPhaseUs?: number } = {}) {
  for (let seed = 1; seed <= MAX_SEEDS; seed++) {
    const r = runSimulation({ seed, faults: 'heavy', broken, ...extra });
    if (!r.ok) return { seed, violation: r.violations[0]! };
  }
  return null;
}

const SAFETY = /at most one value chosen per slot|one value per ballot|chosen slot never changes value|prefixes|only proposed/;

describe('the simulator catches broken replicas', () => {
  it('(a) a proposer that ignores the values in promises', () => {
    const found = firstFailingSeed('ignore-promise-values');
    expect(found, 'no violation found').not.toBeNull();
    expect(found!.violation.checker).toMatch(SAFETY);
  });

  it('(b) an acceptor that forgets its promise and accepted ballots on restart', () => {
    const found = firstFailingSeed('forget-acceptor-ballots', { faultPhaseUs: 10_000_000 });
    expect(found, 'no violation found').not.toBeNull();
    expect(found!.violation.checker).toMatch(SAFETY);
  });

  it('(b\') an acceptor that forgets only its promise on restart (a rarer interleaving)', () => {
    const found = firstFailingSeed('forget-promise', { faultPhaseUs: 10_000_000 });
    expect(found, 'no violation found').not.toBeNull();
    expect(found!.violation.checker).toMatch(SAFETY);
  });

  it('(c) a follower that marks entries chosen without the ballot match', () => {
    const found = firstFailingSeed('learn-without-ballot-match');
    expect(found, 'no violation found').not.toBeNull();
    expect(found!.violation.checker).toMatch(SAFETY);
  });
});
