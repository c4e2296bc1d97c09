import type { BrokenForTesting, LivenessFeatures } from '@synod/paxos';
import type { NetworkFaults } from './network.js';

export type FaultMode = 'none' | 'light' | 'heavy';
export const FAULT_MODES: readonly FaultMode[] = ['none', 'light', 'heavy'];

/** Deliberately broken replicas the checkers must catch (see BrokenForTesting in @synod/paxos). */
export const BROKEN_VARIANTS = {
  'ignore-promise-values': { ignorePromiseValues: true },
  'forget-promise': { forgetPromiseOnRestart: true },
  'forget-acceptor-ballots': { forgetPromiseOnRestart: true, forgetAcceptedBallotsOnRestart: true },
  'learn-without-ballot-match': { learnWithoutBallotMatch: true },
  'lease-from-receipt': { leaseFromReceipt: true },
  'lease-ignores-drift': { leaseIgnoresDrift: true },
  'acceptor-ignores-lease': { acceptorIgnoresLease: true },
  'reads-without-lease': { readsWithoutLease: true },
  'snapshot-off-by-one': { snapshotOffByOne: true },
  'ack-before-persist': { ackBeforePersist: true },
  'learner-counts-in-quorum': { learnerCountsInQuorum: true },
  'transfer-keeps-lease': { transferKeepsLease: true },
  'transfer-skips-lease-drain': { transferSkipsLeaseDrain: true },
  'own-accept-counts-early': { ownAcceptCountsBeforeDurable: true },
  'quiet-keeps-lease': { quietKeepsLease: true },
} as const satisfies Record<string, BrokenForTesting>;
export type BrokenVariant = keyof typeof BROKEN_VARIANTS;

export const DATACENTERS = ['dc-a', 'dc-b', 'dc-c', 'dc-d', 'dc-e'] as const;

export interface SimOptions {
  seed: number;
  replicas: 3 | 5;
  groups: number;
  faults: FaultMode;
  broken?: BrokenVariant | undefined;
  /** Keep trace lines (the hash is always computed). */
  trace: boolean;
  clientsPerGroup: number;
  /** Faults are injected in [0, faultPhaseUs); then everything heals. */
  faultPhaseUs: number;
  /** After healing, every pending proposal must be applied everywhere within this. */
  livenessBoundUs: number;
  checkLiveness: boolean;
  heartbeatIntervalUs: number;
  electionTimeoutUs: number;
  window: number;
  maxBatch: number;
  features: Partial<LivenessFeatures>;
  tickUs: number;
  tickPhaseJitter: boolean;
  /** Every cross-DC one-way latency (default: drawn per DC pair from 1..20 ms). */
  fixedLatencyUs?: number | undefined;
  /** Nodes (by DC) crashed from the start and never restarted. */
  permanentlyDown: string[];
  clientTimeoutUs: number;
  /** Overrides the fault mode's network behaviour, during and after the fault phase. */
  networkFaults?: Partial<NetworkFaults> | undefined;
  /** Per-node clock-rate error bound (ppm): every node's clock runs at a rate in [1-d, 1+d]; replicas are configured with the same bound. */
  maxDriftPpm: number;
  /** Lease vote duration (default: the election timeout). */
  leaseDurationUs?: number | undefined;
  /** Fraction of client operations that are lease reads. */
  readRatio: number;
  /** Replicas snapshot and compact every this many slots (0: never). */
  snapshotIntervalEntries: number;
  snapshotChunkChars: number;
  /** Initial members per group (the first ones by DC); the other nodes are spares. Default: all. */
  members?: number | undefined;
  /** Initial quorum sizes (default majorities). */
  q1?: number | undefined;
  q2?: number | undefined;
  /** The nemesis also changes membership: replaces (crashed) members with spares, adds and removes. */
  reconfig: boolean;
  /**
   * The nemesis also stalls disks: for a while every fsync of one node (a leader's, mostly)
   * takes longer than a round trip to its followers, so followers' votes arrive before the
   * leader's own is durable (docs/paxos.md, "Accepts before the leader's fsync").
   */
  slowDisks: boolean;
  /** Stop the run once every group has this many chosen slots (long runs); 0: run the phases. */
  targetChosen: number;
  clientThinkMaxUs: number;
  /** Sample every replica's log length and memory every this often (0: never). */
  footprintSampleUs: number;
  /**
   * Byte budget of a Paxos message body: the replicas' maxMessageBytes, and what the simulated
   * network carries at most (it fails the run on a larger one, as NATS refuses a payload over
   * max_payload).
   */
  maxMessageBytes: number;
  /** What the simulated network carries at most (default maxMessageBytes); only teeth tests set it lower. */
  networkMaxMessageBytes?: number | undefined;
  /** Client writes carry 0..padMaxBytes of padding (0: none), so the budgets bind. */
  padMaxBytes: number;
  /**
   * Quiescent groups (docs/paxos.md, "Quiescent groups"): the replicas' quiesceAfterUs (0: off);
   * the nodes then beat to each other every heartbeat and give the replicas node liveness.
   */
  quiesceAfterUs: number;
  /** Clients issue nothing for lullUs at the start of every lullEveryUs (0: never), so groups go idle. */
  lullEveryUs: number;
  lullUs: number;
}

