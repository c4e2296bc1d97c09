import { describe, expect, it } from 'vitest';
import { runSimulation } from './simulation.js';

/**
 * Two live replicas of three (dc-c is down), identical fixed timeouts, ticks in
 * lockstep, a symmetric jitter-free network: both campaign at the same instant
 * and, without the liveness features, keep preempting each other forever.
 */
function duel(featuresOn: boolean) {
  return runSimulation({
    seed: 1,
    replicas: 3,
    groups: 1,
    faults: 'none',
    clientsPerGroup: 1,
    permanentlyDown: ['dc-c'],
    features: { randomizedTimeouts: featuresOn, backoff: featuresOn, leaderStickiness: featuresOn },
    fixedLatencyUs: 5_000,
    tickPhaseJitter: false,
    networkFaults: { jitterUs: 0 },
    faultPhaseUs: 10_000_000,
    checkLiveness: false,
  });
}

describe('dueling proposers', () => {
  it('make no progress without randomized timeouts, backoff and stickiness', () => {
    const r = duel(false);
    expect(r.ok).toBe(true);
    expect(r.groups[0]!.chosen).toBe(0);
    expect(r.commandsAcked).toBe(0);
    expect(r.leadershipChanges).toBeGreaterThan(100); // they do keep winning phase 1, briefly
  });

  it('make progress with them', () => {
    const r = duel(true);
    expect(r.ok).toBe(true);
    expect(r.groups[0]!.chosen).toBeGreaterThan(50);
    expect(r.commandsAcked).toBeGreaterThan(50);
  });
});
