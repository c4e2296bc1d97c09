import { describe, expect, it } from 'vitest';
import { resolveConfig } from './config.js';
import { baseConfig } from './testing/harness.js';

const peers = ['a', 'b', 'c', 'd', 'e'];

describe('config', () => {
  it('defaults quorums to majorities and features to on', () => {
    const c = resolveConfig(baseConfig('a', peers));
    expect([c.q1, c.q2]).toEqual([3, 3]);
    expect(c.features).toEqual({ randomizedTimeouts: true, backoff: true, leaderStickiness: true, checkQuorum: true, preVote: true });
    expect(c.broken).toEqual({});
  });
  it('accepts flexible quorums that intersect', () => {
    const c = resolveConfig(baseConfig('a', peers, { q1: 4, q2: 2 }));
    expect([c.q1, c.q2]).toEqual([4, 2]);
  });
  it('rejects quorums that need not intersect', () => {
    expect(() => resolveConfig(baseConfig('a', peers, { q1: 2, q2: 3 }))).toThrow(/q1 \+ q2 > n/);
    expect(() => resolveConfig(baseConfig('a', peers, { q1: 6, q2: 3 }))).toThrow(/exceed/);
    expect(() => resolveConfig(baseConfig('a', peers, { q1: 0, q2: 5 }))).toThrow(/q1/);
  });
  it('rejects a self outside peers, duplicates and bad timings', () => {
    expect(() => resolveConfig(baseConfig('x', peers))).not.toThrow();
    expect(() => resolveConfig(baseConfig('a', ['a', 'a']))).toThrow(/duplicate/);
    expect(() =>
      resolveConfig(baseConfig('a', peers, { heartbeatIntervalUs: 10, electionTimeoutUs: 10 })),
    ).toThrow(/electionTimeoutUs/);
  });
});
