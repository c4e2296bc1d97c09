import type { Ballot } from './types.js';

/** Negative if a < b, zero if equal, positive if a > b (round first, then node id). */
export function compareBallots(a: Ballot, b: Ballot): number {
  if (a.round !== b.round) return a.round < b.round ? -1 : 1;
  if (a.node === b.node) return 0;
  return a.node < b.node ? -1 : 1;
}

export function isBallot(x: unknown): x is Ballot {
  if (typeof x !== 'object' || x === null) return false;
  const b = x as Record<string, unknown>;
  return Number.isSafeInteger(b['round']) && (b['round'] as number) >= 0 && typeof b['node'] === 'string';
}
