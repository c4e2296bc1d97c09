import type { ErrorCode, MessageInput } from '@synod/codec';
import { MAP_STEP, type CurrentOp, type PlacementCommandInput } from './placement-log.js';
import type { RangeMap, Split } from './range-map.js';

/** Where a request goes: the split's leader (try `candidates` in turn, follow hints) or one node. */
export type Target = { kind: 'leader'; candidates: string[] } | { kind: 'node'; node: string };

export type SplitRequest =
  | { kind: 'split.cut'; body: MessageInput<'split.cut'> }
  | { kind: 'split.host'; body: MessageInput<'split.host'> }
  | { kind: 'split.drop'; body: MessageInput<'split.drop'> }
  | { kind: 'split.reconfigure'; body: MessageInput<'split.reconfigure'> }
  | { kind: 'split.transfer'; body: MessageInput<'split.transfer'> };

/** Send `request` (envelope group = `group`, the split id) and report the outcome with onResult. */
export interface SendAction {
  type: 'send';
  opId: string;
  step: string;
  group: string;
  target: Target;
  request: SplitRequest;
}
/** Propose `command` to the placement group; call next() again once it is applied. */
export interface ProposeAction {
  type: 'propose';
  command: PlacementCommandInput;
}
/** Nothing to do before `untilUs` (backing off after a failed attempt). */
export interface WaitAction {
  type: 'wait';
  untilUs: number;
}
export type ExecAction = SendAction | ProposeAction | WaitAction;

export type StepResult = { ok: true; detail: Record<string, string | number> } | { ok: false; code: ErrorCode; message: string };

export interface ExecutorLimits {
  /** Attempts of one step before the op fails (or, for a best-effort step, is skipped). */
  maxAttempts: number;
  /** Attempts of the swap while the leader says the learner is not caught up yet. */
  catchUpAttempts: number;
  /** Backoff after the n-th failure: n × this, at most maxBackoffUs. */
  backoffUs: number;
  maxBackoffUs: number;
}

export const DEFAULT_EXECUTOR_LIMITS: ExecutorLimits = { maxAttempts: 10, catchUpAttempts: 120, backoffUs: 200_000, maxBackoffUs: 2_000_000 };

/** Errors that say "not now" rather than "never": the step is tried again. */
const RETRYABLE = new Set<ErrorCode>(['NOT_LEADER', 'UNAVAILABLE', 'TIMEOUT']);

type StepPlan = { step: string; bestEffort?: boolean; catchUp?: boolean; action: () => SendAction | ProposeAction };

/**
 * Drives the op in progress (docs/placement.md, "Op steps"), sans-I/O: from the op's logged
 * steps and the map it says what to do next; from a request's outcome, what to log. Because
 * the steps done are read from the log and every request is idempotent, a new placement leader
 * (a fresh OpExecutor) resumes by re-sending the first step not logged.
 */
export class OpExecutor {
  private attempts = new Map<string, number>();
  private notBeforeUs = 0;

  constructor(private readonly limits: ExecutorLimits = DEFAULT_EXECUTOR_LIMITS) {}

  next(op: CurrentOp, map: RangeMap, nowUs: number): ExecAction {
    if (nowUs < this.notBeforeUs) return { type: 'wait', untilUs: this.notBeforeUs };
    const plan = this.plan(op, map, nowUs);
    if ('fail' in plan) return end(op, 'failed', plan.fail, nowUs);
    const todo = plan.find((p) => !op.steps.some((s) => s.step === p.step));
    return todo ? todo.action() : end(op, 'done', '', nowUs);
  }

  /** The outcome of `action`: the command to propose, or null to try the step again after a backoff. */
  onResult(op: CurrentOp, map: RangeMap, action: SendAction, result: StepResult, nowUs: number): ProposeAction | null {
    if (action.opId !== op.opId) return null;
    if (result.ok) {
      this.attempts.delete(`${op.opId}/${action.step}`);
      return { type: 'propose', command: { type: 'op.step', opId: op.opId, step: action.step, detail: result.detail } };
    }
    const plan = this.plan(op, map, nowUs);
    const p = 'fail' in plan ? undefined : plan.find((x) => x.step === action.step);
    const key = `${op.opId}/${action.step}`;
    const n = (this.attempts.get(key) ?? 0) + 1;
    this.attempts.set(key, n);
    const budget = p?.catchUp ? this.limits.catchUpAttempts : this.limits.maxAttempts;
    if (RETRYABLE.has(result.code) && n < budget) {
      this.notBeforeUs = nowUs + Math.min(this.limits.maxBackoffUs, n * this.limits.backoffUs);
      return null;
    }
    this.attempts.delete(key);
    const why = `${action.step}: ${result.code} ${result.message}`.slice(0, 900);
    // Dropping a dead node's replica cannot succeed and must not block its replacement.
    if (p?.bestEffort) return { type: 'propose', command: { type: 'op.step', opId: op.opId, step: action.step, detail: { skipped: why } } };
    return end(op, 'failed', `${why} (after ${n} attempts)`, nowUs);
  }

