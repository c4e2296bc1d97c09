import { describe, expect, it } from 'vitest';
import { MemoryHub } from './memory-wire.js';

describe('MemoryHub delivery', () => {
  it('delivers to every matching subscriber in publish order', async () => {
    const hub = new MemoryHub();
    const a = hub.wire();
    const b = hub.wire();
    const got: string[] = [];
    a.subscribe('x.*', (d) => got.push(`a:${new TextDecoder().decode(d)}`));
    b.subscribe('x.>', (d) => got.push(`b:${new TextDecoder().decode(d)}`));
    const c = hub.wire();
    for (const m of ['1', '2', '3']) c.publish('x.y', new TextEncoder().encode(m));
    expect(got).toEqual([]); // never inside the publish call
    await new Promise((r) => setTimeout(r, 5));
    expect(got).toEqual(['a:1', 'b:1', 'a:2', 'b:2', 'a:3', 'b:3']);
  });

  // A request answered at once, awaited in a loop, is what a client's read loop does against a
  // spanserver that serves reads in the same turn. Delivered as microtasks, the loop never
  // yields to the event loop: no timer fires while it runs (leases lapsed in spanserver.test.ts).
  it('lets timers run while a client loops on requests that are answered at once', async () => {
    const hub = new MemoryHub();
    const server = hub.wire();
    server.subscribe('echo', (d, respond) => respond?.(d));
    const client = hub.wire();
    let fired = 0;
    const timer = setInterval(() => fired++, 1);
    let requests = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < 100) {
      await client.request('echo', new Uint8Array([1]), 1_000);
      requests++;
    }
    const firedDuringLoop = fired;
    clearInterval(timer);
    expect(requests).toBeGreaterThan(0);
    expect(firedDuringLoop).toBeGreaterThan(0);
  });

  it('a subscriber that throws loses no other delivery', async () => {
    const hub = new MemoryHub();
    const w = hub.wire();
    const got: number[] = [];
    const errors: unknown[] = [];
    const onError = (e: unknown) => errors.push(e);
    process.prependListener('uncaughtException', onError);
    try {
      w.subscribe('t', (d) => {
        if (d[0] === 2) throw new Error('boom');
        got.push(d[0]!);
      });
      for (const n of [1, 2, 3]) w.publish('t', new Uint8Array([n]));
      await new Promise((r) => setTimeout(r, 10));
    } finally {
      process.removeListener('uncaughtException', onError);
    }
    expect(got).toEqual([1, 3]);
  });
});
