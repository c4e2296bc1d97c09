import { describe, expect, it } from 'vitest';
import { LOG_LIMITS, PlacementLog, type PlacementCommandInput } from './placement-log.js';
import { RangeMap } from './range-map.js';

const nodes = [
  { id: 'n1', dc: 'dc-a' },
  { id: 'n2', dc: 'dc-b' },
  { id: 'n3', dc: 'dc-c' },
  { id: 'n4', dc: 'dc-c' },
];
const seed = (): PlacementCommandInput => ({
  type: 'map.seed',
  map: { nodes, splits: [{ id: 's1', start: '', end: 'm', replicas: ['n1', 'n2', 'n3'] }, { id: 's2', start: 'm', end: '', replicas: ['n1', 'n2', 'n3'] }] },
});

const history: PlacementCommandInput[] = [
  seed(),
  { type: 'op.enqueue', opId: 'a1', op: { type: 'move', split: 's2', from: 'n3', to: 'n4' } },
  { type: 'op.begin', opId: 'p1', op: { type: 'cut', split: 's1', child: 's3', atKey: 'f' }, at: 1000 },
  { type: 'op.step', opId: 'p1', step: 'cut', detail: { atKey: 'f' } },
  { type: 'map.cut', opId: 'p1', split: 's1', atKey: 'f', child: 's3' },
  { type: 'op.end', opId: 'p1', outcome: 'done', at: 2000 },
  { type: 'node.drain', node: 'n2', draining: true },
  { type: 'op.begin', opId: 'a1', op: { type: 'move', split: 's2', from: 'n3', to: 'n4' }, at: 3000 },
  { type: 'op.step', opId: 'a1', step: 'host', detail: {} },
];

const applyAll = (log: PlacementLog, cmds: PlacementCommandInput[]) => cmds.map((c) => log.apply(c).applied);

