import type { Ballot } from '@synod/paxos';

/** Runtime check of a ballot handed to storage (the core's `Ballot` type, validated before it is written). */
export function isBallot(x: unknown): x is Ballot {
  if (typeof x !== 'object' || x === null) return false;
  const b = x as Record<string, unknown>;
  return Number.isSafeInteger(b['round']) && (b['round'] as number) >= 0 && typeof b['node'] === 'string';
}
