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
