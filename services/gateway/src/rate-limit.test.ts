import { describe, expect, it } from 'vitest';
import { RateLimiter } from './rate-limit.js';

describe('RateLimiter (token bucket per client)', () => {
  it('allows a burst, then one request per 1/perSecond, per client', () => {
    let t = 0;
    const rl = new RateLimiter(2, 3, 100, () => t);
    expect([rl.take('a'), rl.take('a'), rl.take('a')]).toEqual([0, 0, 0]);
    // Empty: the next token is due in 1/2 s.
    expect(rl.take('a')).toBeCloseTo(0.5);
    // Another client has its own bucket.
    expect(rl.take('b')).toBe(0);
    t += 500;
    expect(rl.take('a')).toBe(0);
    expect(rl.take('a')).toBeGreaterThan(0);
    // Refill stops at the burst.
    t += 60_000;
    expect([rl.take('a'), rl.take('a'), rl.take('a')]).toEqual([0, 0, 0]);
    expect(rl.take('a')).toBeGreaterThan(0);
  });

  it('keeps at most maxClients buckets, forgetting the least recently seen', () => {
    const rl = new RateLimiter(1, 1, 2, () => 0);
    expect(rl.take('a')).toBe(0);
    expect(rl.take('b')).toBe(0);
    expect(rl.take('a')).toBeGreaterThan(0); // a is now the most recently seen
    expect(rl.take('c')).toBe(0); // evicts b
    expect(rl.clients).toBe(2);
    expect(rl.take('a')).toBeGreaterThan(0); // a was kept, still empty
    expect(rl.take('b')).toBe(0); // b came back with a full bucket
  });

  it('refuses a limit that would let nothing through', () => {
    expect(() => new RateLimiter(0, 1)).toThrow(/perSecond/);
    expect(() => new RateLimiter(1, 0)).toThrow(/burst/);
  });
});
