import type { ClientRouter } from './client.js';

/**
 * The range map of the placement scenario (docs/placement-sim.md): splits with their key range,
 * replicas and generation. `version` increases with every change, as the design's map
 * generation; a split's `generation` is the one its last cut gave it (what its core reports).
 */
export interface RangeEntry {
  split: string;
  start: string;
  end: string;
  generation: number;
  /** The voters of the split's Paxos group. */
  replicas: string[];
  /** The group's configuration at slot 0 (a new replica's Paxos starts from it and learns the rest from the log). */
  initialPeers: string[];
  /** The range at slot 0 (a new replica's core starts from it: the log's cuts shrink it). */
  initialStart: string;
  initialEnd: string;
  /** A split that was never cut off another: its log holds every version of its keys (a move can catch up by log alone). */
  root: boolean;
}

export const inRange = (key: string, e: { start: string; end: string }): boolean => key >= e.start && (e.end === '' || key < e.end);

export class RangeMap {
  version = 0;
  private readonly byStart: RangeEntry[];

  constructor(initial: ReadonlyArray<{ id: string; start: string; end: string }>, replicas: readonly string[]) {
    this.byStart = initial.map((s) => ({ split: s.id, start: s.start, end: s.end, generation: 0, replicas: [...replicas], initialPeers: [...replicas], initialStart: s.start, initialEnd: s.end, root: true }));
  }

  entries(): RangeEntry[] {
    return this.byStart.map((e) => ({ ...e, replicas: [...e.replicas], initialPeers: [...e.initialPeers] }));
  }

  get(split: string): RangeEntry | undefined {
    return this.byStart.find((e) => e.split === split);
  }

  /** The cut `split` made (its core answered it): `[atKey, end)` becomes `child` on the same replicas. */
  cut(split: string, child: string, atKey: string, generation: number): void {
    const i = this.byStart.findIndex((e) => e.split === split);
    const p = this.byStart[i]!;
    const c: RangeEntry = { split: child, start: atKey, end: p.end, generation, replicas: [...p.replicas], initialPeers: [...p.replicas], initialStart: atKey, initialEnd: p.end, root: false };
    p.end = atKey;
    p.generation = generation;
    this.byStart.splice(i + 1, 0, c);
    this.version = Math.max(this.version + 1, generation);
  }

  setReplicas(split: string, replicas: readonly string[]): void {
    this.get(split)!.replicas = [...replicas];
    this.version++;
  }
}

/** A client's own copy of the map: routes by it, re-reads the placement service's on KEY_OUT_OF_RANGE. */
export class CachedMap implements ClientRouter {
  private entries: RangeEntry[];
  refreshes = 0;

  constructor(private readonly source: RangeMap) {
    this.entries = source.entries();
  }

  splitOf(key: string): string {
    return (this.entries.find((e) => inRange(key, e)) ?? this.entries[0]!).split;
  }

  replicasOf(split: string): readonly string[] {
    return this.entries.find((e) => e.split === split)?.replicas ?? [];
  }

  refresh(): void {
    this.refreshes++;
    this.entries = this.source.entries();
  }
}
