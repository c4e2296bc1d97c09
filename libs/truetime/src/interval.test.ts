import { describe, expect, it } from 'vitest';
import { advance, commitWaitRemainingUs, contains, epsilonOf, isAfter, isBefore, sampleInterval, trueElapsedBounds } from './interval.js';
import { Rng } from './prng.js';

describe('interval arithmetic', () => {
  it('after/before are strict about the interval', () => {
    const iv = { earliest: 100, latest: 110 };
    expect([isAfter(iv, 99), isAfter(iv, 100)]).toEqual([true, false]);
    expect([isBefore(iv, 111), isBefore(iv, 110)]).toEqual([true, false]);
    expect(epsilonOf(iv)).toBe(5);
  });

  it('bounds true elapsed time for every drift within the bound (integer, rounded outwards)', () => {
    const rng = new Rng(1);
    for (let i = 0; i < 10_000; i++) {
      const ppm = rng.int(0, 1000);
      const trueUs = rng.int(0, 3_600_000_000);
      const delta = ((rng.next() * 2 - 1) * ppm) / 1e6;
      const local = Math.round(trueUs * (1 + delta));
      const { min, max } = trueElapsedBounds(local, ppm);
      expect(Number.isInteger(min) && Number.isInteger(max)).toBe(true);
      // Rounding of the local reading itself is worth at most 1 µs.
      expect(min - 1).toBeLessThanOrEqual(trueUs);
      expect(max + 1).toBeGreaterThanOrEqual(trueUs);
    }
  });

  it('grows ε at the drift bound: the sawtooth slope', () => {
    const iv = advance({ earliest: 0, latest: 2_000 }, 30_000_000, 200);
    // 30 s at 200 µs/s widens by about 6 ms on each side combined.
    expect(epsilonOf(iv) - 1_000).toBeGreaterThanOrEqual(6_000);
    expect(epsilonOf(iv) - 1_000).toBeLessThan(6_010);
  });

  it('widens a master reply by the round trip on the late side', () => {
    const iv = sampleInterval({ source: 'm', sentLocal: 1_000, receivedLocal: 1_500, earliest: 10_000, latest: 10_100 }, 200);
    expect(iv.earliest).toBe(10_000);
    expect(iv.latest).toBe(10_100 + 501);
    // A reply read at any moment of the round trip: true time at receipt is inside.
    for (const readAt of [0, 250, 500]) expect(contains(iv, 10_050 + (500 - readAt))).toBe(true);
  });

  it('computes the commit wait still owed', () => {
    expect(commitWaitRemainingUs({ earliest: 100, latest: 120 }, 99, 200)).toBe(0);
    expect(commitWaitRemainingUs({ earliest: 100, latest: 120 }, 120, 0)).toBe(21);
  });
});
