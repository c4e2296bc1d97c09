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
};

export function simOptions(o: Partial<SimOptions> & { seed: number }): SimOptions {
  return { ...DEFAULT_SIM_OPTIONS, ...o };
}

export function nodeIdForDc(dc: string): string {
  return `node-${dc.slice(3)}`;
}
