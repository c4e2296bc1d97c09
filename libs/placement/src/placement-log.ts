import { z } from 'zod';
import { SynodError, nodeName, rangeMapBodySchema } from '@synod/codec';
import { opSchema, type Op } from './ops.js';
import { RangeMap, type RangeMapConfig } from './range-map.js';

/** Bounds of the placement group's state (docs/placement.md, "The log"). */
export const LOG_LIMITS = { queuedOps: 64, history: 32, stepsPerOp: 16, drainingNodes: 1000 } as const;

/** Microseconds of the proposing leader's monotonic clock (only compared with later readings). */
const micros = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const opId = z.string().min(1).max(128);
const stepName = z.string().min(1).max(64);
const detail = z.record(z.string(), z.union([z.string(), z.number()])).default({});

/**
 * The commands of the placement group's log. Every one is conditional on the state it expects
 * (the current op, a step not yet done), so a command proposed twice, or by a deposed leader
 * that had not seen the newest entries, applies at most once and identically on every replica.
 */
export const placementCommandSchema = z.discriminatedUnion('type', [
  /**
   * Changes nothing. A new leader proposes one and acts only once it is applied here: every entry
   * an earlier leader got chosen is then applied too, so the executor reads all the logged steps.
   */
  z.object({ type: z.literal('leader.barrier'), node: nodeName }),
  /** The initial map (from --initial-map); applies only while the group has none. */
  z.object({ type: z.literal('map.seed'), map: rangeMapBodySchema }),
  /** An operator's op, executed after the current one. */
  z.object({ type: z.literal('op.enqueue'), opId, op: opSchema }),
  z.object({ type: z.literal('node.drain'), node: nodeName, draining: z.boolean() }),
  z.object({ type: z.literal('op.begin'), opId, op: opSchema, at: micros }),
  z.object({ type: z.literal('op.step'), opId, step: stepName, detail }),
  z.object({ type: z.literal('map.cut'), opId, split: nodeName, atKey: z.string().min(1).max(1024), child: nodeName }),
  z.object({ type: z.literal('map.members'), opId, split: nodeName, replicas: z.array(nodeName).min(1).max(9), learners: z.array(nodeName).max(9) }),
  z.object({ type: z.literal('map.leader-dc'), opId, split: nodeName, dc: nodeName }),
  z.object({ type: z.literal('op.end'), opId, outcome: z.enum(['done', 'failed']), reason: z.string().max(1024).default(''), at: micros }),
]);
export type PlacementCommand = z.infer<typeof placementCommandSchema>;
export type PlacementCommandInput = z.input<typeof placementCommandSchema>;

/** The step a map command records in its op, so the executor sees it done. */
export const MAP_STEP = 'map';

const loggedStep = z.object({ step: stepName, detail });
const currentOpSchema = z.object({ opId, op: opSchema, startedAt: micros, steps: z.array(loggedStep).max(LOG_LIMITS.stepsPerOp) });
export type CurrentOp = z.infer<typeof currentOpSchema>;

const stateSchema = z.object({
  map: rangeMapBodySchema.nullable(),
  current: currentOpSchema.nullable(),
  queue: z.array(z.object({ opId, op: opSchema })).max(LOG_LIMITS.queuedOps),
  draining: z.array(nodeName).max(LOG_LIMITS.drainingNodes),
  /** When an op on each split last ended (the planner's cooldown). */
  lastChangedAt: z.record(z.string(), micros),
  history: z.array(z.object({ opId, op: opSchema, outcome: z.enum(['done', 'failed']), reason: z.string().max(1024), at: micros })).max(LOG_LIMITS.history),
});
export type PlacementState = z.infer<typeof stateSchema>;

const snapshotSchema = z.object({ version: z.literal(1), state: stateSchema });

export type ApplyResult = { applied: true } | { applied: false; reason: string };
const skip = (reason: string): ApplyResult => ({ applied: false, reason });
const OK: ApplyResult = { applied: true };

/**
 * The placement group's replicated state machine: the range map, the op in progress with the
 * steps it has finished, the operators' queue, and the nodes being drained (docs/placement.md).
 * Deterministic: the same commands in the same order give the same state on every replica.
 */
export class PlacementLog {
  private s: PlacementState = { map: null, current: null, queue: [], draining: [], lastChangedAt: {}, history: [] };
  private cachedMap: RangeMap | null = null;

  get state(): Readonly<PlacementState> {
    return this.s;
  }

  /** The applied range map, or null before the seed. */
  map(): RangeMap | null {
    if (this.s.map && (!this.cachedMap || this.cachedMap.config !== this.s.map)) this.cachedMap = new RangeMap(this.s.map as RangeMapConfig);
    return this.s.map ? this.cachedMap : null;
  }

  current(): CurrentOp | null {
    return this.s.current;
  }

