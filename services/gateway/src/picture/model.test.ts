import { COMMIT_LATENCY_BOUNDS_MS } from '@synod/codec';
import { EMPTY_CHAOS, chaos } from '@synod/transport';
import { describe, expect, it } from 'vitest';
import { bucketQuantile, buildPicture, commitSample, leaderOf, linksBetween, type CommitFigures, type MapSplit, type NodeStatus, type PictureInput } from './model.js';

const NODES = [
  { id: 'n1', dc: 'dc-a' },
  { id: 'n2', dc: 'dc-b' },
  { id: 'n3', dc: 'dc-c' },
];
const SPLIT: MapSplit = { id: 's0', start: '', end: 'g', replicas: ['n1', 'n2', 'n3'], generation: 2 };

/** A node.status reply for the split s0 as `node` sees it. */
function status(node: string, dc: string, g: { isLeader?: boolean; leader?: string | null; tSafe?: number; quiet?: boolean }, tt = { latest: 10_000_000, epsilonUs: 2_500, serving: true }): { status: NodeStatus } {
  return {
    status: {
      node,
      dc,
      tt: { earliest: tt.latest - 2 * tt.epsilonUs, latest: tt.latest, epsilonUs: tt.epsilonUs, serving: tt.serving },
      groups: [{ id: 's0', isLeader: g.isLeader ?? false, leader: g.leader ?? null, tSafe: g.tSafe ?? 9_900_000, appliedUpTo: 5, chosenUpTo: 5, lastCommitTs: 1, ...(g.quiet !== undefined ? { quiet: g.quiet } : {}) }],
    },
  };
}

const figures = (count: number, latencyUsSum: number, commitWaitUsSum: number, buckets: Record<number, number> = {}): CommitFigures => ({
  count,
  latencyUsSum,
  commitWaitUsSum,
  latencyBuckets: Array.from({ length: COMMIT_LATENCY_BOUNDS_MS.length + 1 }, (_, i) => buckets[i] ?? 0),
});

describe('leaderOf', () => {
  it('is the replica that says it leads', () => {
    const replies = new Map([
      ['n1', status('n1', 'dc-a', { leader: 'n2' })],
      ['n2', status('n2', 'dc-b', { isLeader: true, leader: 'n2' })],
    ]);
    expect(leaderOf(SPLIT, replies)).toBe('n2');
  });

  it('of two claimants, the one the other replicas name: a cut-off leader still believing it leads is not shown', () => {
    const replies = new Map([
      ['n1', status('n1', 'dc-a', { isLeader: true, leader: 'n1' })],
      ['n2', status('n2', 'dc-b', { isLeader: true, leader: 'n2' })],
      ['n3', status('n3', 'dc-c', { leader: 'n2' })],
    ]);
    expect(leaderOf(SPLIT, replies)).toBe('n2');
  });

  it('is null when no replica answering claims it', () => {
    const replies = new Map<string, { status: NodeStatus } | { error: string }>([
      ['n1', { error: 'TIMEOUT: no answer' }],
      ['n2', status('n2', 'dc-b', { leader: 'n1' })],
    ]);
    expect(leaderOf(SPLIT, replies)).toBeNull();
  });
});

describe('linksBetween', () => {
  const DCS = ['dc-a', 'dc-b', 'dc-c'];

  it('shows every pair of DCs once, all up without faults', () => {
    const links = linksBetween(DCS, EMPTY_CHAOS);
    expect(links.map((l) => `${l.from}-${l.to}`)).toEqual(['dc-a-dc-b', 'dc-a-dc-c', 'dc-b-dc-c']);
    expect(links.every((l) => !l.down && l.latencyMs === 0)).toBe(true);
  });

  it('draws a DC partitioned from every other (the `*` form) as both of its links cut, the third up', () => {
    const links = linksBetween(DCS, chaos.partition(EMPTY_CHAOS, ['dc-a'], ['*']));
    expect(links.filter((l) => l.down).map((l) => `${l.from}-${l.to}`)).toEqual(['dc-a-dc-b', 'dc-a-dc-c']);
    expect(links.find((l) => l.from === 'dc-b')!.down).toBe(false);
    expect(links.every((l) => !l.oneWay)).toBe(true);
  });

  it('marks a one-way cut, and takes the larger latency of the two directions', () => {
    let s = chaos.partition(EMPTY_CHAOS, ['dc-b'], ['dc-c'], true);
    s = chaos.latency(s, 'dc-a', 'dc-b', 40, 10);
    s = chaos.latency(s, 'dc-b', 'dc-a', 5);
    const [ab, , bc] = linksBetween(DCS, s);
    expect(bc).toMatchObject({ down: true, oneWay: true });
    expect(ab).toMatchObject({ down: false, latencyMs: 50 });
  });
});

describe('bucketQuantile', () => {
  it('interpolates inside the bucket holding the rank', () => {
    // 10 commits: 5 in (1, 2] ms, 5 in (5, 10] ms.
    const b = figures(10, 0, 0, { 1: 5, 3: 5 }).latencyBuckets;
    expect(bucketQuantile(b, 0.5)).toBe(2);
    expect(bucketQuantile(b, 0.9)).toBe(9);
  });

  it('is null with no commits, and the last bound for commits above it', () => {
    expect(bucketQuantile(figures(0, 0, 0).latencyBuckets, 0.5)).toBeNull();
    expect(bucketQuantile(figures(1, 0, 0, { [COMMIT_LATENCY_BOUNDS_MS.length]: 1 }).latencyBuckets, 0.99)).toBe(COMMIT_LATENCY_BOUNDS_MS.at(-1));
  });
});

