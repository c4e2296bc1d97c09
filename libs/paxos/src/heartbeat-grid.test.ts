import { describe, expect, it } from 'vitest';
import { Harness, outbound } from './testing/harness.js';

/**
 * Leaders beat on the heartbeat grid (multiples of the interval), not one interval after their
 * election: groups a process leads, elected at different times, then beat in the same tick, so
 * the transport carries all their heartbeats to a peer in one message (docs/paxos.md).
 */
function heartbeatTimes(electedAtUs: number): number[] {
  const h = new Harness(['a', 'b', 'c'], { heartbeatIntervalUs: 10_000, electionTimeoutUs: 100_000 });
  h.now = electedAtUs;
  h.elect('a');
  const times: number[] = [];
  const start = h.now;
  for (let t = start + 1_000; t <= start + 60_000; t += 1_000) {
    const ready = h.tick('a', t);
    if (outbound(ready).some((o) => o.msg.type === 'heartbeat')) times.push(t);
    h.deliverAll();
  }
  return times;
}

describe('heartbeat grid', () => {
  it('groups elected at different times beat in the same ticks', () => {
    const first = heartbeatTimes(3_000);
    const second = heartbeatTimes(7_000);
    expect(first.length).toBeGreaterThanOrEqual(5);
    const inBoth = (t: number) => t >= 1_008_000 && t <= 1_063_000;
    expect(second.filter(inBoth)).toEqual(first.filter(inBoth));
    expect(first.every((t) => t % 10_000 === 0)).toBe(true);
  });
});
