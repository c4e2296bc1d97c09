import { sizeBound } from '@synod/limits';
import { describe, expect, it } from 'vitest';
import type { Ballot } from './ballot.js';
import { cmd, Harness, outbound } from './testing/harness.js';
import type { Value } from './value.js';

/**
 * Byte budgets (docs/paxos.md, "Message budgets"): no message the replica emits may exceed
 * maxMessageBytes, however long the log suffix it must carry, and nothing is lost by the cuts.
 */
const ids = ['a', 'b', 'c'];
const BUDGET = 4096;
const b = (round: number, node: string): Ballot => ({ round, node });
const payload = (i: number) => `${i}:`.padEnd(1200, 'x');
const batchOf = (i: number): Value => ({ kind: 'batch', cmds: [cmd(`w:${i + 1}`, payload(i))] });

function largestMessage(h: Harness): number {
  let max = 0;
  for (const r of h.readies) for (const o of outbound(r.ready)) max = Math.max(max, sizeBound(o.msg));
  return max;
}

function run(h: Harness, ms: number): void {
  for (let t = 0; t < ms; t += 10) {
    h.now += 10_000;
    for (const id of h.ids) h.tick(id);
    h.deliverAll();
  }
}

describe('message byte budgets', () => {
  it('a promise suffix larger than one message arrives in parts and every accepted value survives phase 1', () => {
    const accepted = Array.from({ length: 40 }, (_, slot) => ({ slot, ballot: b(1, 'z'), value: batchOf(slot) }));
    const h = new Harness(ids, { maxMessageBytes: BUDGET }, {
      b: { promised: b(1, 'z'), accepted },
      c: { promised: b(1, 'z'), accepted },
    });
    h.elect('a');
    expect(h.get('a').isLeader()).toBe(true);
    run(h, 200);
    for (let s = 0; s < 40; s++) expect(h.get('a').chosenValue(s) ?? h.applied.get('a')![s]?.value).toEqual(batchOf(s));
    expect(h.appliedCommandIds('a')).toEqual(accepted.map((_, i) => `w:${i + 1}`));
    expect(largestMessage(h)).toBeLessThanOrEqual(BUDGET);
  });

  it('accept batches and catch-up replies are cut to the budget; a follower far behind catches up', () => {
    const h = new Harness(ids, { maxMessageBytes: BUDGET, maxBatch: 64 });
    h.elect('a');
    h.drop = (to, msg) => to === 'c' || msg.from === 'c';
    for (let i = 0; i < 60; i++) h.propose('a', [cmd(`w:${i + 1}`, payload(i))]);
    h.deliverAll();
    run(h, 100);
    expect(h.get('a').appliedUpTo()).toBeGreaterThanOrEqual(60);
    expect(h.get('c').appliedUpTo()).toBe(0);
    h.drop = () => false;
    run(h, 2_000);
    expect(h.appliedCommandIds('c')).toEqual(h.appliedCommandIds('a'));
    expect(largestMessage(h)).toBeLessThanOrEqual(BUDGET);
  });

  it('a command over maxCommandBytes is refused at propose and never replicated', () => {
    const h = new Harness(ids, { maxMessageBytes: BUDGET });
    h.elect('a');
    const sent = h.readies.length;
    const out = h.propose('a', [cmd('big:1', 'x'.repeat(BUDGET)), cmd('ok:1', 'small')]);
    expect(out.proposalResults).toEqual([
      { ids: ['big:1'], status: 'too_large', leaderHint: 'a' },
      { ids: ['ok:1'], status: 'queued', leaderHint: 'a' },
    ]);
    h.deliverAll();
    expect(h.appliedCommandIds('a')).toEqual(['ok:1']);
    expect(h.readies.slice(sent).flatMap((r) => outbound(r.ready)).every((o) => !JSON.stringify(o.msg).includes('big:1'))).toBe(true);
  });
});
