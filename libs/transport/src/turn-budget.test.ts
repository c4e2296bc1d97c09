import { describe, expect, it } from 'vitest';
import { TurnBudget } from './turn-budget.js';

/** A TurnBudget on a hand-driven clock and scheduler: `turn()` ends the current event-loop turn. */
function rig(opts: { budgetMs?: number; maxQueuedBytes?: number; costMs?: number } = {}) {
  let now = 0;
  const scheduled: Array<() => void> = [];
  const ran: number[] = [];
  const queued: number[] = [];
  const cost = opts.costMs ?? 1;
  const budget = new TurnBudget<number>(
    (n) => {
      ran.push(n);
      now += cost;
    },
    {
      budgetMs: opts.budgetMs ?? 4,
      maxQueuedBytes: opts.maxQueuedBytes ?? 1_000,
      size: () => 100,
      onQueued: (n) => queued.push(n),
      schedule: (fn) => scheduled.push(fn),
      nowMs: () => now,
    },
  );
  const turn = () => {
    const fns = scheduled.splice(0);
    for (const fn of fns) fn();
  };
  return { budget, ran, queued, turn };
}

describe('TurnBudget', () => {
  it('runs inbound work at once while the turn has budget, then leaves the rest for later turns in order', () => {
    const { budget, ran, queued, turn } = rig();
    for (let i = 1; i <= 10; i++) budget.offer(i);
    // 1 ms each: 4 ms of budget runs four, the rest waits.
    expect(ran).toEqual([1, 2, 3, 4]);
    expect(queued).toEqual([5, 6, 7, 8, 9, 10]);
    expect(budget.waiting()).toBe(6);
    turn();
    expect(ran).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // Something arriving while older work waits goes behind it, even in a fresh turn.
    budget.offer(11);
    expect(ran.at(-1)).toBe(8);
    turn();
    expect(ran).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(budget.waiting()).toBe(0);
    expect(budget.deferred).toBe(7);
    turn();
    // A quiet turn later, work runs at once again.
    budget.offer(12);
    expect(ran.at(-1)).toBe(12);
  });

  it('works the queue off at once rather than hold more than maxQueuedBytes', () => {
    const { budget, ran } = rig({ maxQueuedBytes: 300 });
    for (let i = 1; i <= 4; i++) budget.offer(i); // budget spent
    for (let i = 5; i <= 7; i++) budget.offer(i); // 300 bytes wait
    expect(ran).toEqual([1, 2, 3, 4]);
    budget.offer(8); // would make 400
    expect(ran).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(budget.waiting()).toBe(0);
  });

  it('makes progress every turn even when one item outlasts the budget', () => {
    const { budget, ran, turn } = rig({ costMs: 10 });
    budget.offer(1);
    budget.offer(2);
    budget.offer(3);
    expect(ran).toEqual([1]);
    turn();
    expect(ran).toEqual([1, 2]);
    turn();
    expect(ran).toEqual([1, 2, 3]);
  });
});
