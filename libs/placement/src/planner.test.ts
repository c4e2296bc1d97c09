import { describe, expect, it } from 'vitest';
import type { SplitReport } from '@synod/codec';
import { DEFAULT_THRESHOLDS, planPlacement, type NodeHealth, type PlacementThresholds } from './planner.js';
import { RangeMap, type Split } from './range-map.js';
import { ReportWindow } from './reports.js';

const three = [
  { id: 'n1', dc: 'dc-a' },
  { id: 'n2', dc: 'dc-b' },
  { id: 'n3', dc: 'dc-c' },
];
const healthy: NodeHealth = { dead: new Set(), draining: new Set(), late: new Set() };
const KEYS = 1_000_000;
const key = (n: number) => `k${String(n).padStart(6, '0')}`;
const bound = (k: string, atEnd: boolean) => (k === '' ? (atEnd ? KEYS : 0) : Number(k.slice(1)));

/** What the leader of `s` would report under a uniform write load of `total` writes/s over KEYS keys. */
function uniformReport(s: Split, total: number): SplitReport {
  const lo = bound(s.start, false);
  const hi = bound(s.end, true);
  return { id: s.id, start: s.start, end: s.end, generation: s.generation, leader: true, appliedIndex: 0, sizeBytes: (hi - lo) * 10, keys: hi - lo, writesPerSec: (total * (hi - lo)) / KEYS, readsPerSec: 0, loadMedianKey: key(Math.floor((lo + hi) / 2)) };
}

/** Reports every second, plans, and applies each cut at once (an executor that never fails). */
function simulate(seconds: number, writesPerSec: number, t: PlacementThresholds = DEFAULT_THRESHOLDS) {
  let map = RangeMap.uniform(three, [key(333_333), key(666_666)]);
  const reports = new ReportWindow();
  const lastChangedAt: Record<string, number> = {};
  const timeline: Array<{ second: number; splits: number; load: number }> = [];
  for (let sec = 0; sec < seconds; sec++) {
    const nowUs = sec * 1_000_000;
    for (const s of map.all()) reports.record('n1', uniformReport(s, writesPerSec));
    const op = planPlacement(map, reports, healthy, t, { nowUs, lastChangedAt });
    if (op?.type === 'cut') {
      const load = reports.currentLeaderReports(map.split(op.split)!).at(-1)!.writesPerSec;
      map = map.cut(op.split, op.atKey!, op.child);
      lastChangedAt[op.split] = lastChangedAt[op.child] = nowUs;
      timeline.push({ second: sec, splits: map.all().length, load });
    } else if (op) throw new Error(`unexpected op ${JSON.stringify(op)}`);
  }
  return { map, timeline };
}

describe('planPlacement: cuts', () => {
  it('grows 3 splits into dozens under a uniform 600 writes/s with the default thresholds', () => {
    const { map, timeline } = simulate(300, 600);
    expect(map.all().length).toBeGreaterThanOrEqual(24);
    for (const s of map.all()) expect(uniformReport(s, 600).writesPerSec).toBeLessThanOrEqual(DEFAULT_THRESHOLDS.maxSplitWritesPerSec);
    // Every cut was of a split over the threshold, at its load median.
    for (const c of timeline) expect(c.load).toBeGreaterThan(DEFAULT_THRESHOLDS.maxSplitWritesPerSec);
  });

  it('never cuts beyond maxSplits', () => {
    const { map } = simulate(300, 600, { ...DEFAULT_THRESHOLDS, maxSplits: 10 });
    expect(map.all().length).toBe(10);
  });

  it('waits the cooldown after a change before cutting the same split again', () => {
    const t = { ...DEFAULT_THRESHOLDS, cooldownUs: 60_000_000 };
    const { timeline } = simulate(59, 100_000, t);
    // Every split is far over the threshold all the time; only the cooldown holds them back.
    // 3 first cuts at second 4, then the six halves are all cooling until second 64.
    expect(timeline.map((c) => c.second)).toEqual([4, 5, 6]);
  });

  it('needs K consecutive reports over the threshold, under the current generation', () => {
    const map = RangeMap.uniform(three, [key(500_000)]);
    const s1 = map.split('s1')!;
    const reports = new ReportWindow();
    const hot = uniformReport(s1, 1000);
    for (let i = 0; i < 4; i++) reports.record('n1', hot);
    reports.record('n1', { ...hot, writesPerSec: 1 });
    for (let i = 0; i < 4; i++) reports.record('n1', hot);
    expect(planPlacement(map, reports, healthy, DEFAULT_THRESHOLDS, { nowUs: 0, lastChangedAt: {} })).toBeNull();
    reports.record('n1', hot);
    expect(planPlacement(map, reports, healthy, DEFAULT_THRESHOLDS, { nowUs: 0, lastChangedAt: {} })).toMatchObject({ type: 'cut', split: 's1', atKey: key(250_000), child: 's3' });
    // After the cut, the old reports describe the old range and count for neither half.
    // (Cut at 400000 so that the old median, 250000, would still be a valid key for the lower half.)
    const after = map.cut('s1', key(400_000), 's3');
    expect(planPlacement(after, reports, healthy, DEFAULT_THRESHOLDS, { nowUs: 0, lastChangedAt: {} })).toBeNull();
  });

  it('cuts by size when the load is low, letting the leader choose the key when it has no median', () => {
    const map = RangeMap.uniform(three, []);
    const reports = new ReportWindow();
    const s1 = map.split('s1')!;
    for (let i = 0; i < 5; i++) reports.record('n2', { ...uniformReport(s1, 1), sizeBytes: DEFAULT_THRESHOLDS.maxSplitBytes + 1, loadMedianKey: undefined });
    const op = planPlacement(map, reports, healthy, DEFAULT_THRESHOLDS, { nowUs: 0, lastChangedAt: {} });
    expect(op).toMatchObject({ type: 'cut', split: 's1', child: 's2' });
    expect(op).not.toHaveProperty('atKey');
  });
});

