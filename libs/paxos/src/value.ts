import type { Ballot } from './ballot.js';

/**
 * One client command. `id` is the client's command id (`clientId:seq`); a
 * retried command keeps its id, which is what makes application exactly-once.
 */
export interface Command {
  id: string;
  payload: unknown;
}

/**
 * A membership change: the group's replicas and quorum sizes from slot
 * `i + window` on, where `i` is the slot that holds this value (DESIGN §4).
 */
export interface ConfigValue {
  kind: 'config';
  /** The voters: only they count in quorums and campaign. */
  peers: string[];
  q1: number;
  q2: number;
  /**
   * Non-voting learners (docs/paxos.md "Learners and leader transfer"): sent everything a voter
   * is, counted in no quorum. Absent means none; it is left out rather than `[]` when empty, so
   * values from before learners existed compare equal byte for byte.
   */
  learners?: string[];
}

/** What a slot can hold. No-ops fill holes left by a previous leader. */
export type Value = { kind: 'noop' } | { kind: 'batch'; cmds: Command[] } | ConfigValue;

export const NOOP: Value = Object.freeze({ kind: 'noop' }) as Value;

/** A slot's value as an acceptor holds it: this is what gets persisted. */
export interface AcceptedEntry {
  slot: number;
  ballot: Ballot;
  value: Value;
}

export interface SlotValue {
  slot: number;
  value: Value;
}

/** Structural equality independent of object key order (values cross the wire). */
export function valuesEqual(a: Value, b: Value): boolean {
  return a === b || canonicalJson(a) === canonicalJson(b);
}

export function canonicalJson(x: unknown): string {
  if (x === null || typeof x !== 'object') return JSON.stringify(x) ?? 'undefined';
  if (Array.isArray(x)) return `[${x.map(canonicalJson).join(',')}]`;
  const obj = x as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}
