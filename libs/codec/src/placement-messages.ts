import { z } from 'zod';
import { micros, slot, userKey } from './bounds.js';

/**
 * Messages of the placement service (docs/placement.md): the range map it serves, the load and
 * size reports spanservers send it, the admin requests of the CLI, and the operations it asks
 * split leaders and nodes to carry out. The range map's own shape lives here so that every
 * process validates it the same way; libs/placement adds the cross-field rules.
 */
export const nodeName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, at most 63');
const splitKey = z.string().max(1024);

/** One split of the range map. `end: ''` is the end of the key space. */
export const splitEntrySchema = z.object({
  id: nodeName,
  start: splitKey,
  end: splitKey,
  /** Voting replicas (one per listed node). */
  replicas: z.array(nodeName).min(1).max(9),
  /** Non-voting replicas being caught up before a reconfiguration swaps them in. */
  learners: z.array(nodeName).max(9).default([]),
  /** The DC whose replica should lead (the placement service transfers leadership there). */
  leaderDc: nodeName.optional(),
  /** The map generation at which this entry last changed. */
  generation: z.number().int().nonnegative().default(1),
  /** Phase-1 / phase-2 quorum sizes; majority when absent. */
  q1: z.number().int().positive().optional(),
  q2: z.number().int().positive().optional(),
});
export type SplitEntry = z.infer<typeof splitEntrySchema>;
export type SplitEntryInput = z.input<typeof splitEntrySchema>;

export const rangeMapBodySchema = z.object({
  generation: z.number().int().nonnegative().default(1),
  nodes: z.array(z.object({ id: nodeName, dc: nodeName })).min(1).max(1000),
  splits: z.array(splitEntrySchema).min(1).max(100_000),
});

/** Per-split load and size as one replica sees it (the leader's numbers are the ones used). */
export const splitReportSchema = z.object({
  id: nodeName,
  start: splitKey,
  end: splitKey,
  /** The split generation this replica serves under. */
  generation: z.number().int().nonnegative(),
  leader: z.boolean(),
  appliedIndex: slot,
  /** Approximate bytes of the newest versions of the split's keys, and their count. */
  sizeBytes: z.number().int().nonnegative().max(2 ** 50),
  keys: z.number().int().nonnegative().max(2 ** 50),
  /** Committed writes and served reads per second over the last report interval. */
  writesPerSec: z.number().nonnegative().max(1e9),
  readsPerSec: z.number().nonnegative().max(1e9),
  /** The key that splits the recent load in half (from sampled accesses), when there is one. */
  loadMedianKey: splitKey.optional(),
});
export type SplitReport = z.infer<typeof splitReportSchema>;

const opResult = z.object({
  split: nodeName,
  generation: z.number().int().nonnegative(),
  detail: z.record(z.string(), z.union([z.string(), z.number()])).default({}),
});

export const placementMessageSchemas = {
  /** Ask the placement service for the range map (subject `<c>.placement`, any replica answers). */
  'placement.get': z.object({ minGeneration: z.number().int().nonnegative().default(0) }),
  /** The range map, with the latest load and size the service has for each split. */
  'placement.map': z.object({
    map: rangeMapBodySchema,
    stats: z.array(splitReportSchema.extend({ node: nodeName })).max(100_000).default([]),
    /** The operation in progress, if any, for operators. */
    op: z.string().max(1024).optional(),
  }),
  /** A spanserver's periodic report of every split it hosts (one-way, to `<c>.placement`). */
  'placement.report': z.object({ node: nodeName, dc: nodeName, at: micros, splits: z.array(splitReportSchema).max(100_000) }),
  /** Operator requests (the CLI's `synod split/move/drain`), answered once the operation is logged. */
  'placement.admin': z.discriminatedUnion('op', [
    z.object({ op: z.literal('split'), key: userKey }),
    z.object({ op: z.literal('move'), split: nodeName, from: nodeName, to: nodeName }),
    z.object({ op: z.literal('drain'), node: nodeName }),
    z.object({ op: z.literal('lead'), split: nodeName, dc: nodeName }),
  ]),
  'placement.admin-ok': z.object({ opId: z.string().max(128), description: z.string().max(1024) }),
  /**
   * To a split's leader: cut the split at `atKey` (or, absent, at the leader's load median) by a
   * log entry of its own group; the upper half becomes split `child` at map generation
   * `generation`. Idempotent: a split already cut into `child` answers how it was cut.
   */
  'split.cut': z.object({ child: nodeName, generation: z.number().int().positive(), atKey: splitKey.min(1).optional() }),
  /** To a node: host a replica (a learner when listed in `learners`) of this split. Idempotent. */
  'split.host': z.object({ split: splitEntrySchema }),
  /** To a node: stop hosting the split and delete its local state. Idempotent. */
  'split.drop': z.object({ split: nodeName, generation: z.number().int().nonnegative() }),
  /**
   * To a split's leader: change the group's members to `replicas` (voters) and `learners`;
   * answered once the configuration is chosen. A learner is promoted only once caught up.
   */
  'split.reconfigure': z.object({
    replicas: z.array(nodeName).min(1).max(9),
    learners: z.array(nodeName).max(9).default([]),
    generation: z.number().int().positive(),
  }),
  /** To a split's leader: hand leadership to `to` (a voting replica); answered once `to` leads. */
  'split.transfer': z.object({ to: nodeName }),
  /** The answer to split.cut / split.host / split.drop / split.reconfigure / split.transfer. */
  'split.op-done': opResult,
} as const;
