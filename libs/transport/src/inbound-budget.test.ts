import { describe, expect, it } from 'vitest';
import { MemoryHub } from './memory-wire.js';
import { testNodes } from './test-nodes.fixture.js';

const node = testNodes();
const heartbeat = (n: number) => ({ type: 'heartbeat' as const, group: 'g1', from: 'n1', ballot: { round: 1, node: 'n1' }, chosenUpTo: n, sentAtUs: 0 });
const spin = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

describe('the inbound budget (docs/transport.md "Inbound budget")', () => {
  // One burst of messages that each take 1 ms to handle: without the budget the receiving bus
  // handles all of them in one turn and no timer of its process runs meanwhile.
  async function burst(inboundBudgetMs: number) {
    const hub = new MemoryHub();
    const a = await node(hub.wire(), 'n1', { coalesce: false });
    const b = await node(hub.wire(), 'n2', { inboundBudgetMs });
    const got: number[] = [];
    const timerAt: number[] = [];
    b.on('paxos', (env) => {
      spin(1);
      got.push((env.body as { chosenUpTo: number }).chosenUpTo);
    });
    const timer = setInterval(() => timerAt.push(got.length), 1);
    const n = 60;
    for (let i = 0; i < n; i++) a.send('n2', 'paxos', heartbeat(i), 'g1');
    for (let i = 0; i < 10_000 && got.length < n; i++) await new Promise((r) => setImmediate(r));
    clearInterval(timer);
    // Timer runs that saw part of the burst handled and part not yet: the timer ran inside it.
    const inside = timerAt.filter((k) => k > 0 && k < n).length;
    return { got, n, inside, deferred: b.metrics.total('synod_bus_inbound_deferred_total'), waiting: b.inboundWaiting };
  }

  it('hands the rest of a burst to later turns, in order, so timers run in between', async () => {
    const r = await burst(4);
    expect(r.got).toEqual(Array.from({ length: r.n }, (_, i) => i));
    expect(r.deferred).toBeGreaterThan(0);
    expect(r.inside).toBeGreaterThan(0);
    expect(r.waiting).toBe(0);
  });

  it('without it (0), the whole burst runs in one turn and no timer runs inside it', async () => {
    const r = await burst(0);
    expect(r.got).toEqual(Array.from({ length: r.n }, (_, i) => i));
    expect(r.deferred).toBe(0);
    expect(r.inside).toBe(0);
  });

  it('refuses a budget outside 0..1000 ms', async () => {
    const hub = new MemoryHub();
    await expect(node(hub.wire(), 'n3', { inboundBudgetMs: -1 })).rejects.toThrow(/inbound budget/);
    await expect(node(hub.wire(), 'n4', { inboundBudgetMs: 5_000 })).rejects.toThrow(/inbound budget/);
  });
});
