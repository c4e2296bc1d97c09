import { describe, expect, it } from 'vitest';
import { OpExecutor, type SendAction, type StepResult } from './executor.js';
import type { OpInput } from './ops.js';
import { PlacementLog } from './placement-log.js';

const nodes = [
  { id: 'n1', dc: 'dc-a' },
  { id: 'n2', dc: 'dc-b' },
  { id: 'n3', dc: 'dc-c' },
  { id: 'n4', dc: 'dc-c' },
];
const LIMITS = { maxAttempts: 3, catchUpAttempts: 6, backoffUs: 100, maxBackoffUs: 1_000 };

function logWith(op: OpInput): PlacementLog {
  const log = new PlacementLog();
  log.apply({ type: 'map.seed', map: { nodes, splits: [{ id: 's1', start: '', end: 'm', replicas: ['n1', 'n2', 'n3'], leaderDc: 'dc-b' }, { id: 's2', start: 'm', end: '', replicas: ['n1', 'n2', 'n3'] }] } });
  expect(log.apply({ type: 'op.begin', opId: 'op1', op, at: 0 }).applied).toBe(true);
  return log;
}

/** Runs the executor against `respond` until the op ends; returns every request sent. */
function drive(log: PlacementLog, exec: OpExecutor, respond: (a: SendAction) => StepResult, maxActions = 200): SendAction[] {
  const sent: SendAction[] = [];
  let now = 0;
  for (let i = 0; i < maxActions && log.current(); i++) {
    const cur = log.current()!;
    const a = exec.next(cur, log.map()!, now);
    if (a.type === 'wait') now = a.untilUs;
    else if (a.type === 'propose') log.apply(a.command);
    else {
      sent.push(a);
      const next = exec.onResult(cur, log.map()!, a, respond(a), now);
      if (next) log.apply(next.command);
    }
  }
  expect(log.current()).toBeNull();
  return sent;
}

const ok = (detail: Record<string, string | number> = {}): StepResult => ({ ok: true, detail });

