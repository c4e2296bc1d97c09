import { describe, expect, it } from 'vitest';
import { rangeMapBodySchema } from '@synod/codec';
import { RangeMap } from '@synod/placement';
import { initialPlacement } from './initial-placement.js';

describe('initialPlacement (synod up --nodes-per-dc)', () => {
  it('one node per DC: n1, n2, n3 in dc-a, dc-b, dc-c, every split on all three, as before', () => {
    const m = initialPlacement(3, 1, ['g', 'p']);
    expect(m.nodes).toEqual([
      { id: 'n1', dc: 'dc-a' },
      { id: 'n2', dc: 'dc-b' },
      { id: 'n3', dc: 'dc-c' },
    ]);
    expect(m.splits.map((s) => [s.id, s.start, s.end, s.replicas.join(',')])).toEqual([
      ['s1', '', 'g', 'n1,n2,n3'],
      ['s2', 'g', 'p', 'n1,n2,n3'],
      ['s3', 'p', '', 'n1,n2,n3'],
    ]);
  });

  it('N nodes per DC: DCs round-robin, one replica per DC, splits spread over each DC\'s nodes, leader DCs round-robin', () => {
    const m = initialPlacement(3, 2, ['g', 'p', 't']);
    expect(m.nodes.map((n) => `${n.id}@${n.dc}`)).toEqual(['n1@dc-a', 'n2@dc-b', 'n3@dc-c', 'n4@dc-a', 'n5@dc-b', 'n6@dc-c']);
    const dcOf = new Map(m.nodes.map((n) => [n.id, n.dc]));
    for (const s of m.splits) expect(s.replicas.map((r) => dcOf.get(r)).sort()).toEqual(['dc-a', 'dc-b', 'dc-c']);
    expect(m.splits.map((s) => s.replicas.join(','))).toEqual(['n1,n2,n3', 'n4,n5,n6', 'n1,n2,n3', 'n4,n5,n6']);
    expect(m.splits.map((s) => s.leaderDc)).toEqual(['dc-a', 'dc-b', 'dc-c', 'dc-a']);
    // Every node hosts a split.
    expect(new Set(m.splits.flatMap((s) => s.replicas)).size).toBe(6);
    // What the placement service reads (leaderDc, learners, generation kept) and what spanservers read.
    expect(rangeMapBodySchema.parse(m).splits[1]).toMatchObject({ leaderDc: 'dc-b', learners: [], generation: 1 });
    expect(RangeMap.parse(m).splitFor('h').replicas).toEqual(['n4', 'n5', 'n6']);
  });

  it('refuses bad counts and split keys with INVALID_ARGUMENT', () => {
    expect(() => initialPlacement(3, 0, [])).toThrow(/--nodes-per-dc must be 1\.\.5/);
    expect(() => initialPlacement(3, 6, [])).toThrow(/--nodes-per-dc/);
    expect(() => initialPlacement(6, 1, [])).toThrow(/--dcs must be/);
    expect(() => initialPlacement(3, 1, ['p', 'g'])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/--split-keys "p,g"/) }));
  });
});
