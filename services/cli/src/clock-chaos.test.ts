import { describe, expect, it } from 'vitest';
import { faultReaches } from '@synod/truetime';
import { clockFaultFrom, isClockChaos, targetFault } from './clock-chaos.js';

// The commands themselves (timemaster, clock-node, chaos skew) run as processes in test/truetime.
describe('synod chaos skew|drift', () => {
  it('builds clock faults from the command words', () => {
    expect(isClockChaos(['skew', 'n1', '500', '--nats-url', 'x'])).toBe(true);
    expect(isClockChaos(['partition', 'dc-a'])).toBe(false);
    expect(clockFaultFrom(['skew', 'n1', '500'])).toEqual({ node: 'n1', skewMs: 500 });
    expect(clockFaultFrom(['skew', '*', '-20.5'])).toEqual({ node: '*', skewMs: -20.5 });
    expect(clockFaultFrom(['drift', 'tm-a', '300'])).toEqual({ node: 'tm-a', driftPpm: 300 });
    expect(() => clockFaultFrom(['skew', 'n1'])).toThrow(/<ms>/);
    expect(() => clockFaultFrom(['drift', 'n1', '9e9'])).toThrow(/<ppm>/);
    expect(() => clockFaultFrom(['skew', 'Bad Node', '1'])).toThrow(/<node>/);
  });

  it("'*' leaves the time masters alone unless --masters; a master applies only faults naming it or '**'", () => {
    expect(targetFault({ node: '*', skewMs: 1 }, false)).toEqual({ node: '*', skewMs: 1 });
    expect(targetFault({ node: '*', skewMs: 1 }, true)).toEqual({ node: '**', skewMs: 1 });
    expect(targetFault({ node: 'tm-a', skewMs: 1 }, true)).toEqual({ node: 'tm-a', skewMs: 1 });
    expect(faultReaches('*', 'tm-a', true)).toBe(false);
    expect(faultReaches('*', 'n1', false)).toBe(true);
    expect(faultReaches('**', 'tm-a', true)).toBe(true);
    expect(faultReaches('tm-a', 'tm-a', true)).toBe(true);
    expect(faultReaches('?', 'n1', false)).toBe(false);
  });
});
