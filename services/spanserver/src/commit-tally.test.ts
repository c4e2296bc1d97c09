import { COMMIT_LATENCY_BOUNDS_MS } from '@synod/codec';
import { describe, expect, it } from 'vitest';
import { CommitTally } from './commit-tally.js';

describe('CommitTally', () => {
  it('sums latency and commit wait and puts each commit in the bucket of its latency', () => {
    const t = new CommitTally();
    t.record(800, 100); // 0.8 ms: the first bucket (≤ 1 ms)
    t.record(1_000, 0); // exactly 1 ms: still the first
    t.record(15_000, 9_000); // 15 ms: ≤ 20 ms
    t.record(60_000_000, 0); // a minute: above the last bound
    const f = t.figures();
    expect(f.count).toBe(4);
    expect(f.latencyUsSum).toBe(800 + 1_000 + 15_000 + 60_000_000);
    expect(f.commitWaitUsSum).toBe(9_100);
    expect(f.latencyBuckets).toHaveLength(COMMIT_LATENCY_BOUNDS_MS.length + 1);
    expect(f.latencyBuckets[0]).toBe(2);
    expect(f.latencyBuckets[COMMIT_LATENCY_BOUNDS_MS.indexOf(20)]).toBe(1);
    expect(f.latencyBuckets.at(-1)).toBe(1);
    expect(f.latencyBuckets.reduce((a, b) => a + b, 0)).toBe(4);
  });

  it('hands out copies: a later commit does not change an earlier reading', () => {
    const t = new CommitTally();
    const before = t.figures();
    t.record(3_000, 1_000);
    expect(before.count).toBe(0);
    expect(before.latencyBuckets.every((n) => n === 0)).toBe(true);
  });
});
