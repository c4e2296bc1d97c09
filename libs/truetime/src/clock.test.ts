import { describe, expect, it } from 'vitest';
import { SkewedClock, VirtualClock } from './clock.js';
import { SystemClock } from './system-clock.js';

describe('physical clocks', () => {
  it('a skewed clock steps on skew and stays continuous across drift changes', () => {
    const base = new VirtualClock(1_000_000);
    const c = new SkewedClock(base, { driftPpm: 100 });
    base.advance(10_000_000);
    expect(c.nowUs()).toBe(11_000_000 + 1_000);
    c.setDriftPpm(-50);
    expect(c.nowUs()).toBe(11_001_000);
    base.advance(10_000_000);
    expect(c.nowUs()).toBe(21_001_000 - 500);
    c.setSkewUs(250_000);
    expect(c.nowUs()).toBe(21_000_500 + 250_000);
    c.setSkewUs(0);
    expect(c.offsetUs()).toBe(500);
  });

  it('the system clock reads integer µs near Date.now and never goes back', () => {
    const c = new SystemClock();
    // Bracket the readings with Date.now so that a descheduled process (a loaded machine) cannot
    // push them apart: what is left is how far the two clocks disagree, not how fast we ran.
    const d0 = Date.now();
    const a = c.nowUs();
    const b = c.nowUs();
    const d1 = Date.now();
    expect(Number.isInteger(a)).toBe(true);
    expect(b).toBeGreaterThanOrEqual(a);
    console.log(`[timing] system clock vs Date.now: ${a / 1000 - d0} ms after the first read, ${d1 - a / 1000} ms before the second`);
    expect(a / 1000).toBeGreaterThanOrEqual(d0 - 50);
    expect(a / 1000).toBeLessThanOrEqual(d1 + 50);
  });
});
