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

describe('sizeBound on strings', () => {
  it('measures short strings exactly as UTF-8 (surrogate pairs, lone surrogates, every plane)', () => {
    const rng = new Prng(11);
    const pick = () => {
      const r = rng.next();
      if (r < 0.3) return 0x20 + Math.floor(rng.next() * 0x5f);
      if (r < 0.5) return 0x80 + Math.floor(rng.next() * 0x780);
      if (r < 0.7) return 0xd800 + Math.floor(rng.next() * 0x800);
      return Math.floor(rng.next() * 0x10000);
    };
    for (let i = 0; i < 2000; i++) {
      const s = String.fromCharCode(...Array.from({ length: Math.floor(rng.next() * 80) }, pick));
      expect(sizeBound(s)).toBe(5 + Buffer.byteLength(s, 'utf8'));
    }
    expect(sizeBound('\u{1F600}')).toBe(5 + 4);
    expect(sizeBound('\ud800')).toBe(5 + 3);
    expect(sizeBound('\udc00\ud800')).toBe(5 + 6);
  });

  it('gives a nested object the same bound whether or not it was measured on its own first', () => {
    const inner = { key: 'k\u00e9', value: [1, 'two', { three: null }] };
    const fresh = sizeBound({ cmds: [structuredClone(inner)] });
    sizeBound(inner);
    expect(sizeBound({ cmds: [inner] })).toBe(fresh);
  });
});
