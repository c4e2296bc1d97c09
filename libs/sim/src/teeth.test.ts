import { describe, expect, it } from 'vitest';
import { QUIESCE_OPTIONS, scenarioOptions, type BrokenVariant, type SimOptions } from './options.js';
import { runSimulation } from './simulation.js';

/**
 * A checker is only trusted after a broken implementation has made it fail
 * (DESIGN §11). Each variant must be caught within MAX_SEEDS seeds.
 */
const MAX_SEEDS = 200;

function firstFailingSeed(broken: BrokenVariant, extra: Partial<SimOptions> | ((seed: number) => Partial<SimOptions>) = {}) {
  for (let seed = 1; seed <= MAX_SEEDS; seed++) {
    const more = typeof extra === 'function' ? extra(seed) : extra;
    const r = runSimulation({ seed, faults: 'heavy', broken, ...more });
    if (!r.ok) return { seed, violation: r.violations[0]! };
  }
  return null;
}

const SAFETY = /at most one value chosen per slot|one value per ballot|chosen slot never changes value|prefixes|only proposed/;

describe('the simulator catches broken replicas', () => {
  it('(a) a proposer that ignores the values in promises', () => {
    const found = firstFailingSeed('ignore-promise-values');
    expect(found, 'no violation found').not.toBeNull();
    expect(found!.violation.checker).toMatch(SAFETY);
  });

  it('(b) an acceptor that forgets its promise and accepted ballots on restart', () => {
    const found = firstFailingSeed('forget-acceptor-ballots', { faultPhaseUs: 10_000_000 });
    expect(found, 'no violation found').not.toBeNull();
    expect(found!.violation.checker).toMatch(SAFETY);
  });

  it('(b\') an acceptor that forgets only its promise on restart (a rarer interleaving)', () => {
    // Check-quorum makes a stale leader step down about when the forgetful acceptor would
    // let it through; without it the bug shows within a few seeds.
    const found = firstFailingSeed('forget-promise', { faultPhaseUs: 10_000_000, features: { checkQuorum: false, preVote: false } });
    expect(found, 'no violation found').not.toBeNull();
    expect(found!.violation.checker).toMatch(SAFETY);
  });

  it('(c) a follower that marks entries chosen without the ballot match', () => {
    const found = firstFailingSeed('learn-without-ballot-match');
    expect(found, 'no violation found').not.toBeNull();
    expect(found!.violation.checker).toMatch(SAFETY);
  });

  // Leases. Check-quorum (on by default) steps an isolated leader down at about the time its
  // lease would end anyway, which hides lease-timing bugs; these runs turn it off so the
  // lease is the only protection, as it is for a leader that is slow rather than cut off.
  // Pre-vote (on by default) makes the elections that race a lease rare; off here too.
  const noCheckQuorum = { features: { checkQuorum: false, preVote: false } };

  it('(d) a leader that times its lease from when votes arrive, not from when it asked', () => {
    const found = firstFailingSeed('lease-from-receipt', noCheckQuorum);
    expect(found, 'no violation found').not.toBeNull();
    expect(found!.violation.checker).toBe('lease disjointness');
  });

  it('(e) a leader that ignores the clock-drift bound (clocks drifting up to it)', () => {
    // A wide bound (30%) and short links: the drift error must beat two round trips of the next leader.
    const found = firstFailingSeed('lease-ignores-drift', { ...noCheckQuorum, maxDriftPpm: 300_000, fixedLatencyUs: 2_000 });
    expect(found, 'no violation found').not.toBeNull();
    expect(found!.violation.checker).toBe('lease disjointness');
  });

  it('(f) acceptors that do not honor their lease votes', () => {
    const found = firstFailingSeed('acceptor-ignores-lease');
    expect(found, 'no violation found').not.toBeNull();
    expect(found!.violation.checker).toMatch(/lease disjointness|lease reads are linearizable/);
  });

  it('(g) a leader serving local reads without a lease', () => {
    // More readers: the stale read needs a reader in the deposed leader's DC (first at seed 32).
    const found = firstFailingSeed('reads-without-lease', { clientsPerGroup: 6, readRatio: 0.5, features: { preVote: false } });
    expect(found, 'no violation found').not.toBeNull();
    expect(found!.violation.checker).toBe('lease reads are linearizable');
  });

  it('(h) a snapshot recorded one slot past the state it holds (production scenario)', () => {
    const found = firstFailingSeed('snapshot-off-by-one', (seed) => scenarioOptions('production', seed));
    expect(found, 'no violation found').not.toBeNull();
    expect(found!.violation.checker).toBe('snapshot + tail equals full replay');
  });

  it('(i) a shell that acknowledges before persisting (the shared Ready pipeline, flexible quorum q2 = 1)', () => {
    // Three members, q1 = 3, q2 = 1: one accept chooses, so the leader's client is answered
    // while nothing is on any disk.
    const found = firstFailingSeed('ack-before-persist', { replicas: 3, q1: 3, q2: 1 });
    expect(found, 'no violation found').not.toBeNull();
    expect(found!.violation.checker).toMatch(/acknowledged writes are durable on a quorum|at most one value chosen per slot/);
  });

  it("(i') a leader that counts its own accept before it is durable while its Accepts go out first", () => {
    // Only shows when the leader's fsync is slower than its followers' round trip: slow disks,
    // 2 ms links. A follower then learns a slot chosen from the next Accept and answers its
    // client while only it has the slot on disk.
    const found = firstFailingSeed('own-accept-counts-early', { slowDisks: true, fixedLatencyUs: 2_000 });
    expect(found, 'no violation found').not.toBeNull();
    expect(found!.violation.checker).toMatch(/acknowledged writes are durable on a quorum|at most one value chosen per slot/);
  });

  // Learners and leader transfer (docs/paxos.md "Learners and leader transfer"), production scenario.
  const production = (seed: number) => scenarioOptions('production', seed);

  it('(k) a learner whose accept counts toward the phase-2 quorum', () => {
    const found = firstFailingSeed('learner-counts-in-quorum', production);
    expect(found, 'no violation found').not.toBeNull();
    expect(found!.violation.checker).toMatch(/acknowledged writes are durable on a quorum|at most one value chosen per slot/);
  });

  it('(l) a leader that keeps leading, lease and all, after handing over', () => {
    const found = firstFailingSeed('transfer-keeps-lease', production);
    expect(found, 'no violation found').not.toBeNull();
    expect(found!.violation.checker).toMatch(/lease disjointness|lease reads are linearizable/);
  });

  it('(m) a leader that hands over before the lease it reported has run out', () => {
    const found = firstFailingSeed('transfer-skips-lease-drain', production);
    expect(found, 'no violation found').not.toBeNull();
    expect(found!.violation.checker).toMatch(/lease disjointness|lease reads are linearizable/);
  });

  it('(n) a quiet leader that keeps its lease instead of letting it lapse', () => {
    // Quiescent groups (docs/paxos.md): lease-free quiet is what makes it safe for the followers
    // of a leader cut off while quiet to elect another.
    const found = firstFailingSeed('quiet-keeps-lease', { ...QUIESCE_OPTIONS, faults: 'light' });
    expect(found, 'no violation found').not.toBeNull();
    expect(found!.violation.checker).toMatch(/lease disjointness|lease reads are linearizable/);
  });

  it('(j) the simulated network refuses a message over the max payload', () => {
    // Replicas budgeted for 16 KiB messages over a network that carries 2,000 bytes.
    const r = runSimulation({ seed: 1, faults: 'none', padMaxBytes: 3_000, networkMaxMessageBytes: 2_000, checkLiveness: false });
    expect(r.violations.map((v) => v.checker)).toContain('messages fit the max payload');
  });

  it('the correct replica passes the lease-teeth settings', () => {
    for (let seed = 1; seed <= 40; seed++) {
      expect(runSimulation({ seed, faults: 'heavy', ...noCheckQuorum }).violations, `seed ${seed}`).toEqual([]);
      const wide = { ...noCheckQuorum, maxDriftPpm: 300_000, fixedLatencyUs: 2_000 };
      expect(runSimulation({ seed, faults: 'heavy', ...wide }).violations, `seed ${seed}`).toEqual([]);
    }
  });
});