describe('planPlacement: moves and leaders', () => {
  const nodes = [...three, { id: 'n4', dc: 'dc-c' }, { id: 'n5', dc: 'dc-a' }];
  const map = RangeMap.parse({
    nodes,
    splits: [
      { id: 's1', start: '', end: 'g', replicas: ['n1', 'n2', 'n3'] },
      { id: 's2', start: 'g', end: '', replicas: ['n1', 'n2', 'n4'], leaderDc: 'dc-b' },
    ],
  });
  const ctx = { nowUs: 100_000_000, lastChangedAt: {} };
  const plan = (health: NodeHealth, reports = new ReportWindow(), m = map) => planPlacement(m, reports, health, { ...DEFAULT_THRESHOLDS, balanceSlack: 99 }, ctx);

  it('moves a replica off a dead node to the live node of its DC with the fewest replicas', () => {
    expect(plan({ dead: new Set(['n3']), draining: new Set(), late: new Set() })).toMatchObject({ type: 'move', split: 's1', from: 'n3', to: 'n4' });
  });

  it("moves to another DC when the dead node's DC has no live node left", () => {
    expect(plan({ dead: new Set(['n3', 'n4']), draining: new Set(), late: new Set() })).toMatchObject({ type: 'move', split: 's1', from: 'n3', to: 'n5' });
  });

  it('moves replicas off a draining node', () => {
    expect(plan({ dead: new Set(), draining: new Set(['n1']), late: new Set() })).toMatchObject({ type: 'move', split: 's1', from: 'n1', to: 'n5' });
  });

  it('does not move when the group has lost its quorum (a reconfiguration could not finish)', () => {
    expect(plan({ dead: new Set(['n1', 'n2']), draining: new Set(), late: new Set() })).toBeNull();
  });

  it('balances replica counts within a DC', () => {
    const lopsided = RangeMap.parse({ nodes, splits: ['', 'c', 'g', 'p'].map((start, i, a) => ({ id: `s${i + 1}`, start, end: a[i + 1] ?? '', replicas: ['n1', 'n2', 'n3'] })) });
    expect(planPlacement(lopsided, new ReportWindow(), healthy, DEFAULT_THRESHOLDS, ctx)).toMatchObject({ type: 'move', split: 's1', from: 'n1', to: 'n5' });
    expect(planPlacement(lopsided, new ReportWindow(), healthy, { ...DEFAULT_THRESHOLDS, balanceSlack: 5 }, ctx)).toBeNull();
  });

  it('transfers leadership to the preferred DC only while the group is healthy', () => {
    const reports = new ReportWindow();
    reports.record('n1', { ...uniformReport(map.split('s2')!, 1) });
    expect(plan(healthy, reports)).toMatchObject({ type: 'transfer', split: 's2', to: 'n2' });
    // n4 is dead and no node can take its replica: no repair possible, and no transfer either.
    const small = RangeMap.parse({ nodes: [...three, { id: 'n4', dc: 'dc-c' }], splits: [{ id: 's2', start: '', end: '', replicas: ['n1', 'n2', 'n4'], leaderDc: 'dc-b' }] });
    const smallReports = new ReportWindow();
    smallReports.record('n1', uniformReport(small.split('s2')!, 1));
    expect(plan({ dead: new Set(['n3', 'n4']), draining: new Set(), late: new Set() }, smallReports, small)).toBeNull();
    expect(plan({ dead: new Set(['n3']), draining: new Set(), late: new Set() }, smallReports, small)).toMatchObject({ type: 'transfer', split: 's2', to: 'n2' });
    // n2 has missed a few reports (its DC just cut off?): leadership does not go there.
    expect(plan({ dead: new Set(), draining: new Set(), late: new Set(['n2']) }, reports)).toBeNull();
    const inPlace = new ReportWindow();
    inPlace.record('n2', uniformReport(map.split('s2')!, 1));
    expect(plan(healthy, inPlace)).toBeNull();
  });
});
