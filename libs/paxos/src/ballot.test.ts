import { describe, expect, it } from 'vitest';
import { ballotEquals, compareBallot, ZERO_BALLOT } from './ballot.js';

describe('ballot order', () => {
  it('orders by round, then node', () => {
    expect(compareBallot({ round: 1, node: 'b' }, { round: 2, node: 'a' })).toBe(-1);
    expect(compareBallot({ round: 2, node: 'b' }, { round: 2, node: 'a' })).toBe(1);
    expect(compareBallot({ round: 2, node: 'a' }, { round: 2, node: 'a' })).toBe(0);
    expect(compareBallot(ZERO_BALLOT, { round: 0, node: 'a' })).toBe(-1);
    expect(ballotEquals({ round: 3, node: 'a' }, { round: 3, node: 'a' })).toBe(true);
    expect(ballotEquals({ round: 3, node: 'a' }, { round: 3, node: 'b' })).toBe(false);
  });
});
