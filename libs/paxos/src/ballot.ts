/** A Paxos ballot: ordered by `round`, ties broken by `node` (string order). */
export interface Ballot {
  round: number;
  node: string;
}

/** Lower than every real ballot: a fresh acceptor has promised nothing. */
export const ZERO_BALLOT: Ballot = Object.freeze({ round: 0, node: '' });

export function compareBallot(a: Ballot, b: Ballot): number {
  if (a.round !== b.round) return a.round < b.round ? -1 : 1;
  if (a.node === b.node) return 0;
  return a.node < b.node ? -1 : 1;
}

export function ballotEquals(a: Ballot, b: Ballot): boolean {
  return a.round === b.round && a.node === b.node;
}

export function formatBallot(b: Ballot): string {
  return `${b.round}.${b.node}`;
}
