import { SynodError, rangeMapBodySchema, type SplitEntry } from '@synod/codec';
import type { z } from 'zod';

/**
 * The range map (docs/placement.md): ordered splits covering the whole key space, each
 * replicated by one Paxos group with one voting replica per listed node, plus learners being
 * caught up. `end: ''` means "to the end of the key space". The entry shape is codec's
 * splitEntrySchema, so every process validates it the same way; the cross-field rules are here.
 * The static placement.json of `synod up` is a valid input (learners, leaderDc and the
 * per-split generation are optional).
 */
export const rangeMapSchema = rangeMapBodySchema.superRefine((m, ctx) => {
  const nodeIds = new Set(m.nodes.map((n) => n.id));
  if (nodeIds.size !== m.nodes.length) ctx.addIssue({ code: 'custom', path: ['nodes'], message: 'duplicate node id' });
  const dcs = new Set(m.nodes.map((n) => n.dc));
  const ids = new Set<string>();
  m.splits.forEach((s, i) => {
    if (ids.has(s.id)) ctx.addIssue({ code: 'custom', path: ['splits', i, 'id'], message: `duplicate split id ${s.id}` });
    ids.add(s.id);
    for (const r of [...s.replicas, ...s.learners]) if (!nodeIds.has(r)) ctx.addIssue({ code: 'custom', path: ['splits', i, 'replicas'], message: `unknown node ${r}` });
    if (new Set([...s.replicas, ...s.learners]).size !== s.replicas.length + s.learners.length)
      ctx.addIssue({ code: 'custom', path: ['splits', i, 'replicas'], message: 'a node may hold one replica of a split' });
    if (s.leaderDc !== undefined && !dcs.has(s.leaderDc)) ctx.addIssue({ code: 'custom', path: ['splits', i, 'leaderDc'], message: `unknown DC ${s.leaderDc}` });
    if (s.generation > m.generation) ctx.addIssue({ code: 'custom', path: ['splits', i, 'generation'], message: 'a split cannot be newer than its map' });
    const expectedStart = i === 0 ? '' : m.splits[i - 1]!.end;
    if (s.start !== expectedStart) ctx.addIssue({ code: 'custom', path: ['splits', i, 'start'], message: `splits must be ordered and contiguous: expected start ${JSON.stringify(expectedStart)}` });
    const last = i === m.splits.length - 1;
    if (last ? s.end !== '' : s.end <= s.start)
      ctx.addIssue({ code: 'custom', path: ['splits', i, 'end'], message: last ? "the last split must end at '' (the end of the key space)" : 'end must be above start' });
  });
});

export type RangeMapConfig = z.infer<typeof rangeMapSchema>;
export type RangeMapInput = z.input<typeof rangeMapSchema>;
export type Split = SplitEntry;

const invalid = (message: string, hint?: Record<string, string | number>) => new SynodError('INVALID_ARGUMENT', message, hint);

export class RangeMap {
  readonly generation: number;
  private readonly splits: Split[];
  private readonly dcOf: Map<string, string>;

  constructor(readonly config: RangeMapConfig) {
    this.generation = config.generation;
    this.splits = config.splits;
    this.dcOf = new Map(config.nodes.map((n) => [n.id, n.dc]));
  }

  static parse(raw: unknown): RangeMap {
    return new RangeMap(rangeMapSchema.parse(raw));
  }

  /** Like parse, but returns a readable error naming each bad field instead of throwing. */
  static safeParse(raw: unknown): { ok: true; map: RangeMap } | { ok: false; error: string } {
    const r = rangeMapSchema.safeParse(raw);
    if (r.success) return { ok: true, map: new RangeMap(r.data) };
    return { ok: false, error: r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') };
  }

  /**
   * A range map from JSON text (a placement file's: `synod up`'s placement.json, a placement
   * replica's --initial-map), or INVALID_ARGUMENT naming `source` and each bad field.
   */
  static fromJson(text: string, source: string): RangeMap {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new SynodError('INVALID_ARGUMENT', `${source} is not JSON: ${(err as Error).message}`);
    }
    const parsed = RangeMap.safeParse(raw);
    if (!parsed.ok) throw new SynodError('INVALID_ARGUMENT', `${source}: ${parsed.error}`);
    return parsed.map;
  }