export const DEFAULT_SIM_OPTIONS: Omit<SimOptions, 'seed'> = {
  replicas: 3,
  groups: 2,
  faults: 'heavy',
  trace: false,
  clientsPerGroup: 3,
  faultPhaseUs: 5_000_000,
  livenessBoundUs: 5_000_000,
  checkLiveness: true,
  heartbeatIntervalUs: 20_000,
  electionTimeoutUs: 100_000,
  window: 16,
  maxBatch: 8,
  features: {},
  tickUs: 5_000,
  tickPhaseJitter: true,
  permanentlyDown: [],
  clientTimeoutUs: 150_000,
  maxDriftPpm: 10_000,
  readRatio: 0.25,
  snapshotIntervalEntries: 0,
  snapshotChunkChars: 256,
  reconfig: false,
  slowDisks: false,
  targetChosen: 0,
  clientThinkMaxUs: 10_000,
  footprintSampleUs: 0,
  maxMessageBytes: 16 * 1024,
  padMaxBytes: 0,
  quiesceAfterUs: 0,
  lullEveryUs: 0,
  lullUs: 0,
};

/** What `--quiesce` adds: groups quiet after 150 ms idle, and clients pause for 800 ms of every 1.5 s. */
export const QUIESCE_OPTIONS: Partial<SimOptions> = { quiesceAfterUs: 150_000, lullEveryUs: 1_500_000, lullUs: 800_000 };

/** `span`: the transaction core on several splits and nodes (span/simulation.ts); `placement`: the same with cuts, moves and leader transfers (span/placement-simulation.ts); each with its own options and checkers. */
export const SCENARIOS = ['basic', 'production', 'span', 'placement'] as const;
export type Scenario = (typeof SCENARIOS)[number];

/**
 * `production`: commands padded up to 3 KB against an 8 KiB message budget, compaction every 16 slots with snapshot transfer in small chunks, a spare
 * node per group for membership changes (the nemesis replaces crashed members, adds and
 * removes, adds learners and promotes them, and transfers leadership), flexible quorums drawn
 * per seed, lease reads, on top of the usual faults.
 */
export function scenarioOptions(scenario: Scenario, seed: number): Partial<SimOptions> {
  if (scenario !== 'production') return {};
  // Seed-dependent shape: 3 members of 4 nodes, 3 of 5, or 4 of 5 with flexible quorums.
  const shapes: Array<Partial<SimOptions>> = [
    { replicas: 5, members: 3 },
    { replicas: 5, members: 3, q1: 3, q2: 2 },
    { replicas: 5, members: 4, q1: 2, q2: 3 },
    { replicas: 5, members: 4, q1: 3, q2: 2 },
    { replicas: 5, members: 5, q1: 4, q2: 2 },
    // q2 = 1: a single durable accept chooses, so acknowledging before persisting loses data.
    { replicas: 5, members: 3, q1: 3, q2: 1 },
  ];
  return {
    snapshotIntervalEntries: 16,
    snapshotChunkChars: 200,
    reconfig: true,
    // Commands up to 3 KB against 8 KiB messages: batches, catch-up and promises are cut by bytes.
    maxMessageBytes: 8 * 1024,
    padMaxBytes: 3_000,
    ...shapes[seed % shapes.length],
  };
}

export function simOptions(o: Partial<SimOptions> & { seed: number }): SimOptions {
  return { ...DEFAULT_SIM_OPTIONS, ...o };
}

export function nodeIdForDc(dc: string): string {
  return `node-${dc.slice(3)}`;
}
