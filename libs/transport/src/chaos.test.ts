import { describe, expect, it } from 'vitest';
import { EMPTY_CHAOS, chaos, judge } from './chaos.js';

const a = { node: 'n1', dc: 'dc-a' };
const b = { node: 'n2', dc: 'dc-b' };
const c = { node: 'n3', dc: 'dc-c' };
const half = () => 0.5;

describe('judge', () => {
  it('delivers everything with no faults', () => {
    expect(judge(EMPTY_CHAOS, a, b, half)).toEqual({ deliver: true, delayMs: 0 });
  });

  it('partitions both directions, or one', () => {
    const both = chaos.partition(EMPTY_CHAOS, ['dc-a'], ['dc-b', 'dc-c']);
    expect(judge(both, a, b, half).deliver).toBe(false);
    expect(judge(both, b, a, half).deliver).toBe(false);
    expect(judge(both, c, a, half).deliver).toBe(false);
    expect(judge(both, b, c, half).deliver).toBe(true);
    const oneWay = chaos.partition(EMPTY_CHAOS, ['dc-a'], ['dc-b'], true);
    expect(judge(oneWay, a, b, half).deliver).toBe(false);
    expect(judge(oneWay, b, a, half).deliver).toBe(true);
  });

  it('treats * as every other DC', () => {
    const s = chaos.partition(EMPTY_CHAOS, ['dc-a'], ['*']);
    expect(judge(s, a, b, half).deliver).toBe(false);
    expect(judge(s, c, a, half).deliver).toBe(false);
    expect(judge(s, b, c, half).deliver).toBe(true);
    expect(judge(s, a, { node: 'n4', dc: 'dc-a' }, half).deliver).toBe(true);
  });

  it('adds latency plus jitter drawn from rand', () => {
    const s = chaos.latency(EMPTY_CHAOS, 'dc-a', 'dc-b', 40, 10);
    expect(judge(s, a, b, half)).toEqual({ deliver: true, delayMs: 45 });
    expect(judge(s, b, a, half)).toEqual({ deliver: true, delayMs: 0 });
  });

  it('loses messages with the given probability', () => {
    const s = chaos.loss(EMPTY_CHAOS, 'dc-a', 'dc-b', 0.3);
    expect(judge(s, a, b, () => 0.29).deliver).toBe(false);
    expect(judge(s, a, b, () => 0.31).deliver).toBe(true);
  });

  it('isolates one node from everyone, including its own DC', () => {
    const s = chaos.isolate(EMPTY_CHAOS, 'n1');
    expect(judge(s, a, { node: 'n4', dc: 'dc-a' }, half).deliver).toBe(false);
    expect(judge(s, b, a, half).deliver).toBe(false);
    expect(judge(s, b, c, half).deliver).toBe(true);
  });

  it('versions every change and heal clears everything', () => {
    const s1 = chaos.partition(EMPTY_CHAOS, ['dc-a'], ['dc-b']);
    const s2 = chaos.latency(s1, 'dc-b', 'dc-c', 5);
    const s3 = chaos.heal(s2);
    expect([s1.version, s2.version, s3.version]).toEqual([1, 2, 3]);
    expect(judge(s3, a, b, half)).toEqual({ deliver: true, delayMs: 0 });
  });
});