  private plan(cur: CurrentOp, map: RangeMap, nowUs: number): StepPlan[] | { fail: string } {
    const op = cur.op;
    const s = map.split(op.split);
    if (!s) return { fail: `no split ${op.split} in the map` };
    const done = (step: string) => cur.steps.find((x) => x.step === step);
    const send = (step: string, group: string, target: Target, request: SplitRequest): SendAction => ({ type: 'send', opId: cur.opId, step, group, target, request });
    const propose = (command: PlacementCommandInput): ProposeAction => ({ type: 'propose', command });
    const leader = (extra: string[] = []): Target => ({ kind: 'leader', candidates: [...leaderFirst(s, map), ...extra.filter((n) => !s.replicas.includes(n))] });
    switch (op.type) {
      case 'cut': {
        if (done('cut') === undefined && map.split(op.child)) return { fail: `split ${op.child} already exists` };
        const atKey = stringDetail(done('cut'), 'atKey') ?? op.atKey;
        return [
          { step: 'cut', action: () => send('cut', s.id, leader(), { kind: 'split.cut', body: { child: op.child, generation: map.generation + 1, ...(op.atKey !== undefined ? { atKey: op.atKey } : {}) } }) },
          {
            step: MAP_STEP,
            action: () =>
              atKey === undefined
                ? end(cur, 'failed', 'the split leader did not say where it cut', nowUs)
                : propose({ type: 'map.cut', opId: cur.opId, split: s.id, atKey, child: op.child }),
          },
        ];
      }
      case 'move': {
        if (cur.steps.length === 0 && (!s.replicas.includes(op.from) || s.replicas.includes(op.to)))
          return { fail: `${op.from} is not a voter of ${s.id} or ${op.to} already is` };
        if (!map.dc(op.to)) return { fail: `unknown node ${op.to}` };
        const learners = [...s.learners.filter((n) => n !== op.to), op.to];
        const swapped = s.replicas.map((r) => (r === op.from ? op.to : r));
        const generation = map.generation + 1;
        return [
          { step: 'host', action: () => send('host', s.id, { kind: 'node', node: op.to }, { kind: 'split.host', body: { split: { ...s, learners } } }) },
          { step: 'learn', action: () => send('learn', s.id, leader(), { kind: 'split.reconfigure', body: { replicas: s.replicas, learners, generation } }) },
          { step: 'swap', catchUp: true, action: () => send('swap', s.id, leader([op.to]), { kind: 'split.reconfigure', body: { replicas: swapped, learners: s.learners.filter((n) => n !== op.to), generation } }) },
          { step: 'drop', bestEffort: true, action: () => send('drop', s.id, { kind: 'node', node: op.from }, { kind: 'split.drop', body: { split: s.id, generation } }) },
          { step: MAP_STEP, action: () => propose({ type: 'map.members', opId: cur.opId, split: s.id, replicas: swapped, learners: s.learners.filter((n) => n !== op.to) }) },
        ];
      }
      case 'transfer':
        if (!s.replicas.includes(op.to)) return { fail: `${op.to} is not a voter of ${s.id}` };
        return [{ step: 'transfer', action: () => send('transfer', s.id, leader(), { kind: 'split.transfer', body: { to: op.to } }) }];
      case 'lead': {
        const to = s.replicas.find((r) => map.dc(r) === op.dc);
        if (!to) return { fail: `${s.id} has no voter in ${op.dc}` };
        return [
          { step: MAP_STEP, action: () => propose({ type: 'map.leader-dc', opId: cur.opId, split: s.id, dc: op.dc }) },
          { step: 'transfer', action: () => send('transfer', s.id, leader(), { kind: 'split.transfer', body: { to } }) },
        ];
      }
    }
  }
}

function end(op: CurrentOp, outcome: 'done' | 'failed', reason: string, at: number): ProposeAction {
  return { type: 'propose', command: { type: 'op.end', opId: op.opId, outcome, reason, at: Math.max(0, Math.floor(at)) } };
}

function stringDetail(step: { detail: Record<string, string | number> } | undefined, key: string): string | undefined {
  const v = step?.detail[key];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/** Replicas in the preferred leader DC first: where the leader most likely is. */
function leaderFirst(s: Split, map: RangeMap): string[] {
  if (s.leaderDc === undefined) return [...s.replicas];
  return [...s.replicas].sort((a, b) => Number(map.dc(b) === s.leaderDc) - Number(map.dc(a) === s.leaderDc));
}
