import { describe, expect, it } from 'vitest';
import { RangeMap } from '@synod/placement';
import { LATE_AFTER_MS, NodeRegistry } from './node-health.js';

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

  it('calls a node late after LATE_AFTER_MS without a report, before it is dead', () => {
    const reg = new NodeRegistry(0, 10_000);
    for (const n of ['n1', 'n2', 'n3']) reg.seen(n, 1_000);
    reg.seen('n1', 4_000);
    expect([...reg.health(map, [], 1_000 + LATE_AFTER_MS).late]).toEqual([]);
    expect([...reg.health(map, [], 1_001 + LATE_AFTER_MS).late]).toEqual(['n2', 'n3']);
    expect([...reg.health(map, [], 11_001).late]).toEqual(['n1']); // n2 and n3 are dead by then
    expect([...reg.health(map, [], 11_001).dead]).toEqual(['n2', 'n3']);
    // A dead-after shorter than LATE_AFTER_MS: late from then on is dead, never late.
    const quick = new NodeRegistry(0, 500);
    quick.seen('n1', 0);
    expect([...quick.health(map, [], 600).late]).toEqual([]);
    expect([...quick.health(map, [], 600).dead]).toEqual(['n1', 'n2', 'n3']);
  });

  it('remembers a bounded number of nodes', () => {
    const reg = new NodeRegistry(0, 10, 2);
    for (const n of ['n1', 'n2', 'n3']) reg.seen(n, 100);
    expect([...reg.health(map, [], 105).dead]).toEqual(['n3']);
  });
});
