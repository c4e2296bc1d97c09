import { describe, expect, it } from 'vitest';
import { TimestampOracle, commitApplies, readTimestamp } from './timestamps.js';

describe('TimestampOracle', () => {
  it('hands out strictly increasing timestamps above now.latest and everything observed', () => {
    const o = new TimestampOracle();
    expect(o.assign(1000)).toBe(1001);
    expect(o.assign(900)).toBe(1002); // the clock went backwards: still increasing
    o.observe(5000);
    expect(o.assign(1000)).toBe(5001);
    expect(o.assign(7000.2)).toBe(7002);
  });
});

describe('commitApplies', () => {
  it('refuses a commit at or below what is already applied', () => {
    expect(commitApplies(100, 101)).toBe(true);
    expect(commitApplies(100, 100)).toBe(false);
    expect(commitApplies(100, 50)).toBe(false);
  });
});

describe('readTimestamp', () => {
  const now = { earliest: 1_000, latest: 1_100 };
  it('strong reads run at now.latest and wait for t_safe', () => {
    expect(readTimestamp({}, now, 900)).toEqual({ ts: 1_100, needsWait: true });
    expect(readTimestamp({}, now, 1_200)).toEqual({ ts: 1_100, needsWait: false });
  });
  it('snapshot reads run at their timestamp', () => {
    expect(readTimestamp({ ts: 500 }, now, 900)).toEqual({ ts: 500, needsWait: false });
    expect(readTimestamp({ ts: 950 }, now, 900)).toEqual({ ts: 950, needsWait: true });
  });
  it('bounded-staleness reads take t_safe when it is fresh enough, else wait for the bound', () => {
    expect(readTimestamp({ maxStalenessUs: 300 }, now, 900)).toEqual({ ts: 900, needsWait: false });
    expect(readTimestamp({ maxStalenessUs: 100 }, now, 900)).toEqual({ ts: 1_000, needsWait: true });
  });
});
