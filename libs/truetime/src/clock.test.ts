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
    const a = c.nowUs();
    const b = c.nowUs();
    expect(Number.isInteger(a)).toBe(true);
    expect(b).toBeGreaterThanOrEqual(a);
    expect(Math.abs(a / 1000 - Date.now())).toBeLessThan(50);
  });
});
