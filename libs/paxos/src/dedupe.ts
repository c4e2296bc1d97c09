/**
 * The applied-command-id set, kept bounded. Ids of the form `client:seq`
 * (seq a positive integer) are remembered per client as a floor (every seq
 * <= floor was applied) plus the applied seqs above it, so a client that uses
 * consecutive sequence numbers costs O(1) however long it runs. If a client
 * leaves more than MAX_ABOVE seqs applied above a gap, the floor jumps to
 * the lowest of them: a seq below the floor that never got applied is then
 * treated as applied (clients must not retry ids that old). Other ids are
 * kept verbatim (unbounded: use `client:seq` ids).
 *
 * Every replica applies the same entries in the same order, so every replica
 * makes the same decisions; the state travels in snapshots.
 */
export interface DedupeState {
  clients: Array<[client: string, floor: number, above: number[]]>;
  other: string[];
}

export const MAX_ABOVE = 1024;

function parseId(id: string): [string, number] | null {
  const i = id.lastIndexOf(':');
  if (i <= 0) return null;
  const s = id.slice(i + 1);
  if (!/^[1-9][0-9]{0,14}$/.test(s)) return null;
  return [id.slice(0, i), Number(s)];
}

export class Dedupe {
  /** Per client of `client:seq` ids: every seq <= floor applied, plus the applied seqs above it. */
  private readonly clients = new Map<string, { floor: number; above: Set<number> }>();
  /** Applied ids not of the form `client:seq`, kept verbatim. */
  private readonly other = new Set<string>();

  constructor(state?: DedupeState, ids?: Iterable<string>) {
    for (const [c, floor, above] of state?.clients ?? []) this.clients.set(c, { floor, above: new Set(above) });
    for (const id of state?.other ?? []) this.other.add(id);
    for (const id of ids ?? []) this.add(id);
  }

  has(id: string): boolean {
    const p = parseId(id);
    if (!p) return this.other.has(id);
    const c = this.clients.get(p[0]);
    return c !== undefined && (p[1] <= c.floor || c.above.has(p[1]));
  }

  add(id: string): void {
    const p = parseId(id);
    if (!p) {
      this.other.add(id);
      return;
    }
    let c = this.clients.get(p[0]);
    if (!c) this.clients.set(p[0], (c = { floor: 0, above: new Set() }));
    if (p[1] <= c.floor) return;
    c.above.add(p[1]);
    if (c.above.size > MAX_ABOVE) c.floor = Math.min(...c.above) - 1;
    while (c.above.has(c.floor + 1)) c.above.delete(++c.floor);
  }

  /** Number of remembered items (clients plus out-of-order seqs plus other ids): what the memory bound is about. */
  size(): number {
    let n = this.other.size;
    for (const c of this.clients.values()) n += 1 + c.above.size;
    return n;
  }

  export(): DedupeState {
    const clients: DedupeState['clients'] = [];
    for (const [id, c] of [...this.clients].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
      clients.push([id, c.floor, [...c.above].sort((a, b) => a - b)]);
    }
    return { clients, other: [...this.other].sort() };
  }
}