  /**
   * Applies one command. Raw payloads from the log are validated; one that fails validation
   * was not written by a placement service of this version, and is skipped identically everywhere.
   */
  apply(raw: unknown): ApplyResult {
    const parsed = placementCommandSchema.safeParse(raw);
    if (!parsed.success) return skip(`malformed command: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    const c = parsed.data;
    const s = this.s;
    if (c.type === 'leader.barrier') return OK;
    if (c.type === 'map.seed') {
      if (s.map) return skip('the map is already seeded');
      const r = RangeMap.safeParse(c.map);
      if (!r.ok) return skip(`invalid seed map: ${r.error}`);
      s.map = r.map.config;
      return OK;
    }
    if (!s.map) return skip('no map yet');
    switch (c.type) {
      case 'op.enqueue':
        if (s.queue.some((q) => q.opId === c.opId) || s.current?.opId === c.opId) return skip(`op ${c.opId} already known`);
        if (s.queue.length >= LOG_LIMITS.queuedOps) return skip('the op queue is full');
        s.queue.push({ opId: c.opId, op: c.op });
        return OK;
      case 'node.drain': {
        const has = s.draining.includes(c.node);
        if (c.draining === has) return skip(`node ${c.node} is ${has ? 'already' : 'not'} draining`);
        if (c.draining && s.draining.length >= LOG_LIMITS.drainingNodes) return skip('too many draining nodes');
        s.draining = c.draining ? [...s.draining, c.node].sort() : s.draining.filter((n) => n !== c.node);
        return OK;
      }
      case 'op.begin':
        if (s.current) return skip(`op ${s.current.opId} is in progress`);
        if (s.history.some((h) => h.opId === c.opId)) return skip(`op ${c.opId} already ended`);
        s.queue = s.queue.filter((q) => q.opId !== c.opId);
        s.current = { opId: c.opId, op: c.op, startedAt: c.at, steps: [] };
        return OK;
      case 'op.step':
        return this.recordStep(c.opId, c.step, c.detail);
      case 'map.cut':
      case 'map.members':
      case 'map.leader-dc':
        return this.applyMapChange(c);
      case 'op.end': {
        const cur = s.current;
        if (!cur || cur.opId !== c.opId) return skip(`op ${c.opId} is not in progress`);
        this.end(cur, c.outcome, c.reason, c.at);
        return OK;
      }
    }
  }

  private recordStep(id: string, step: string, d: Record<string, string | number>): ApplyResult {
    const cur = this.s.current;
    if (!cur || cur.opId !== id) return skip(`op ${id} is not in progress`);
    if (cur.steps.some((x) => x.step === step)) return skip(`step ${step} of ${id} already done`);
    // An op has a handful of steps; more means a runaway executor, and the op is failed rather than grown.
    if (cur.steps.length >= LOG_LIMITS.stepsPerOp) {
      this.end(cur, 'failed', `more than ${LOG_LIMITS.stepsPerOp} steps`, cur.startedAt);
      return skip('too many steps');
    }
    cur.steps.push({ step, detail: d });
    return OK;
  }

  private applyMapChange(c: Extract<PlacementCommand, { type: 'map.cut' | 'map.members' | 'map.leader-dc' }>): ApplyResult {
    const cur = this.s.current;
    if (!cur || cur.opId !== c.opId) return skip(`op ${c.opId} is not in progress`);
    if (cur.steps.some((x) => x.step === MAP_STEP)) return skip(`the map step of ${c.opId} is already done`);
    const map = this.map()!;
    let next: RangeMap;
    try {
      next = c.type === 'map.cut' ? map.cut(c.split, c.atKey, c.child) : c.type === 'map.members' ? map.setMembers(c.split, c.replicas, c.learners) : map.setLeaderDc(c.split, c.dc);
    } catch (err) {
      if (!(err instanceof SynodError)) throw err;
      // Deterministic on every replica: the op cannot finish, so it ends here instead of looping.
      this.end(cur, 'failed', err.message, cur.startedAt);
      return skip(err.message);
    }
    this.s.map = next.config;
    return this.recordStep(c.opId, MAP_STEP, { generation: next.generation });
  }

  private end(cur: CurrentOp, outcome: 'done' | 'failed', reason: string, at: number): void {
    const s = this.s;
    s.current = null;
    s.history = [...s.history, { opId: cur.opId, op: cur.op, outcome, reason, at }].slice(-LOG_LIMITS.history);
    s.lastChangedAt[cur.op.split] = at;
    if (cur.op.type === 'cut') s.lastChangedAt[cur.op.child] = at;
  }

  /** The state as JSON, for the group's log compaction. */
  exportSnapshot(): unknown {
    return JSON.parse(JSON.stringify({ version: 1, state: this.s }));
  }

  /** Replaces the state with a snapshot's; throws on one this version cannot read (a broken invariant). */
  restore(data: unknown): void {
    const parsed = snapshotSchema.safeParse(data);
    if (!parsed.success) throw new Error(`unreadable placement snapshot: ${parsed.error.issues[0]?.message}`);
    const state = parsed.data.state;
    if (state.map) {
      const r = RangeMap.safeParse(state.map);
      if (!r.ok) throw new Error(`placement snapshot holds an invalid map: ${r.error}`);
      state.map = r.map.config;
    }
    this.s = state;
    this.cachedMap = null;
  }

  static importSnapshot(data: unknown): PlacementLog {
    const log = new PlacementLog();
    log.restore(data);
    return log;
  }
}

export type { Op };
