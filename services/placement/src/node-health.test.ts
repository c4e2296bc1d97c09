import { describe, expect, it } from 'vitest';
import { RangeMap } from '@synod/placement';
import { NodeRegistry } from './node-health.js';

const map = RangeMap.uniform(
  [
    { id: 'n1', dc: 'dc-a' },
    { id: 'n2', dc: 'dc-b' },
    { id: 'n3', dc: 'dc-c' },
  ],
  [],
);

describe('NodeRegistry', () => {
  it('declares a node dead after dead-after-ms without a report, counting from start for a node never heard from', () => {
    const reg = new NodeRegistry(1_000, 10_000);
    reg.seen('n1', 5_000);
    expect([...reg.health(map, [], 11_000).dead]).toEqual([]);
    expect([...reg.health(map, [], 11_001).dead]).toEqual(['n2', 'n3']);
    expect([...reg.health(map, [], 15_001).dead]).toEqual(['n1', 'n2', 'n3']);
    reg.seen('n1', 15_001);
    expect([...reg.health(map, ['n2'], 15_001).dead]).toEqual(['n2', 'n3']);
    expect([...reg.health(map, ['n2'], 15_001).draining]).toEqual(['n2']);
  });

  it('remembers a bounded number of nodes', () => {
    const reg = new NodeRegistry(0, 10, 2);
    for (const n of ['n1', 'n2', 'n3']) reg.seen(n, 100);
    expect([...reg.health(map, [], 105).dead]).toEqual(['n3']);
  });
});
