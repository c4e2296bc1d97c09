import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SynodClient } from '@synod/client';
import { RangeMap } from '@synod/placement';
import { MemoryHub } from '@synod/transport';
import { startInMemoryClient, startInMemoryNode } from './in-memory-node.fixture.js';

const NODES = [
  { id: 'n1', dc: 'dc-a' },
  { id: 'n2', dc: 'dc-b' },
  { id: 'n3', dc: 'dc-c' },
];
const rangeMap = RangeMap.uniform(NODES, ['m']);
const hub = new MemoryHub();
const stops: Array<() => Promise<void>> = [];
let dir: string;
let client: SynodClient;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'synod-spanserver-'));
  for (const n of NODES) stops.push((await startInMemoryNode(hub, { ...n, path: join(dir, n.id), rangeMap })).stop);
  const c = await startInMemoryClient(hub, 'client-1', 'dc-b', rangeMap);
  stops.push(c.close);
  client = c.client;
}, 30_000);

afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('spanserver with the TypeScript client (in-memory bus, LMDB)', { timeout: 60_000 }, () => {
  it('writes, reads back strongly, and scans across splits at one timestamp', async () => {
    const ts = await client.put('apple', 'red');
    await client.put('zebra', 'striped');
    expect(ts).toBeGreaterThan(0);
    expect(await client.get('apple')).toBe('red');
    const { rows } = await client.scan('', '');
    expect(rows).toEqual([
      { key: 'apple', value: 'red' },
      { key: 'zebra', value: 'striped' },
    ]);
    await client.delete('apple');
    expect(await client.get('apple')).toBeUndefined();
    // A snapshot read at the first write's timestamp still sees it.
    expect(await client.get('apple', { ts })).toBe('red');
  });

  it('serializes conflicting read-modify-write transactions (no lost updates)', async () => {
    await client.put('counter', 0);
    const workers = Array.from({ length: 8 }, async () => {
      for (let i = 0; i < 5; i++)
        await client.transaction(async (tx) => {
          const v = (await tx.get('counter')) as number;
          tx.put('counter', v + 1);
        });
    });
    await Promise.all(workers);
    expect(await client.get('counter')).toBe(40);
  });

  it('conserves the total of concurrent transfers in every read-only snapshot', async () => {
    const accounts = Array.from({ length: 6 }, (_, i) => `acct-${i}`);
    await client.transaction(async (tx) => accounts.forEach((a) => tx.put(a, 100)));
    let running = true;
    const sums: number[] = [];
    const auditor = (async () => {
      while (running) {
        const { values } = await client.read(accounts);
        sums.push(accounts.reduce((s, a) => s + (values.get(a) as number), 0));
      }
    })();
    try {
      await Promise.all(
        Array.from({ length: 4 }, async (_, w) => {
          for (let i = 0; i < 6; i++) {
            const from = accounts[(w + i) % accounts.length]!;
            const to = accounts[(w + 2 * i + 1) % accounts.length]!;
            if (from === to) continue;
            await client.transaction(async (tx) => {
              const a = (await tx.get(from)) as number;
              const b = (await tx.get(to)) as number;
              tx.put(from, a - 7);
              tx.put(to, b + 7);
            });
          }
        }),
      );
    } finally {
      // A failed transfer must not leave the auditor reading into the tests after this one.
      running = false;
      await auditor;
    }
    expect(sums.length).toBeGreaterThan(0);
    expect(new Set(sums)).toEqual(new Set([600]));
    const { values } = await client.read(accounts);
    expect(accounts.reduce((s, a) => s + (values.get(a) as number), 0)).toBe(600);
  });

  it('a bounded-staleness read is served without waiting and never from the future', async () => {
    const ts = await client.put('fresh', 1);
    const r = await client.read(['fresh'], { maxStalenessMs: 10_000 });
    expect(r.ts).toBeLessThanOrEqual(Math.round((performance.timeOrigin + performance.now()) * 1000) + 1_000);
    if (r.ts >= ts) expect(r.values.get('fresh')).toBe(1);
  });

  it('pages a scan through more rows than one request carries, at one timestamp', async () => {
    await client.transaction(async (tx) => {
      for (let i = 0; i < 1_500; i++) tx.put(`page/${String(i).padStart(5, '0')}`, i);
    });
    const { rows } = await client.scan('page/', 'page0', { limit: 1_400 });
    expect(rows.length).toBe(1_400);
    expect(rows.map((r) => r.value)).toEqual(Array.from({ length: 1_400 }, (_, i) => i));
  });

  it('answers SNAPSHOT_TOO_OLD for a snapshot read below the GC horizon (one hour back)', async () => {
    const hourAgoUs = Math.round((performance.timeOrigin + performance.now()) * 1000) - 3_700_000_000;
    await expect(client.get('apple', { ts: hourAgoUs })).rejects.toMatchObject({ code: 'SNAPSHOT_TOO_OLD' });
  });

  it('refuses a commit whose read locks are gone (aborted, or a retried commit)', async () => {
    const split = rangeMap.splitFor('lk');
    const txn = { id: 'manual-1', startTs: Math.round((performance.timeOrigin + performance.now()) * 1000) };
    const read = await client.call(split, 'kv.read', { txn, keys: ['lk'] }, 'leader');
    await client.call(split, 'kv.abort', { txnId: txn.id }, 'leader');
    const commit = { txn, epoch: read.epoch, readKeys: ['lk'], writes: [{ key: 'lk', value: 1 }] };
    await expect(client.call(split, 'kv.commit', commit, 'leader')).rejects.toMatchObject({ code: 'TXN_ABORTED' });
    expect(await client.get('lk')).toBeUndefined();
  });

  it('commits a transaction across both splits atomically, at one timestamp (2PC)', async () => {
    await client.put('xa', 10);
    await client.put('xz', 10);
    const r = await client.transaction(async (tx) => {
      const a = (await tx.get('xa')) as number;
      const z = (await tx.get('xz')) as number;
      tx.put('xa', a - 3);
      tx.put('xz', z + 3);
    });
    const read = await client.read(['xa', 'xz']);
    expect([read.values.get('xa'), read.values.get('xz')]).toEqual([7, 13]);
    // Both writes carry the commit timestamp: a snapshot just below it sees neither.
    const before = await client.read(['xa', 'xz'], { ts: r.ts - 1 });
    expect([before.values.get('xa'), before.values.get('xz')]).toEqual([10, 10]);
    // Concurrent cross-split transfers conserve the total.
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        client.transaction(async (tx) => {
          const [from, to] = i % 2 === 0 ? ['xa', 'xz'] : ['xz', 'xa'];
          const f = (await tx.get(from)) as number;
          const t = (await tx.get(to)) as number;
          tx.put(from, f - 1);
          tx.put(to, t + 1);
        }),
      ),
    );
    const after = await client.read(['xa', 'xz']);
    expect((after.values.get('xa') as number) + (after.values.get('xz') as number)).toBe(20);
  });

  it('rejects keys outside a split with stable codes', async () => {
    const s1 = rangeMap.all()[0]!;
    await expect(client.call(s1, 'kv.snapshot', { keys: ['zzz'], waitMs: 100, leaseRead: false }, 'nearest')).rejects.toMatchObject({ code: 'KEY_OUT_OF_RANGE' });
  });
});
