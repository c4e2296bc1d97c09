import { describe, expect, it } from 'vitest';
import { EventQueue } from './event-queue.js';
import { Prng } from '@synod/prng';

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
