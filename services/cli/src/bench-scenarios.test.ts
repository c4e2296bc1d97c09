import { describe, expect, it } from 'vitest';
import type { SynodClient } from '@synod/client';
import { scenario } from './bench-scenarios.js';

/**
 * A one-process stand-in for the client: a map, transactions applied at their end. `atomic: false`
 * applies a transaction's writes with a read of another transaction in between, the lost update
 * the scenarios' invariants exist to catch.
 */
function memoryClient(atomic = true) {
  const kv = new Map<string, unknown>();
  let pendingOther: (() => void) | undefined;
  const client = {
    put: async (k: string, v: unknown) => void kv.set(k, v),
    read: async (keys: string[]) => ({ values: new Map(keys.filter((k) => kv.has(k)).map((k) => [k, kv.get(k)])), ts: 1 }),
    scan: async () => ({ rows: [], ts: 1 }),
    transaction: async (fn: (tx: unknown) => Promise<unknown>) => {
      const writes = new Map<string, unknown>();
      const deletes = new Set<string>();
      const tx = { get: async (k: string) => kv.get(k), put: (k: string, v: unknown) => writes.set(k, v), delete: (k: string) => deletes.add(k) };
      await fn(tx);
      if (!atomic) {
        // Another increment slips in between this one's read and write (and is then overwritten).
        const first = pendingOther;
        pendingOther = () => writes.forEach((v, k) => kv.set(k, v));
        if (first) first();
        return;
      }
      writes.forEach((v, k) => kv.set(k, v));
      deletes.forEach((k) => kv.delete(k));
    },
  };
  return client as unknown as SynodClient;
}

const opts = { prefix: '', keys: 50, value: 'v', staleMs: 0, drawKey: () => 'k' };

describe('bench scenarios', () => {
  it('bank: transfers keep the total; the final audit says so', async () => {
    const s = scenario('bank', memoryClient(), opts);
    await s.setup();
    for (let i = 0; i < 200; i++) await s.op(i % 4);
    expect(await s.verify()).toMatch(/every total 20000/);
  });

  it('hot: the counter equals the tallies, and a lost update is caught', async () => {
    const good = scenario('hot', memoryClient(), opts);
    await good.setup();
    for (let i = 0; i < 100; i++) await good.op(i % 5);
    expect(await good.verify()).toMatch(/counter 100 = sum of 5 tallies/);

    const lossy = scenario('hot', memoryClient(false), opts);
    await lossy.setup();
    for (let i = 0; i < 100; i++) await lossy.op(i % 5);
    await expect(lossy.verify()).rejects.toThrow(/lost or doubled increment/);
  });

  it('kv and read-mostly: every read finds its preloaded key', async () => {
    for (const name of ['kv', 'read-mostly'] as const) {
      const s = scenario(name, memoryClient(), opts);
      await s.setup();
      for (let i = 0; i < 200; i++) await s.op(i % 3);
      expect(await s.verify()).toMatch(/found/);
    }
  });
});
