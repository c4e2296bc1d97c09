/**
 * Deliberately broken behaviours, off by default. They exist so the simulator's
 * checkers can be shown to catch real protocol bugs (DESIGN §11: a checker is
 * only trusted after a broken implementation has made it fail). Never enable
 * outside tests.
 */
export interface BrokenForTesting {
  /** Phase 1 ignores the values reported in promises and fills every slot with a no-op. */
  ignorePromiseValues?: boolean;
  /** On restart the acceptor forgets its promised ballot (it keeps its accepted log). */
  forgetPromiseOnRestart?: boolean;
  /** On restart the acceptor keeps its accepted values but forgets at which ballots it accepted them. */
  forgetAcceptedBallotsOnRestart?: boolean;
  /** A follower marks its accepted entry chosen without checking its ballot against the leader's. */
  learnWithoutBallotMatch?: boolean;
}

export interface LivenessFeatures {
  /** Election timeout drawn from [base, 2*base) instead of exactly base. */
  randomizedTimeouts: boolean;
  /**
   * A preempted proposer (Nack, or a higher Prepare) waits an election timeout
   * plus a random extra time, and gives up if it hears a leader meanwhile.
   * Off: it retries phase 1 at once with a higher round.
   */
  backoff: boolean;
  /** Acceptors ignore Prepare from others while a live leader was heard from within the election timeout. */
  leaderStickiness: boolean;
}

export interface ReplicaConfig {
  group: string;
  self: string;
  /** All replica ids of the group, including self. */
  peers: string[];
  heartbeatIntervalUs: number;
  electionTimeoutUs: number;
  /** Max unchosen slots the leader has in flight (slots >= chosenUpTo it has assigned). */
  window?: number;
  /** Max commands per log entry. */
  maxBatch?: number;
  /** Max entries per Accept / CatchupReply message. */
  maxEntriesPerMessage?: number;
  /** Phase-1 quorum size; default majority. */
  q1?: number;
  /** Phase-2 quorum size; default majority. q1 + q2 must exceed the group size. */
  q2?: number;
  features?: Partial<LivenessFeatures>;
  brokenForTesting?: BrokenForTesting;
}

export interface ResolvedConfig {
  group: string;
  self: string;
  peers: readonly string[];
  heartbeatIntervalUs: number;
  electionTimeoutUs: number;
  window: number;
  maxBatch: number;
  maxEntriesPerMessage: number;
  q1: number;
  q2: number;
  features: LivenessFeatures;
  broken: BrokenForTesting;
}

export const DEFAULT_WINDOW = 64;
export const DEFAULT_MAX_BATCH = 64;
export const DEFAULT_MAX_ENTRIES_PER_MESSAGE = 128;

export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

function positiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`paxos config: ${name} must be a positive integer, got ${v}`);
}

/** Fills defaults and rejects configurations that would be unsafe or meaningless. */
export function resolveConfig(c: ReplicaConfig): ResolvedConfig {
  const n = c.peers.length;
  if (n === 0) throw new Error('paxos config: peers is empty');
  if (new Set(c.peers).size !== n) throw new Error('paxos config: duplicate peer ids');
  if (!c.peers.includes(c.self)) throw new Error(`paxos config: self ${c.self} is not in peers`);
  if (c.self === '') throw new Error('paxos config: self must be non-empty (the empty node id is ZERO_BALLOT)');
  const q1 = c.q1 ?? majority(n);
  const q2 = c.q2 ?? majority(n);
  positiveInt('q1', q1);
  positiveInt('q2', q2);
  if (q1 > n || q2 > n) throw new Error(`paxos config: quorums q1=${q1} q2=${q2} exceed group size ${n}`);
  if (q1 + q2 <= n) {
    throw new Error(`paxos config: quorum intersection requires q1 + q2 > n (q1=${q1}, q2=${q2}, n=${n})`);
  }
  positiveInt('heartbeatIntervalUs', c.heartbeatIntervalUs);
  positiveInt('electionTimeoutUs', c.electionTimeoutUs);
  if (c.electionTimeoutUs <= c.heartbeatIntervalUs) {
    throw new Error('paxos config: electionTimeoutUs must exceed heartbeatIntervalUs');
  }
  const window = c.window ?? DEFAULT_WINDOW;
  const maxBatch = c.maxBatch ?? DEFAULT_MAX_BATCH;
  const maxEntriesPerMessage = c.maxEntriesPerMessage ?? DEFAULT_MAX_ENTRIES_PER_MESSAGE;
  positiveInt('window', window);
  positiveInt('maxBatch', maxBatch);
  positiveInt('maxEntriesPerMessage', maxEntriesPerMessage);
  return {
    group: c.group,
    self: c.self,
    peers: [...c.peers],
    heartbeatIntervalUs: c.heartbeatIntervalUs,
    electionTimeoutUs: c.electionTimeoutUs,
    window,
    maxBatch,
    maxEntriesPerMessage,
    q1,
    q2,
    features: {
      randomizedTimeouts: c.features?.randomizedTimeouts ?? true,
      backoff: c.features?.backoff ?? true,
      leaderStickiness: c.features?.leaderStickiness ?? true,
    },
    broken: { ...c.brokenForTesting },
  };
}
