import { MAX_COMMAND_BYTES, MAX_PAXOS_MESSAGE_BYTES } from '@synod/limits';
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
  /** The leader times its lease from when it received each vote instead of when it sent the request. */
  leaseFromReceipt?: boolean;
  /** The leader's lease lasts the full vote duration: the clock-drift bound is not subtracted. */
  leaseIgnoresDrift?: boolean;
  /** Acceptors do not honor lease votes (nor leader stickiness, nor a forgotten vote after restart). */
  acceptorIgnoresLease?: boolean;
  /** The leader serves local reads whenever it believes it leads, lease or not. */
  readsWithoutLease?: boolean;
  /** A snapshot is recorded one slot past the index the state machine was at. */
  snapshotOffByOne?: boolean;
  /** Shell-side, not the core: the shell releases a Ready's sends and applies before its persist is durable. */
  ackBeforePersist?: boolean;
  /** A learner's Accepted counts toward the phase-2 quorum that chooses a slot. */
  learnerCountsInQuorum?: boolean;
  /** A leader handing over leadership keeps leading (and its lease) after it sent timeoutNow. */
  transferKeepsLease?: boolean;
  /** A leader hands over (releasing its voters) before the lease it reported has run out. */
  transferSkipsLeaseDrain?: boolean;
  /** A leader starts and keeps a leader transfer to a target it has not heard from lately (liveness, not safety). */
  transferIgnoresSilence?: boolean;
  /**
   * The leader counts its own accept toward the phase-2 quorum when it makes it, not once it is
   * durable, while its Accepts still go out before its own persist (docs/paxos.md, "Accepts before
   * the leader's fsync"): a chosen prefix it announces may rest on a vote a crash loses.
   */
  ownAcceptCountsBeforeDurable?: boolean;
  /** A quiet follower never campaigns: it takes its leader for live whatever the shell's liveness says. */
  quietIgnoresLiveness?: boolean;
  /** A quiet leader keeps counting its lease as if its followers still voted (quiescence must let it lapse). */
  quietKeepsLease?: boolean;
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
  /** A leader that has not heard from a phase-2 quorum within the election timeout steps down. */
  checkQuorum: boolean;
  /**
   * Before raising its ballot, a replica that lost its leader asks whether a phase-1 quorum
   * would follow it (no live leader heard there). A replica cut off by a partition then never
   * raises its ballot, so after the heal it cannot depose a healthy leader (etcd raft's PreVote).
   */
  preVote: boolean;
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
  /**
   * Byte budget of one message body, measured by sizeBound (default MAX_PAXOS_MESSAGE_BYTES):
   * Accept batches, catch-up replies, promise suffixes and forwards are cut to fit, and a log
   * entry never holds more commands than fit in one message.
   */
  maxMessageBytes?: number;
  /** Largest command accepted by propose (default MAX_COMMAND_BYTES); must leave room in a message. */
  maxCommandBytes?: number;
  /** Phase-1 quorum size; default majority. */
  q1?: number;
  /** Phase-2 quorum size; default majority. q1 + q2 must exceed the group size. */
  q2?: number;
  /**
   * How long a lease vote lasts on the voter's clock (default electionTimeoutUs).
   * The leader's lease is shorter: timed from when it sent the request, and
   * shrunk by the drift bound.
   */
  leaseDurationUs?: number;
  /** Bound on any node's clock-rate error, in ppm (default 200, Spanner's 200 µs/s). */
  maxDriftPpm?: number;
  /**
   * Ask the shell for a state-machine snapshot every this many applied slots and
   * compact the log below it (default 0: never).
   */
  snapshotIntervalEntries?: number;
  /** Max characters per snapshot-transfer chunk (default 64 KiB). */
  snapshotChunkChars?: number;
  /**
   * Chunks sent per snapshot request (default 4): the receiver asks again after each run, so a
   * transfer moves this many chunks per round trip (one per round trip starves a slow link).
   */
  snapshotChunksPerRequest?: number;
  /**
   * A leader with no activity for this long, every follower caught up and live, stops
   * heartbeating once they all agree, and lets its lease lapse (docs/paxos.md, "Quiescent
   * groups"). Default 0: never. Needs the shell's PeerLiveness (ReplicaOptions.liveness).
   */
  quiesceAfterUs?: number;
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
  maxMessageBytes: number;
  maxCommandBytes: number;
  q1: number;
  q2: number;
  leaseDurationUs: number;
  maxDriftPpm: number;
  snapshotIntervalEntries: number;
  snapshotChunkChars: number;
  snapshotChunksPerRequest: number;
  quiesceAfterUs: number;
  features: LivenessFeatures;
  broken: BrokenForTesting;
}

export const DEFAULT_WINDOW = 64;
const DEFAULT_MAX_BATCH = 64;
const DEFAULT_MAX_ENTRIES_PER_MESSAGE = 128;
/** Bytes of a message body besides its entries (type, ballot, group, ids, counters). */
export const MESSAGE_FRAME_BYTES = 1024;

export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

function positiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`paxos config: ${name} must be a positive integer, got ${v}`);
}

/** Most learners of one configuration (the wire schema's bound on a config value's lists). */
export const MAX_LEARNERS = 64;

/**
 * Rejects a learner list that cannot be part of a configuration: an empty id, a duplicate, a
 * learner that also votes, or more than MAX_LEARNERS.
 */
