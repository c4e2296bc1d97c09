import type { WriteOp } from '@synod/txn';

/**
 * What the span simulation records, all in TRUE virtual time (µs since the start of the run),
 * for the checkers in span-checkers.ts. Ground truth is the applied log: every commit some
 * replica applied, with its timestamp and transaction id (replicas must agree on it).
 */

/**
 * One split's application of a committed transaction (from the applied log). A single-split
 * transaction has one; a cross-split one has the coordinator's commit record (`kind` 'commit',
 * with its `participants`) and one 'decide' per participant that applied it: the ground truth of
 * its outcome is the coordinator's.
 */
export interface GroundCommit {
  txn: string;
  split: string;
  ts: number;
  /** The slot it was applied at (first replica to apply it). */
  slot: number;
  writes: Array<{ key: string; value?: unknown; deleted?: boolean }>;
  /** The log command that applied it: a commit record (single-split, or a 2PC coordinator's), or a 2PC participant's decide. */
  kind?: 'commit' | 'decide' | undefined;
  /** A coordinator's commit record: the other splits of the transaction. */
  participants?: string[] | undefined;
}

/** A transaction decided aborted in a split's log (a refused commit record, a logged abort, a participant's abort decide). */
export interface GroundAbort {
  txn: string;
  split: string;
  slot: number;
  kind: 'commit' | 'decide' | 'abort' | 'other';
  /** A refused coordinator commit record: the splits it named. */
  participants?: string[] | undefined;
  reason: string;
}

/** A 2PC participant's prepare record, applied in its split's log. */
export interface GroundPrepare {
  txn: string;
  split: string;
  ts: number;
  coordinator: string;
  slot: number;
  /** True time its slot was first applied by a replica. */
  atUs: number;
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
  /** The split its commit went to (a cross-split transaction's coordinator): the one its outcome is looked up at. */
  split: string;
  /** A cross-split transaction: the other splits it read and wrote (each sent a prepare). */
  participants?: string[] | undefined;
  /** When the attempt's first request was sent. */
  invokeUs: number;
  /** What the reads under lock returned (value undefined: no version), at every split. */
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
  /**
   * A strong read of one split that said so (`soleSplit`): the server may run it at its leader's
   * last commit, below timestamps acknowledged elsewhere (docs/transactions.md, rule 9a), so
   * realTimeOrder orders it by what it read rather than by its timestamp.
   */
  soleSplit?: boolean | undefined;
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
  /**
   * split -> its account keys (an absent account holds `initial`). Transfers move money between
   * splits: only the total over every split's accounts is conserved.
   */
  accounts: Record<string, string[]>;
}

/** What one replica of a split holds at the end of a run (core.twoPhaseState()): the liveness check's input. */
export interface TwoPhaseEndState {
  node: string;
  split: string;
  locksHeld: number;
  prepared: Array<{ txn: string; ts: number; coordinator: string }>;
  coordinating: number;
}

export interface SpanHistory {
  commits: GroundCommit[];
  /** Aborts decided in the logs (ground truth of the decided-aborted side). */
  aborts: GroundAbort[];
  prepares: GroundPrepare[];
  rw: RwRecord[];
  ro: RoRecord[];
  tSafe: TSafeSample[];
  /** `${node}|${split}` -> commit ts -> when its versions first became durably visible there. */
  visible: Map<string, Map<number, number>>;
  status: StatusAnswer[];
  bank: BankLayout;
  /**
   * Liveness after the heal: when every fault was healed, how long the run then waited (at most)
   * for 2PC to settle, and what every up replica held at the end (absent: not checked).
   */
  end?: { healUs: number; atUs: number; boundUs: number; states: TwoPhaseEndState[] } | undefined;
}

export function emptyHistory(bank: BankLayout): SpanHistory {
  return { commits: [], aborts: [], prepares: [], rw: [], ro: [], tSafe: [], visible: new Map(), status: [], bank };
}

export interface SpanViolation {
  checker: string;
  detail: string;
  atUs: number;
}
