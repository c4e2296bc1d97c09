import { z } from 'zod';
import { splitEntrySchema, type SplitEntry } from '@synod/codec';
import type { RangeMap } from '@synod/placement';

/**
 * The split entries a node hosts (docs/spanserver.md, "Cutting a split"): persisted in the
 * `node-meta` record `hosted-splits`, written in the same LMDB transaction as the cut that
 * creates a child, or with a `split.host` / `split.drop`. At start-up the node hosts the union of
 * this record and the static range map, the persisted entry winning by generation; a split
 * dropped here is not taken back from the map unless the map's generation is newer.
 */
const MAX_DROPPED = 1_000;

const recordSchema = z.object({
  splits: z.array(splitEntrySchema).max(100_000),
  dropped: z.array(z.object({ id: z.string().max(63), generation: z.number().int().nonnegative() })).max(MAX_DROPPED),
});
export type HostedRecord = z.infer<typeof recordSchema>;

export class HostedSplits {
  private readonly entries = new Map<string, SplitEntry>();
  private dropped: HostedRecord['dropped'] = [];

  /** The persisted record (validated: a malformed one is a broken invariant) merged with the map's splits of `node`. */
  static load(persisted: unknown, rangeMap: RangeMap, node: string): HostedSplits {
    const h = new HostedSplits();
    const rec = persisted === undefined ? { splits: [], dropped: [] } : recordSchema.parse(persisted);
    h.dropped = rec.dropped;
    for (const s of rangeMap.splitsOf(node)) {
      const gone = rec.dropped.find((d) => d.id === s.id);
      if (gone && gone.generation >= rangeMap.generation) continue;
      h.entries.set(s.id, splitEntrySchema.parse({ ...s, generation: rangeMap.generation }));
    }
    for (const e of rec.splits) {
      const known = h.entries.get(e.id);
      if (!known || e.generation >= known.generation) h.entries.set(e.id, e);
    }
    return h;
  }

  get(id: string): SplitEntry | undefined {
    return this.entries.get(id);
  }

  all(): SplitEntry[] {
    return [...this.entries.values()];
  }

  set(e: SplitEntry): void {
    this.entries.set(e.id, e);
    this.dropped = this.dropped.filter((d) => d.id !== e.id);
  }

  drop(id: string, generation: number): void {
    this.entries.delete(id);
    this.dropped = [...this.dropped.filter((d) => d.id !== id), { id, generation }].slice(-MAX_DROPPED);
  }

  /** Whether any hosted split other than `id` overlaps `[start, end)` (its MVCC rows are then kept on a drop). */
  overlapsOther(id: string, range: { start: string; end: string }): boolean {
    return this.all().some((e) => e.id !== id && (range.end === '' || e.start < range.end) && (e.end === '' || range.start < e.end));
  }

  record(): HostedRecord {
    return { splits: this.all(), dropped: this.dropped };
  }
}