export function validateLearners(peers: readonly string[], learners: readonly string[]): void {
  if (learners.length > MAX_LEARNERS) throw new Error(`paxos config: ${learners.length} learners, at most ${MAX_LEARNERS}`);
  if (new Set(learners).size !== learners.length) throw new Error('paxos config: duplicate learner ids');
  if (learners.some((p) => p === '')) throw new Error('paxos config: empty learner id');
  const both = learners.filter((l) => peers.includes(l));
  if (both.length > 0) throw new Error(`paxos config: ${both.join(',')} both vote and learn`);
}

/**
 * Rejects a membership that would be unsafe: empty, duplicate ids, quorums out
 * of range, or phase-1 and phase-2 quorums that need not intersect (q1 + q2 <= n).
 * Used for the initial configuration and for every reconfiguration.
 */
export function validateMembership(peers: readonly string[], q1: number, q2: number): void {
  const n = peers.length;
  if (n === 0) throw new Error('paxos config: peers is empty');
  if (new Set(peers).size !== n) throw new Error('paxos config: duplicate peer ids');
  if (peers.some((p) => p === '')) throw new Error('paxos config: empty peer id (the empty node id is ZERO_BALLOT)');
  positiveInt('q1', q1);
  positiveInt('q2', q2);
  if (q1 > n || q2 > n) throw new Error(`paxos config: quorums q1=${q1} q2=${q2} exceed group size ${n}`);
  if (q1 + q2 <= n) {
    throw new Error(`paxos config: quorum intersection requires q1 + q2 > n (q1=${q1}, q2=${q2}, n=${n})`);
  }
}

/**
 * Fills defaults and rejects configurations that would be unsafe or meaningless.
 * `self` need not be in `peers`: a replica joining the group by reconfiguration
 * starts outside it (it accepts and learns, but does not campaign).
 */
export function resolveConfig(c: ReplicaConfig): ResolvedConfig {
  const n = c.peers.length;
  if (c.self === '') throw new Error('paxos config: self must be non-empty (the empty node id is ZERO_BALLOT)');
  const q1 = c.q1 ?? majority(n);
  const q2 = c.q2 ?? majority(n);
  validateMembership(c.peers, q1, q2);
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
  const maxMessageBytes = c.maxMessageBytes ?? MAX_PAXOS_MESSAGE_BYTES;
  const maxCommandBytes = c.maxCommandBytes ?? Math.min(MAX_COMMAND_BYTES, maxMessageBytes - MESSAGE_FRAME_BYTES);
  positiveInt('maxMessageBytes', maxMessageBytes);
  positiveInt('maxCommandBytes', maxCommandBytes);
  if (maxCommandBytes + MESSAGE_FRAME_BYTES > maxMessageBytes) {
    throw new Error(`paxos config: maxCommandBytes (${maxCommandBytes}) + ${MESSAGE_FRAME_BYTES} framing must fit in maxMessageBytes (${maxMessageBytes})`);
  }
  const leaseDurationUs = c.leaseDurationUs ?? c.electionTimeoutUs;
  positiveInt('leaseDurationUs', leaseDurationUs);
  const maxDriftPpm = c.maxDriftPpm ?? 200;
  if (!Number.isInteger(maxDriftPpm) || maxDriftPpm < 0 || maxDriftPpm >= 500_000) {
    throw new Error(`paxos config: maxDriftPpm must be an integer in [0, 500000), got ${maxDriftPpm}`);
  }
  const snapshotIntervalEntries = c.snapshotIntervalEntries ?? 0;
  if (!Number.isInteger(snapshotIntervalEntries) || snapshotIntervalEntries < 0) {
    throw new Error('paxos config: snapshotIntervalEntries must be a non-negative integer');
  }
  const snapshotChunkChars = c.snapshotChunkChars ?? 64 * 1024;
  positiveInt('snapshotChunkChars', snapshotChunkChars);
  const snapshotChunksPerRequest = c.snapshotChunksPerRequest ?? 4;
  positiveInt('snapshotChunksPerRequest', snapshotChunksPerRequest);
  const quiesceAfterUs = c.quiesceAfterUs ?? 0;
  if (!Number.isInteger(quiesceAfterUs) || quiesceAfterUs < 0) throw new Error(`paxos config: quiesceAfterUs must be a non-negative integer, got ${quiesceAfterUs}`);
  return {
    group: c.group,
    self: c.self,
    peers: [...c.peers],
    heartbeatIntervalUs: c.heartbeatIntervalUs,
    electionTimeoutUs: c.electionTimeoutUs,
    window,
    maxBatch,
    maxEntriesPerMessage,
    maxMessageBytes,
    maxCommandBytes,
    q1,
    q2,
    leaseDurationUs,
    maxDriftPpm,
    snapshotIntervalEntries,
    snapshotChunkChars,
    snapshotChunksPerRequest,
    quiesceAfterUs,
    features: {
      randomizedTimeouts: c.features?.randomizedTimeouts ?? true,
      backoff: c.features?.backoff ?? true,
      leaderStickiness: c.features?.leaderStickiness ?? true,
      checkQuorum: c.features?.checkQuorum ?? true,
      preVote: c.features?.preVote ?? true,
    },
    broken: { ...c.brokenForTesting },
  };
}
