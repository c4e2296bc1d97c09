import { describe, expect, it } from 'vitest';
import { Prng, hashString } from './prng.js';

describe('Prng', () => {
  it('is a pure function of its seed', () => {
    const a = new Prng(7);
    const b = new Prng(7);
    const xs = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(xs);
    expect(new Prng(8).next()).not.toBe(xs[0]);
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
  });

  it('draws integers in range and forks independent streams', () => {
    const p = new Prng(1);
    for (let i = 0; i < 1000; i++) {
      const n = p.range(3, 5);
      expect(n >= 3 && n <= 5 && Number.isInteger(n)).toBe(true);
    }
    const parent = new Prng(9);
    const f1 = parent.fork('net').next();
    expect(new Prng(9).fork('net').next()).toBe(f1);
    expect(new Prng(9).fork('disk').next()).not.toBe(f1);
    expect(hashString('a')).not.toBe(hashString('b'));
  });
});
