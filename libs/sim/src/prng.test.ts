import { describe, expect, it } from 'vitest';
import { EventQueue } from './event-queue.js';
import { Prng } from './prng.js';

describe('Prng', () => {
  it('is a pure function of its seed, and forks are independent streams', () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const xs = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(xs);
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
    expect(new Prng(43).next()).not.toBe(xs[0]);
    const c = new Prng(7);
    const f1 = c.fork('x').next();
    expect(new Prng(7).fork('x').next()).toBe(f1);
    expect(new Prng(7).fork('y').next()).not.toBe(f1);
  });
});

describe('EventQueue', () => {
  it('orders by time, then by insertion', () => {
    const q = new EventQueue();
    const seen: string[] = [];
    const rng = new Prng(1);
    const expected: Array<[number, number, string]> = [];
    for (let i = 0; i < 200; i++) {
      const t = rng.int(20);
      const label = `${t}:${i}`;
      expected.push([t, i, label]);
      q.push(t, () => seen.push(label));
    }
    while (q.size > 0) q.pop()!.run();
    expected.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    expect(seen).toEqual(expected.map((e) => e[2]));
  });
});
