import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { Prng } from '@synod/prng';
import { sizeBound } from './size.js';

/** Random JSON-like values of every shape the wire carries. */
function randomValue(rng: { next(): number }, depth: number): unknown {
  const r = rng.next();
  const int = (n: number) => Math.floor(rng.next() * n);
  if (depth <= 0 || r < 0.5) {
    const k = int(9);
    if (k === 0) return null;
    if (k === 1) return rng.next() < 0.5;
    if (k === 2) return int(1 << 30) * (rng.next() < 0.5 ? -1 : 1);
    if (k === 3) return rng.next() * 1e6;
    if (k === 4) return Number.MAX_SAFE_INTEGER;
    if (k === 5) return String.fromCharCode(...Array.from({ length: int(40) }, () => int(0xffff)));
    if (k === 6) return 'x'.repeat(int(70_000));
    if (k === 7) return new Uint8Array(int(300));
    return undefined;
  }
  if (r < 0.75) return Array.from({ length: int(6) }, () => randomValue(rng, depth - 1));
  const o: Record<string, unknown> = {};
  for (let i = int(6); i > 0; i--) o[`k${int(1000)}`] = randomValue(rng, depth - 1);
  return o;
}

describe('sizeBound', () => {
  it('never underestimates the MessagePack encoding (500 random values)', () => {
    const rng = new Prng(7);
    for (let i = 0; i < 500; i++) {
      const v = randomValue(rng, 4);
      expect(sizeBound(v)).toBeGreaterThanOrEqual(pack(v).length);
    }
  });

  it('stays close for a large string value (what the value limit measures)', () => {
    const v = { key: 'k', value: 'v'.repeat(1 << 20) };
    const bound = sizeBound(v);
    expect(bound).toBeGreaterThanOrEqual(pack(v).length);
    expect(bound - pack(v).length).toBeLessThan(64);
  });
});
