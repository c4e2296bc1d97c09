import { Duration, Instant } from '@js-joda/core';
import { describe, expect, it } from 'vitest';
import { SkewedClock, VirtualClock } from './clock.js';
import { isAfter } from './interval.js';
import { systemClock } from './system-clock.js';
import { TrueTime } from './truetime.js';
import { instantToMicros, microsToInstant } from './units.js';

/** A TrueTime on the host clock, anchored to it with half-width `eps` µs (no masters involved). */
function anchored(eps: number) {
  const tt = new TrueTime(systemClock);
  const now = systemClock.nowUs();
  tt.sync.anchorAt(now, { earliest: now - eps, latest: now + eps });
  return tt;
}

describe('TrueTime', () => {
  it('speaks µs and js-joda Instants at the edges', () => {
    const base = new VirtualClock(1_700_000_000_123_456);
    const tt = new TrueTime(new SkewedClock(base));
    tt.sync.anchorAt(base.nowUs(), { earliest: base.nowUs() - 500, latest: base.nowUs() + 500 });
    const { earliest, latest } = tt.nowInstant();
    expect(instantToMicros(earliest)).toBe(1_700_000_000_122_956);
    expect(Duration.between(earliest, latest).toNanos()).toBe(1_000_000);
    expect(tt.after(Instant.ofEpochMicro(1_700_000_000_122_955))).toBe(true);
    expect(tt.after(earliest)).toBe(false);
    expect(tt.before(microsToInstant(1_700_000_000_123_957))).toBe(true);
    expect(tt.epsilon().toNanos()).toBe(500_000);
    expect(tt.isServing()).toBe(true);
  });

  it('waitUntilAfter resolves only once earliest has passed t (commit wait)', async () => {
    const tt = anchored(3_000);
    for (let i = 0; i < 5; i++) {
      const s = tt.now().latest; // a commit timestamp: no earlier than true time
      const t0 = performance.now();
      const iv = await tt.waitUntilAfter(s);
      expect(isAfter(iv, s)).toBe(true);
      expect(tt.after(s)).toBe(true);
      // Commit wait lasts about 2ε (6 ms): a coarse lower bound on behaviour, not a timing test.
      expect(performance.now() - t0).toBeGreaterThanOrEqual(5.9);
    }
  });

  it('waitUntilAfter returns at once for a past time and accepts an Instant', async () => {
    const tt = anchored(1_000);
    const past = tt.now().earliest - 1;
    expect(isAfter(await tt.waitUntilAfter(past), past)).toBe(true);
    const iv = await tt.waitUntilAfter(microsToInstant(tt.now().latest));
    expect(iv.earliest).toBeGreaterThan(0);
  });
});
