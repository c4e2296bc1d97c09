import type { Membership } from './output.js';

/**
 * Quorum arithmetic, the only place the core counts votes (etcd raft's `quorum/`). A quorum is
 * `q1` (phase 1: promises, pre-votes) or `q2` (phase 2: accepts, lease votes, check-quorum)
 * members of one configuration; while configurations overlap (the α window) a decision needs a
 * quorum of each configuration that governs a slot it touches.
 */
export type QuorumKind = 'q1' | 'q2';

/** Whether `voters` hold a `q` quorum of `config`'s members. */
export function hasQuorum(voters: ReadonlySet<string>, config: Membership, q: QuorumKind): boolean {
  let n = 0;
  for (const p of config.peers) if (voters.has(p)) n++;
  return n >= config[q];
}

/** Whether `voters` hold a `q` quorum in every configuration of `configs`. */
export function hasQuorumInAll(voters: ReadonlySet<string>, configs: readonly Membership[], q: QuorumKind): boolean {
  return configs.every((c) => hasQuorum(voters, c, q));
}

/**
 * The `q`-th newest of the members' times (a member without a time counts as never): the latest
 * instant by which a `q` quorum of `config` had all reported. It is what a lease end is timed
 * from (each member's vote time) and what check-quorum compares (each member's heard-from
 * time). Null when fewer than `q` members have a time.
 */
export function quorumTime(timesUs: ReadonlyMap<string, number>, config: Membership, q: QuorumKind): number | null {
  const times: number[] = [];
  for (const p of config.peers) {
    const t = timesUs.get(p);
    if (t !== undefined) times.push(t);
  }
  if (times.length < config[q]) return null;
  times.sort((a, b) => b - a);
  return times[config[q] - 1]!;
}

/** The earliest of `quorumTime` over `configs`: the time a quorum of each had reported by; null if one has no quorum. */
export function quorumTimeInAll(timesUs: ReadonlyMap<string, number>, configs: readonly Membership[], q: QuorumKind): number | null {
  let t = Number.POSITIVE_INFINITY;
  for (const c of configs) {
    const ct = quorumTime(timesUs, c, q);
    if (ct === null) return null;
    t = Math.min(t, ct);
  }
  return t;
}