describe('commitSample', () => {
  it('sums the differences of every node that answered both polls into a rate, percentiles and the commit-wait share', () => {
    const prev = new Map([
      ['n1', figures(100, 1_000_000, 200_000, { 3: 100 })],
      ['n2', figures(10, 100_000, 0, { 3: 10 })],
    ]);
    const cur = new Map([
      ['n1', figures(150, 1_400_000, 300_000, { 3: 150 })],
      ['n2', figures(60, 500_000, 100_000, { 3: 50, 4: 10 })],
      ['n3', figures(999, 9_999_999, 0)], // no previous reading: not counted
    ]);
    const s = commitSample(42, 2_000, prev, cur);
    expect(s).toMatchObject({ t: 42, opsPerSec: 50, commitWaitShare: 0.25 });
    expect(s.p50Ms).toBeGreaterThan(5);
    expect(s.p50Ms).toBeLessThanOrEqual(10);
    expect(s.p99Ms).toBeGreaterThan(10);
    expect(s.p99Ms).toBeLessThanOrEqual(20);
  });

  it('counts a restarted node (its count went down) from zero, and has no percentiles without commits', () => {
    const s = commitSample(1, 1_000, new Map([['n1', figures(500, 5e6, 0, { 3: 500 })]]), new Map([['n1', figures(7, 70_000, 7_000, { 3: 7 })]]));
    expect(s.opsPerSec).toBe(7);
    expect(s.commitWaitShare).toBe(0.1);
    const idle = commitSample(2, 1_000, new Map([['n1', figures(7, 1, 1)]]), new Map([['n1', figures(7, 1, 1)]]));
    expect(idle).toEqual({ t: 2, opsPerSec: 0, p50Ms: null, p99Ms: null, commitWaitShare: null });
  });
});

describe('buildPicture', () => {
  const input = (over: Partial<PictureInput> = {}): PictureInput => ({
    at: 1,
    nodes: NODES,
    generation: 3,
    splits: [SPLIT],
    replies: new Map<string, { status: NodeStatus } | { error: string }>([
      ['n1', { error: 'TIMEOUT: n1 did not answer' }],
      ['n2', status('n2', 'dc-b', { isLeader: true, leader: 'n2', tSafe: 9_950_000 })],
      ['n3', status('n3', 'dc-c', { leader: 'n2', tSafe: 9_000_000 }, { latest: 10_000_000, epsilonUs: 7_000, serving: false })],
    ]),
    chaos: chaos.isolate(chaos.partition(EMPTY_CHAOS, ['dc-a'], ['*']), 'n3'),
    clockFaults: [{ node: 'n3', skewMs: 250, driftPpm: 0 }],
    series: [{ t: 0, opsPerSec: 3, p50Ms: 4, p99Ms: 9, commitWaitShare: 0.5 }],
    ...over,
  });

  it('groups nodes by DC with ε, serving, t_safe lag, isolation and clock skew', () => {
    const p = buildPicture(input());
    expect(p.dcs.map((d) => d.name)).toEqual(['dc-a', 'dc-b', 'dc-c']);
    const [a, b, c] = p.dcs.map((d) => d.nodes[0]!);
    expect(a).toMatchObject({ id: 'n1', up: false, error: 'TIMEOUT: n1 did not answer', epsilonMs: null, serving: null });
    expect(b).toMatchObject({ id: 'n2', up: true, epsilonMs: 2.5, serving: true, tSafeLagMs: 50, isolated: false });
    expect(b!.skewMs).toBeUndefined();
    expect(c).toMatchObject({ id: 'n3', epsilonMs: 7, serving: false, tSafeLagMs: 1000, isolated: true, skewMs: 250 });
    expect(c!.driftPpm).toBeUndefined();
  });

  it('marks a split quiet when every replica that answered says so, and leaves quiet splits out of a node\'s lag', () => {
    const quietReplies = new Map<string, { status: NodeStatus } | { error: string }>([
      ['n1', { error: 'TIMEOUT: n1 did not answer' }],
      ['n2', status('n2', 'dc-b', { isLeader: true, leader: 'n2', tSafe: 1_000_000, quiet: true })],
      ['n3', status('n3', 'dc-c', { leader: 'n2', tSafe: 1_000_000, quiet: true })],
    ]);
    const p = buildPicture(input({ replies: quietReplies }));
    expect(p.splits[0]!.quiet).toBe(true);
    expect(p.dcs[1]!.nodes[0]!.tSafeLagMs).toBeNull();
    quietReplies.set('n3', status('n3', 'dc-c', { leader: 'n2', tSafe: 1_000_000, quiet: false }));
    const q = buildPicture(input({ replies: quietReplies }));
    expect(q.splits[0]!.quiet).toBe(false);
    expect(q.dcs[2]!.nodes[0]!.tSafeLagMs).toBe(9_000);
  });

  it('gives each split its generation, replicas, leader and the leader DC, and carries links and series', () => {
    const p = buildPicture(input());
    expect(p.generation).toBe(3);
    expect(p.splits).toEqual([{ id: 's0', start: '', end: 'g', generation: 2, replicas: ['n1', 'n2', 'n3'], learners: [], leader: 'n2', leaderDc: 'dc-b', tSafeLagMs: { n2: 50, n3: 1000 }, quiet: false }]);
    expect(p.links.filter((l) => l.down)).toHaveLength(2);
    expect(p.series).toHaveLength(1);
    expect(p.chaosVersion).toBe(2);
  });
});
