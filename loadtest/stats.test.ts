import { describe, expect, it } from 'vitest';
import { openLoop } from './stats.js';

describe('openLoop', () => {
  it('starts rate × seconds ops on schedule, each started op counted once', async () => {
    const seen: number[] = [];
    const r = await openLoop('t', 200, 0.25, 16, async (seq) => {
      seen.push(seq);
    });
    expect(r.ops + r.shed).toBe(50);
    expect(r.shed).toBe(0);
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(r.offeredPerSec).toBe(200);
  });

  it('sheds an op due while maxInFlight are outstanding, instead of starting it late', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const started: number[] = [];
    const run = openLoop('t', 100, 0.1, 1, async (seq) => {
      started.push(seq);
      if (seq === 0) await gate;
    });
    setTimeout(release, 150);
    const r = await run;
    expect(started).toEqual([0]);
    expect(r.shed).toBe(9);
    expect(r.ops).toBe(1);
    // Latency runs from the scheduled start, so it covers the whole time the op was held.
    expect(r.p50Ms).toBeGreaterThanOrEqual(100);
  });

  it('fails with the first op that fails', async () => {
    await expect(openLoop('t', 100, 0.05, 4, async (seq) => (seq === 2 ? Promise.reject(new Error('boom')) : undefined))).rejects.toThrow('boom');
  });
});
