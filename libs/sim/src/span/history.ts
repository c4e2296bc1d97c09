import type { WriteOp } from '@synod/txn';

/**
 * What the span simulation records, all in TRUE virtual time (µs since the start of the run),
 * for the checkers in span-checkers.ts. Ground truth is the applied log: every commit some
 * replica applied, with its timestamp and transaction id (replicas must agree on it).
 */

/** One committed transaction of the ground truth (from the applied log). */
export interface GroundCommit {
  txn: string;
  split: string;
  ts: number;
  /** The slot it was applied at (first replica to apply it). */
  slot: number;
  writes: Array<{ key: string; value?: unknown; deleted?: boolean }>;
}

export type RwOutcome =
  /** The client was told: `via` 'reply' (the commit's answer) or 'status' (a status lookup after a TIMEOUT). */
  | { state: 'committed'; ts: number; atUs: number; via: 'reply' | 'status' }
  | { state: 'aborted'; atUs: number; via: 'reply' | 'status'; reason: string }
  /** The commit was sent but its outcome never became known to the client. */
  | { state: 'unknown' }
  /** No commit was ever sent (aborted while reading, deadline, wounded): nothing to check but its reads. */
  | { state: 'abandoned' };

/** One attempt of a read-write transaction, as its client saw it. */
export interface RwRecord {
  id: string;
  client: string;
  split: string;
  /** When the attempt's first request was sent. */
  invokeUs: number;
  /** What the reads under lock returned (value undefined: no version). */
  reads: Array<{ key: string; value: unknown }>;
  writes: WriteOp[];
  outcome: RwOutcome;
}

export type RoMode = 'strong' | 'snapshot' | 'stale';

/** One completed lock-free read (possibly over several splits, all at `ts`). */
export interface RoRecord {
  id: string;
  client: string;
  mode: RoMode;
  invokeUs: number;
  ackUs: number;
  ts: number;
  reads: Array<{ split: string; key: string; value: unknown }>;
}

/** A replica's t_safe as its core reported it at `atUs`. */
export interface TSafeSample {
  node: string;
  split: string;
  atUs: number;
  tSafe: number;
}

/** A status lookup's answer about a transaction. */
export interface StatusAnswer {
  txn: string;
  state: 'committed' | 'aborted';
  ts?: number | undefined;
  atUs: number;
}

export interface BankLayout {
  initial: number;
  /** split -> its account keys (an absent account holds `initial`). */
  accounts: Record<string, string[]>;
}

export interface SpanHistory {
  commits: GroundCommit[];
  rw: RwRecord[];
  ro: RoRecord[];
  tSafe: TSafeSample[];
  /** `${node}|${split}` -> commit ts -> when its versions first became durably visible there. */
  visible: Map<string, Map<number, number>>;
  status: StatusAnswer[];
  bank: BankLayout;
}

export function emptyHistory(bank: BankLayout): SpanHistory {
  return { commits: [], rw: [], ro: [], tSafe: [], visible: new Map(), status: [], bank };
}

export interface SpanViolation {
  checker: string;
  detail: string;
  atUs: number;
}
