import { z } from 'zod';

const name = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, at most 63');

/**
 * The static range map (until the placement service exists): ordered splits covering the whole
 * key space, each replicated by one Paxos group with one replica per listed node.
 * `end: ''` means "to the end of the key space".
 */
export const rangeMapSchema = z
  .object({
    generation: z.number().int().nonnegative().default(1),
    nodes: z.array(z.object({ id: name, dc: name })).min(1).max(1000),
    splits: z
      .array(
        z.object({
          id: name,
          start: z.string().max(1024),
          end: z.string().max(1024),
          replicas: z.array(name).min(1).max(9),
          /** Phase-1 / phase-2 quorum sizes; majority when absent. */
          q1: z.number().int().positive().optional(),
          q2: z.number().int().positive().optional(),
        }),
      )
      .min(1)
      .max(100_000),
  })
  .superRefine((m, ctx) => {
    const nodeIds = new Set(m.nodes.map((n) => n.id));
    if (nodeIds.size !== m.nodes.length) ctx.addIssue({ code: 'custom', path: ['nodes'], message: 'duplicate node id' });
    const ids = new Set<string>();
    m.splits.forEach((s, i) => {
      if (ids.has(s.id)) ctx.addIssue({ code: 'custom', path: ['splits', i, 'id'], message: `duplicate split id ${s.id}` });
      ids.add(s.id);
      for (const r of s.replicas) if (!nodeIds.has(r)) ctx.addIssue({ code: 'custom', path: ['splits', i, 'replicas'], message: `unknown node ${r}` });
      if (new Set(s.replicas).size !== s.replicas.length) ctx.addIssue({ code: 'custom', path: ['splits', i, 'replicas'], message: 'a node may hold one replica of a split' });
      const expectedStart = i === 0 ? '' : m.splits[i - 1]!.end;
      if (s.start !== expectedStart) ctx.addIssue({ code: 'custom', path: ['splits', i, 'start'], message: `splits must be ordered and contiguous: expected start ${JSON.stringify(expectedStart)}` });
      const last = i === m.splits.length - 1;
      if (last ? s.end !== '' : s.end <= s.start)
        ctx.addIssue({ code: 'custom', path: ['splits', i, 'end'], message: last ? "the last split must end at '' (the end of the key space)" : 'end must be above start' });
    });
  });

export type RangeMapConfig = z.infer<typeof rangeMapSchema>;
export type Split = RangeMapConfig['splits'][number];

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

  splitsOf(node: string): Split[] {
    return this.splits.filter((s) => s.replicas.includes(node));
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