describe('PlacementLog', () => {
  it('applies the same commands to the same state on every replica, and the map advances by generation', () => {
    const a = new PlacementLog();
    const b = new PlacementLog();
    expect(applyAll(a, history)).toEqual([true, true, true, true, true, true, true, true, true]);
    applyAll(b, history);
    expect(b.state).toEqual(a.state);
    const map = a.map()!;
    expect(map.generation).toBe(2);
    expect(map.all().map((s) => [s.id, s.start, s.end])).toEqual([['s1', '', 'f'], ['s3', 'f', 'm'], ['s2', 'm', '']]);
    expect(a.current()).toMatchObject({ opId: 'a1', steps: [{ step: 'host' }] });
    expect(a.state.queue).toEqual([]);
    expect(a.state.draining).toEqual(['n2']);
    expect(a.state.lastChangedAt).toEqual({ s1: 2000, s3: 2000 });
    expect(a.state.history).toMatchObject([{ opId: 'p1', outcome: 'done' }]);
  });

  it('round-trips through a snapshot, and goes on identically after it', () => {
    const a = new PlacementLog();
    applyAll(a, history);
    const snap = JSON.parse(JSON.stringify(a.exportSnapshot()));
    const b = PlacementLog.importSnapshot(snap);
    expect(b.state).toEqual(a.state);
    const more: PlacementCommandInput[] = [
      { type: 'op.step', opId: 'a1', step: 'learn', detail: {} },
      { type: 'map.members', opId: 'a1', split: 's2', replicas: ['n1', 'n2', 'n4'], learners: [] },
    ];
    expect(applyAll(a, more)).toEqual(applyAll(b, more));
    expect(b.state).toEqual(a.state);
    expect(b.map()!.split('s2')!.replicas).toEqual(['n1', 'n2', 'n4']);
    expect(() => PlacementLog.importSnapshot({ version: 2 })).toThrow(/unreadable/);
  });

  it('applies stale or repeated commands at most once (a deposed leader cannot double-apply a step)', () => {
    const log = new PlacementLog();
    applyAll(log, history.slice(0, 4));
    // A second begin while p1 runs, a repeat of its step, a map change for another op: all skipped.
    expect(log.apply({ type: 'op.begin', opId: 'x', op: { type: 'transfer', split: 's2', to: 'n1' }, at: 5 })).toMatchObject({ applied: false });
    expect(log.apply({ type: 'op.step', opId: 'p1', step: 'cut', detail: { atKey: 'zz' } })).toMatchObject({ applied: false });
    expect(log.apply({ type: 'map.cut', opId: 'x', split: 's1', atKey: 'c', child: 's9' })).toMatchObject({ applied: false });
    expect(log.apply({ type: 'map.cut', opId: 'p1', split: 's1', atKey: 'f', child: 's3' })).toEqual({ applied: true });
    // The same map change proposed again (a new leader re-deriving the step) does not cut twice.
    expect(log.apply({ type: 'map.cut', opId: 'p1', split: 's1', atKey: 'c', child: 's4' })).toMatchObject({ applied: false });
    expect(log.map()!.all().length).toBe(3);
    expect(log.map()!.generation).toBe(2);
    expect(log.apply({ type: 'op.end', opId: 'p1', outcome: 'done', at: 9 })).toEqual({ applied: true });
    // An ended op cannot be begun again.
    expect(log.apply({ type: 'op.begin', opId: 'p1', op: { type: 'cut', split: 's1', child: 's3', atKey: 'f' }, at: 10 })).toMatchObject({ applied: false });
  });

  it('ends an op whose map change is invalid, identically everywhere, instead of looping on it', () => {
    const log = new PlacementLog();
    applyAll(log, [seed(), { type: 'op.begin', opId: 'p1', op: { type: 'cut', split: 's1', child: 's3', atKey: 'x' }, at: 1 }]);
    expect(log.apply({ type: 'map.cut', opId: 'p1', split: 's1', atKey: 'x', child: 's3' })).toMatchObject({ applied: false, reason: expect.stringMatching(/strictly inside/) });
    expect(log.current()).toBeNull();
    expect(log.state.history.at(-1)).toMatchObject({ opId: 'p1', outcome: 'failed' });
    expect(log.map()!.generation).toBe(1);
  });

  it('applies a leader barrier as a no-op, before and after the seed', () => {
    const log = new PlacementLog();
    expect(log.apply({ type: 'leader.barrier', node: 'p-a' })).toEqual({ applied: true });
    applyAll(log, history);
    const before = JSON.stringify(log.state);
    expect(log.apply({ type: 'leader.barrier', node: 'p-b' })).toEqual({ applied: true });
    expect(JSON.stringify(log.state)).toBe(before);
  });

  it('seeds once, skips malformed payloads, and bounds the queue', () => {
    const log = new PlacementLog();
    expect(log.apply({ type: 'op.enqueue', opId: 'a', op: { type: 'transfer', split: 's1', to: 'n1' } })).toMatchObject({ applied: false, reason: 'no map yet' });
    expect(log.apply(seed()).applied).toBe(true);
    expect(log.apply({ ...seed(), map: RangeMap.uniform(nodes, ['a']).config }).applied).toBe(false);
    expect(log.apply({ type: 'op.begin', opId: 'p', op: { type: 'nuke' } })).toMatchObject({ applied: false, reason: expect.stringMatching(/malformed/) });
    for (let i = 0; i < LOG_LIMITS.queuedOps; i++) expect(log.apply({ type: 'op.enqueue', opId: `a${i}`, op: { type: 'transfer', split: 's1', to: 'n1' } }).applied).toBe(true);
    expect(log.apply({ type: 'op.enqueue', opId: 'over', op: { type: 'transfer', split: 's1', to: 'n1' } })).toMatchObject({ applied: false, reason: 'the op queue is full' });
    expect(log.state.queue.length).toBe(LOG_LIMITS.queuedOps);
  });
});