  /** The split whose range holds `key` (binary search over the ordered starts). */
  splitFor(key: string): Split {
    let lo = 0;
    let hi = this.splits.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.splits[mid]!.start <= key) lo = mid;
      else hi = mid - 1;
    }
    return this.splits[lo]!;
  }

  split(id: string): Split | undefined {
    return this.splits.find((s) => s.id === id);
  }

  all(): readonly Split[] {
    return this.splits;
  }

  contains(split: Split, key: string): boolean {
    return key >= split.start && (split.end === '' || key < split.end);
  }

  dc(node: string): string | undefined {
    return this.dcOf.get(node);
  }

  nodes(): RangeMapConfig['nodes'] {
    return this.config.nodes;
  }

  /** Splits with a voting replica on `node` (learners are not serving replicas yet). */
  splitsOf(node: string): Split[] {
    return this.splits.filter((s) => s.replicas.includes(node));
  }

  /**
   * Cuts `splitId` at `atKey`: the split keeps [start, atKey) and `childId` takes [atKey, end)
   * with the same replicas, learners and leader DC (docs/placement.md, "Cut"). Both entries
   * carry the new generation.
   */
  cut(splitId: string, atKey: string, childId: string): RangeMap {
    const i = this.indexOf(splitId);
    const s = this.splits[i]!;
    if (this.split(childId)) throw invalid(`split ${childId} already exists`, { split: childId });
    if (!(atKey > s.start) || (s.end !== '' && !(atKey < s.end)))
      throw invalid(`cut key ${JSON.stringify(atKey)} is not strictly inside split ${splitId} [${JSON.stringify(s.start)}, ${JSON.stringify(s.end)})`, { split: splitId });
    const generation = this.generation + 1;
    const lower: Split = { ...s, end: atKey, generation };
    const upper: Split = { ...s, id: childId, start: atKey, generation };
    return this.next(generation, [...this.splits.slice(0, i), lower, upper, ...this.splits.slice(i + 1)]);
  }

  /** Replaces the voting replicas and learners of `splitId` (a finished move or repair). */
  setMembers(splitId: string, replicas: string[], learners: string[]): RangeMap {
    const i = this.indexOf(splitId);
    if (replicas.length === 0) throw invalid(`split ${splitId} needs at least one voting replica`, { split: splitId });
    const generation = this.generation + 1;
    return this.next(generation, this.splits.map((s, j) => (j === i ? { ...s, replicas: [...replicas], learners: [...learners], generation } : s)));
  }

  /** Sets the DC whose replica of `splitId` should lead. */
  setLeaderDc(splitId: string, dc: string): RangeMap {
    const i = this.indexOf(splitId);
    if (!this.config.nodes.some((n) => n.dc === dc)) throw invalid(`unknown DC ${dc}`, { dc });
    const generation = this.generation + 1;
    return this.next(generation, this.splits.map((s, j) => (j === i ? { ...s, leaderDc: dc, generation } : s)));
  }

  private indexOf(splitId: string): number {
    const i = this.splits.findIndex((s) => s.id === splitId);
    if (i < 0) throw invalid(`no split ${splitId}`, { split: splitId, generation: this.generation });
    return i;
  }

  /** Every transition goes through the full schema, so a map that breaks a rule never exists. */
  private next(generation: number, splits: Split[]): RangeMap {
    const r = RangeMap.safeParse({ generation, nodes: this.config.nodes, splits });
    if (!r.ok) throw invalid(`invalid range map transition: ${r.error}`.slice(0, 1000));
    return r.map;
  }

  /** A default map: `n` nodes, one per DC, and splits cut at the given keys, every split on every node. */
  static uniform(nodes: Array<{ id: string; dc: string }>, cuts: string[]): RangeMap {
    const bounds = ['', ...cuts, ''];
    const splits = cuts.length + 1;
    return RangeMap.parse({
      generation: 1,
      nodes,
      splits: Array.from({ length: splits }, (_, i) => ({ id: `s${i + 1}`, start: bounds[i]!, end: bounds[i + 1]!, replicas: nodes.map((n) => n.id) })),
    });
  }
}
