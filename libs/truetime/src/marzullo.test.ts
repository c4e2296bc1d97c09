import { describe, expect, it } from 'vitest';
import { contains } from './interval.js';
import { bestCoveredSegment, marzullo } from './marzullo.js';
import { Rng } from './prng.js';

const iv = (source: string, earliest: number, latest: number) => ({ source, earliest, latest });

describe('marzullo', () => {
  it('with no liars tolerated, returns the plain intersection', () => {
    const r = marzullo([iv('a', 0, 10), iv('b', 4, 12), iv('c', 2, 8)], 0)!;
    expect(r.interval).toEqual({ earliest: 4, latest: 8 });
    expect(r.rejected).toEqual([]);
  });

  it('rejects a liar that agrees with nobody and keeps the truth', () => {
    const r = marzullo([iv('a', 0, 10), iv('liar', 500, 510), iv('c', 2, 12)], 1)!;
    expect(r.rejected).toEqual(['liar']);
    expect(r.agreeing).toEqual(['a', 'c']);
    expect(r.interval).toEqual({ earliest: 2, latest: 10 });
  });

  it('keeps the truth when a liar overlaps every correct interval away from it', () => {
    // Truth is 3. All three share [8, 10], so assuming no liar would answer [8, 10]: wrong.
    const xs = [iv('a', 0, 10), iv('b', 2, 12), iv('liar', 8, 20)];
    expect(contains(marzullo(xs, 0)!.interval, 3)).toBe(false);
    const r = marzullo(xs, 1)!;
    expect(contains(r.interval, 3)).toBe(true);
  });

  it('the textbook best-covered segment can pick a liar pair away from the truth', () => {
    // Truth is 5 (a ∩ b = [4, 6]); the liar overlaps a on [0, 1], which sorts first.
    const xs = [iv('a', 0, 6), iv('b', 4, 10), iv('liar', -9, 1)];
    const best = bestCoveredSegment(xs)!;
    expect(best.count).toBe(2);
    expect(contains(best.interval, 5)).toBe(false);
    expect(contains(marzullo(xs, 1)!.interval, 5)).toBe(true);
  });

  it('gives up when more than f intervals disagree, and cannot beat colluding liars', () => {
    expect(marzullo([iv('a', 0, 1), iv('b', 5, 6), iv('c', 10, 11)], 1)).toBeUndefined();
    expect(marzullo([iv('a', 0, 1)], 1)).toBeUndefined();
    // Two liars telling the same lie outvote one correct master: the limit of f = 1.
    const r = marzullo([iv('a', 0, 10), iv('l1', 100, 110), iv('l2', 102, 112)], 1)!;
    expect(contains(r.interval, 5)).toBe(false);
    expect(r.rejected).toEqual(['a']);
  });

  it('property: with at most f liars the result contains the truth', () => {
    const rng = new Rng(42);
    for (let i = 0; i < 5_000; i++) {
      const truth = rng.int(-1_000, 1_000);
      const f = rng.int(0, 2);
      const honest = rng.int(f + 1, 5);
      const xs = [];
      for (let h = 0; h < honest; h++) xs.push(iv(`h${h}`, truth - rng.int(0, 50), truth + rng.int(0, 50)));
      for (let l = 0; l < rng.int(0, f); l++) {
        const at = rng.int(-2_000, 2_000);
        xs.push(iv(`l${l}`, at, at + rng.int(0, 200)));
      }
      const r = marzullo(xs, f);
      expect(r, `case ${i}`).toBeDefined();
      expect(contains(r!.interval, truth), `case ${i}`).toBe(true);
    }
  });
});
