import { TXN_BROKEN_VARIANTS } from '@synod/txn';
import { describe, expect, it } from 'vitest';
import { runSpan, type TxnBrokenVariant } from './span/simulation.js';

/**
 * Teeth of the span checkers (DESIGN §11: a checker is trusted only once a broken implementation
 * made it fail): each TxnBroken variant of the transaction core is run on seeds 1, 2, … until one
 * fails, within the seeds CI runs (300), and must be caught by one of the checkers named for it.
 * The first failing seed of each is printed ([teeth] …); replay it with
 * `npm run sim -- --scenario span --seed N --broken <variant> --trace`.
 */
const CI_SEEDS = 300;

/** The checkers a variant's first failing seed must include one of. */
const CAUGHT_BY: Record<TxnBrokenVariant, string[]> = {
  // A commit with read keys and no epoch (some clients send none, as the wire allows) whose
  // reads' locks died with the old leadership commits at the new one: lost update.
  noReadLockCheck: ['strictSerializability', 'bankConserved'],
  // Acknowledged before its timestamp passed: a later transaction or strong read gets a lower ts.
  noCommitWait: ['realTimeOrder'],
  // Acknowledged from the proposal, before it was applied (chosen): a proposal a leader change
  // drops, or one applied at another timestamp, was acknowledged all the same (rule 8).
  ackBeforeApplied: ['ackedAppliedOnce'],
  // Closed timestamps (and lease reads) beyond the lease: a successor commits below what a follower already served.
  noLeaseBound: ['tSafeNotAhead', 'snapshotExact', 'realTimeOrder'],
  // A new leader reads before the previous leaders' entries are applied here: lost updates.
  noEpochBarrier: ['strictSerializability', 'snapshotExact', 'bankConserved', 'realTimeOrder'],
  // A commit carrying an older leadership's epoch (reads re-taken under the new one): lost update.
  noEpochCheck: ['strictSerializability', 'bankConserved'],
  // A deposed leader's late entry applies below timestamps already applied (and served).
  noApplyTimeRule: ['tSafeNotAhead', 'snapshotExact', 'strictSerializability'],
  // t_safe counts applied but not yet durable entries: reads below it miss them.
  tSafeFromApplied: ['tSafeNotAhead', 'snapshotExact'],
  // Leader reads at min(t_safe, now.earliest): behind what an earlier read elsewhere saw.
  oldLeaseRead: ['realTimeOrder'],
  // A new leader's commits ignore a far `closed` entry of its predecessor's (a strong read beyond the
  // lease of a leader with a large ε) that it applied after assigning its barrier: the apply-time
  // rule refuses a current leader's own commits (the big-epsilon-failover shape).
  oracleIgnoresApplied: ['refusalsAreLate'],
  // 2PC: the commit lands below a participant's prepare timestamp, which its t_safe (capped just
  // below it) already covered: reads there below the prepare timestamp missed the write; or below
  // what the coordinator served meanwhile, so its own commit record is refused (refusalsAreLate).
  commitBelowPrepare: ['tSafeNotAhead', 'snapshotExact', 'bankConserved', 'refusalsAreLate'],
  // 2PC: t_safe passes a prepared transaction's timestamp: reads above it miss the commit that lands there.
  ignoreTmSafe: ['tSafeNotAhead', 'snapshotExact', 'bankConserved'],
  // 2PC: the coordinator acknowledges before its timestamp passed: a later strong read gets a lower
  // ts; or its decision reaches a participant before s is past there, and the participant's own
  // commit, proposed after that decide at its now.latest below s, is refused at apply
  // (refusalsAreLate: seed 6 since one-split strong reads run at the last commit, rule 9a).
  noCoordinatorCommitWait: ['realTimeOrder', 'refusalsAreLate'],
  // 2PC: a participant gives up on a prepared transaction its coordinator then commits: half a transaction.
  participantAbortsPrepared: ['atomicCommit', 'strictSerializability', 'bankConserved'],
  // 2PC: a logged abort is not in the outcome table, so it never reaches the participants nor a
  // status lookup (the late commit record it should refuse is refused by the apply-time rule
  // anyway): participants stay prepared, the coordinator keeps its locks, forever.
  forgetLoggedAbort: ['twoPhaseLiveness'],
  // Rule 9a at a leader for a read of several splits: the first split's low timestamp is used at
  // the others, below a write one of them acknowledged before the read began.
  lastCommitReadAcrossSplits: ['realTimeOrder'],
  // Rule 9a with a prepared transaction: its coordinator acknowledged the commit, the participant
  // has not applied the decide yet, and a read of the participant alone misses it.
  lastCommitReadIgnoresPrepared: ['realTimeOrder'],
};

function firstFailure(variant: TxnBrokenVariant): { seed: number; checkers: string[]; detail: string } | undefined {
  for (let seed = 1; seed <= CI_SEEDS; seed++) {
    const r = runSpan({ seed, broken: [variant] });
    if (!r.ok) return { seed, checkers: r.failedCheckers, detail: r.violations[0]!.detail };
  }
  return undefined;
}

describe('span teeth: every broken transaction core is caught by a named checker', () => {
  it('names every variant', () => {
    expect(new Set(Object.keys(CAUGHT_BY))).toEqual(new Set(TXN_BROKEN_VARIANTS));
  });

  for (const [variant, checkers] of Object.entries(CAUGHT_BY) as Array<[TxnBrokenVariant, string[]]>) {
    it(`${variant} is caught by ${checkers.join(' / ')}`, { timeout: 240_000 }, () => {
      const t0 = performance.now();
      const f = firstFailure(variant);
      const secs = ((performance.now() - t0) / 1000).toFixed(1);
      console.log(`[teeth] ${variant}: ${f ? `first failing seed ${f.seed}, caught by ${f.checkers.join(', ')} (${secs}s)\n  ${f.detail.slice(0, 300)}` : `NOT caught in ${CI_SEEDS} seeds (${secs}s)`}`);
      expect(f, `${variant} not caught within ${CI_SEEDS} seeds`).toBeDefined();
      expect(f!.checkers.some((c) => checkers.includes(c)), `${variant} caught by ${f!.checkers.join(', ')}`).toBe(true);
    });
  }
});