describe('OpExecutor', () => {
  it('cuts: split.cut to the leader (preferred DC first), then the map cut from where the leader cut', () => {
    const log = logWith({ type: 'cut', split: 's1', child: 's3' });
    const sent = drive(log, new OpExecutor(LIMITS), () => ok({ atKey: 'f' }));
    expect(sent.map((a) => [a.request.kind, a.group, a.target, a.request.body])).toEqual([['split.cut', 's1', { kind: 'leader', candidates: ['n2', 'n1', 'n3'] }, { child: 's3', generation: 2 }]]);
    expect(log.map()!.all().map((s) => [s.id, s.start, s.end])).toEqual([['s1', '', 'f'], ['s3', 'f', 'm'], ['s2', 'm', '']]);
    expect(log.state.history.at(-1)).toMatchObject({ outcome: 'done' });
  });

  it('moves: host the learner, add it, swap it in (retried while it catches up), drop the old replica, update the map', () => {
    const log = logWith({ type: 'move', split: 's2', from: 'n3', to: 'n4' });
    let behind = 3;
    const sent = drive(log, new OpExecutor(LIMITS), (a) => (a.step === 'swap' && behind-- > 0 ? { ok: false, code: 'UNAVAILABLE', message: 'learner n4 is behind' } : ok()));
    expect(sent.map((a) => `${a.step}:${a.request.kind}`)).toEqual(['host:split.host', 'learn:split.reconfigure', 'swap:split.reconfigure', 'swap:split.reconfigure', 'swap:split.reconfigure', 'swap:split.reconfigure', 'drop:split.drop']);
    expect(sent[0]!.target).toEqual({ kind: 'node', node: 'n4' });
    expect(sent[0]!.request.body).toMatchObject({ split: { id: 's2', replicas: ['n1', 'n2', 'n3'], learners: ['n4'] } });
    expect(sent[1]!.request.body).toEqual({ replicas: ['n1', 'n2', 'n3'], learners: ['n4'], generation: 2 });
    expect(sent[2]!.request.body).toEqual({ replicas: ['n1', 'n2', 'n4'], learners: [], generation: 2 });
    // After the swap the old voter may no longer answer as leader; the new one is a candidate.
    expect(sent[2]!.target).toEqual({ kind: 'leader', candidates: ['n1', 'n2', 'n3', 'n4'] });
    expect(sent[6]!.target).toEqual({ kind: 'node', node: 'n3' });
    expect(log.map()!.split('s2')).toMatchObject({ replicas: ['n1', 'n2', 'n4'], learners: [], generation: 2 });
    expect(log.state.history.at(-1)).toMatchObject({ outcome: 'done' });
  });

  it('skips dropping the replica of a node that never answers, and still finishes the move', () => {
    const log = logWith({ type: 'move', split: 's2', from: 'n3', to: 'n4' });
    const sent = drive(log, new OpExecutor(LIMITS), (a) => (a.step === 'drop' ? { ok: false, code: 'TIMEOUT', message: 'n3 is dead' } : ok()));
    expect(sent.filter((a) => a.step === 'drop').length).toBe(LIMITS.maxAttempts);
    expect(log.map()!.split('s2')!.replicas).toEqual(['n1', 'n2', 'n4']);
    expect(log.state.history.at(-1)).toMatchObject({ outcome: 'done' });
  });

  it('fails the op after maxAttempts of a required step, or at once on a non-retryable error', () => {
    const log = logWith({ type: 'move', split: 's2', from: 'n3', to: 'n4' });
    const sent = drive(log, new OpExecutor(LIMITS), (a) => (a.step === 'learn' ? { ok: false, code: 'TIMEOUT', message: 'no leader' } : ok()));
    expect(sent.filter((a) => a.step === 'learn').length).toBe(LIMITS.maxAttempts);
    expect(log.state.history.at(-1)).toMatchObject({ outcome: 'failed', reason: expect.stringMatching(/learn: TIMEOUT/) });
    expect(log.map()!.split('s2')!.replicas).toEqual(['n1', 'n2', 'n3']);

    const log2 = logWith({ type: 'cut', split: 's1', child: 's3', atKey: 'zz' });
    expect(drive(log2, new OpExecutor(LIMITS), () => ({ ok: false, code: 'INVALID_ARGUMENT', message: 'outside' })).length).toBe(1);
    expect(log2.state.history.at(-1)).toMatchObject({ outcome: 'failed' });
  });

  it('backs off between attempts', () => {
    const log = logWith({ type: 'transfer', split: 's1', to: 'n2' });
    const exec = new OpExecutor(LIMITS);
    const a = exec.next(log.current()!, log.map()!, 1_000) as SendAction;
    expect(exec.onResult(log.current()!, log.map()!, a, { ok: false, code: 'NOT_LEADER', message: 'x' }, 1_000)).toBeNull();
    expect(exec.next(log.current()!, log.map()!, 1_050)).toEqual({ type: 'wait', untilUs: 1_100 });
    expect(exec.next(log.current()!, log.map()!, 1_100)).toMatchObject({ type: 'send', step: 'transfer' });
  });

  it('resumes a move from its logged steps: a new executor (a new leader) re-sends the first unfinished step', () => {
    const log = logWith({ type: 'move', split: 's2', from: 'n3', to: 'n4' });
    const first = new OpExecutor(LIMITS);
    // The old leader logged host and learn, sent swap, and died before logging its reply.
    for (const step of ['host', 'learn']) {
      const a = first.next(log.current()!, log.map()!, 0) as SendAction;
      expect(a.step).toBe(step);
      log.apply(first.onResult(log.current()!, log.map()!, a, ok(), 0)!.command);
    }
    expect((first.next(log.current()!, log.map()!, 0) as SendAction).step).toBe('swap');
    const resumed = PlacementLog.importSnapshot(log.exportSnapshot());
    const sent = drive(resumed, new OpExecutor(LIMITS), () => ok());
    expect(sent.map((a) => a.step)).toEqual(['swap', 'drop']);
    expect(resumed.map()!.split('s2')!.replicas).toEqual(['n1', 'n2', 'n4']);
  });

  it('leads: records the preferred DC, then transfers to its replica', () => {
    const log = logWith({ type: 'lead', split: 's2', dc: 'dc-c' });
    const sent = drive(log, new OpExecutor(LIMITS), () => ok());
    expect(sent.map((a) => [a.request.kind, a.request.body])).toEqual([['split.transfer', { to: 'n3' }]]);
    expect(log.map()!.split('s2')!.leaderDc).toBe('dc-c');
  });

  it('fails an op that no longer applies instead of sending anything', () => {
    const log = logWith({ type: 'move', split: 's2', from: 'n4', to: 'n3' });
    expect(drive(log, new OpExecutor(LIMITS), () => ok())).toEqual([]);
    expect(log.state.history.at(-1)).toMatchObject({ outcome: 'failed', reason: expect.stringMatching(/not a voter/) });
  });
});
