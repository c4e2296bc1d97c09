import { describe, expect, it } from 'vitest';
import { RangeMap } from './range-map.js';

const nodes = [
  { id: 'n1', dc: 'dc-a' },
  { id: 'n2', dc: 'dc-b' },
  { id: 'n3', dc: 'dc-c' },
];

describe('RangeMap', () => {
  it('routes every key to the split whose range holds it', () => {
    const m = RangeMap.uniform(nodes, ['g', 'p']);
    expect(m.all().map((s) => [s.id, s.start, s.end])).toEqual([
      ['s1', '', 'g'],
      ['s2', 'g', 'p'],
      ['s3', 'p', ''],
    ]);
    for (const [key, split] of [['', 's1'], ['a', 's1'], ['fzzz', 's1'], ['g', 's2'], ['oz', 's2'], ['p', 's3'], ['zzzz', 's3']] as const) {
      expect(m.splitFor(key).id, key).toBe(split);
      expect(m.contains(m.splitFor(key), key)).toBe(true);
    }
    expect(m.dc('n2')).toBe('dc-b');
    expect(m.splitsOf('n1').length).toBe(3);
  });

  it('rejects maps with gaps, unknown nodes, duplicate replicas or an open end', () => {
    const bad = (splits: unknown[]) => () => RangeMap.parse({ nodes, splits });
    expect(bad([{ id: 's1', start: '', end: 'g', replicas: ['n1'] }, { id: 's2', start: 'h', end: '', replicas: ['n1'] }])).toThrow(/contiguous/);
    expect(bad([{ id: 's1', start: '', end: '', replicas: ['n9'] }])).toThrow(/unknown node n9/);
    expect(bad([{ id: 's1', start: '', end: '', replicas: ['n1', 'n1'] }])).toThrow(/one replica/);
    expect(bad([{ id: 's1', start: '', end: 'g', replicas: ['n1'] }])).toThrow(/last split/);
    expect(bad([{ id: 's1', start: '', end: 'g', replicas: ['n1'] }, { id: 's1', start: 'g', end: '', replicas: ['n1'] }])).toThrow(/duplicate split/);
  });
});

describe('RangeMap transitions', () => {
  const base = () => RangeMap.uniform(nodes, ['g', 'p']);

  it('cuts a split in two at a key strictly inside it, both halves at the next generation', () => {
    const m = base().cut('s2', 'k', 's4');
    expect(m.generation).toBe(2);
    expect(m.all().map((s) => [s.id, s.start, s.end, s.generation])).toEqual([
      ['s1', '', 'g', 1],
      ['s2', 'g', 'k', 2],
      ['s4', 'k', 'p', 2],
      ['s3', 'p', '', 1],
    ]);
    expect(m.split('s4')!.replicas).toEqual(['n1', 'n2', 'n3']);
    expect(m.splitFor('kz').id).toBe('s4');
    expect(base().cut('s3', 'zz', 's9').split('s9')).toMatchObject({ start: 'zz', end: '' });
  });

  it('refuses a cut at or outside the range, of an unknown split, or into an existing id', () => {
    expect(() => base().cut('s2', 'g', 's4')).toThrow(/strictly inside/);
    expect(() => base().cut('s2', 'p', 's4')).toThrow(/strictly inside/);
    expect(() => base().cut('s2', 'a', 's4')).toThrow(/strictly inside/);
    expect(() => base().cut('s1', '', 's4')).toThrow(/strictly inside/);
    expect(() => base().cut('s7', 'k', 's4')).toThrow(/no split s7/);
    expect(() => base().cut('s2', 'k', 's3')).toThrow(/already exists/);
  });

  it('sets members and the leader DC with validation, one generation per change', () => {
    const more = RangeMap.parse({ nodes: [...nodes, { id: 'n4', dc: 'dc-c' }], splits: [{ id: 's1', start: '', end: '', replicas: ['n1', 'n2', 'n3'] }] });
    const m = more.setMembers('s1', ['n1', 'n2', 'n3'], ['n4']).setLeaderDc('s1', 'dc-b');
    expect(m.generation).toBe(3);
    expect(m.split('s1')).toMatchObject({ replicas: ['n1', 'n2', 'n3'], learners: ['n4'], leaderDc: 'dc-b', generation: 3 });
    expect(() => more.setMembers('s1', ['n1', 'n9'], [])).toThrow(/unknown node n9/);
    expect(() => more.setMembers('s1', ['n1', 'n2'], ['n2'])).toThrow(/one replica/);
    expect(() => more.setMembers('s1', [], [])).toThrow(/at least one/);
    expect(() => more.setLeaderDc('s1', 'dc-z')).toThrow(/unknown DC/);
    // The original is untouched: transitions return new maps.
    expect(more.generation).toBe(1);
    expect(more.split('s1')!.learners).toEqual([]);
  });

  it('accepts the static placement.json shape and rejects a split newer than its map', () => {
    expect(RangeMap.parse({ nodes, splits: [{ id: 's1', start: '', end: '', replicas: ['n1'] }] }).split('s1')).toMatchObject({ learners: [], generation: 1 });
    expect(() => RangeMap.parse({ generation: 1, nodes, splits: [{ id: 's1', start: '', end: '', replicas: ['n1'], generation: 2 }] })).toThrow(/newer than its map/);
  });
});
