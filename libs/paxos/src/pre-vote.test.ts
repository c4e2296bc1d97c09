import { describe, expect, it } from 'vitest';
import { compareBallot } from './ballot.js';
import type { ReplicaConfig } from './config.js';
import { Harness } from './testing/harness.js';

const ids = ['a', 'b', 'c'];

function partitionThenHeal(extra: Partial<ReplicaConfig>) {
  const h = new Harness(ids, extra);
  h.elect('a');
  const ballot = h.get('a').ownBallot();
  const step = (ms: number) => {
    for (let t = 0; t < ms; t += 10) {
      h.now += 10_000;
      for (const id of ids) h.tick(id);
      h.deliverAll();
    }
  };
  h.drop = (to, msg) => to === 'c' || msg.from === 'c';
  step(2_000); // ten election timeouts and more
  const cutOffPromised = h.get('c').ballot();
  h.drop = () => false;
  step(1_000);
  return { h, ballot, cutOffPromised };
}

describe('pre-vote', () => {
  it('a replica cut off by a partition keeps its ballot, and after the heal the leader is not deposed', () => {
    const { h, ballot, cutOffPromised } = partitionThenHeal({});
    expect(compareBallot(cutOffPromised, ballot)).toBeLessThanOrEqual(0);
    expect(h.get('a').isLeader()).toBe(true);
    expect(h.get('a').ownBallot()).toEqual(ballot);
    expect(h.get('c').leaderHint()).toBe('a');
  });

  it('without pre-vote the same heal deposes the leader (the behaviour pre-vote removes)', () => {
    const { h, ballot, cutOffPromised } = partitionThenHeal({ features: { preVote: false } });
    expect(compareBallot(cutOffPromised, ballot)).toBeGreaterThan(0);
    const leader = ids.find((id) => h.get(id).isLeader());
    expect(leader === undefined || compareBallot(h.get(leader).ownBallot(), ballot) > 0).toBe(true);
  });

  it('a group whose leader died still elects a new one', () => {
    const h = new Harness(ids);
    h.elect('a');
    h.drop = (to, msg) => to === 'a' || msg.from === 'a';
    for (let t = 0; t < 2_000; t += 10) {
      h.now += 10_000;
      for (const id of ['b', 'c']) h.tick(id);
      h.deliverAll();
    }
    expect(['b', 'c'].some((id) => h.get(id).isLeader())).toBe(true);
  });
});

describe('pre-vote after a campaign times out', () => {
  it('a candidate cut off mid-campaign asks again before raising its round', () => {
    const h = new Harness(ids);
    h.elect('a');
    // c loses its leader, wins the pre-vote (a is cut off from everyone) but hears no promise,
    // so it stays a candidate; then it is cut off entirely.
    h.drop = (to, msg) => to === 'a' || msg.from === 'a' || msg.type === 'promise';
    for (let t = 0; t < 400; t += 10) {
      h.now += 10_000;
      h.tick('c');
      h.deliverAll();
      if (h.get('c').getRole() === 'candidate') break;
    }
    expect(h.get('c').getRole()).toBe('candidate');
    const campaign = h.get('c').ownBallot();
    h.drop = (to, msg) => to === 'c' || msg.from === 'c';
    for (let t = 0; t < 2_000; t += 10) {
      h.now += 10_000;
      h.tick('c');
      h.deliverAll();
    }
    // Without the pre-vote after a timed-out campaign, c climbs one round per election timeout.
    expect(h.get('c').ballot().round).toBeLessThanOrEqual(Math.max(campaign.round, 1) + 1);
  });
});
