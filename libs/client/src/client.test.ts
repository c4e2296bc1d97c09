import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { SynodError, type MessageBody } from '@synod/codec';
import { MAX_KEY_BYTES, MAX_TXN_BYTES, MAX_VALUE_BYTES } from '@synod/limits';
import { RangeMap } from '@synod/placement';
import { Bus, MemoryHub } from '@synod/transport';
import { SynodClient, type ReplyBody } from './client.js';

const NODES = [
  { id: 'n1', dc: 'dc-a' },
  { id: 'n2', dc: 'dc-b' },
  { id: 'n3', dc: 'dc-c' },
];
const rangeMap = RangeMap.uniform(NODES, ['m']);
const buses: Bus[] = [];
afterEach(async () => {
  for (const b of buses.splice(0)) await b.close();
});

async function bus(hub: MemoryHub, nodeId: string, dc: string): Promise<Bus> {
  const b = new Bus(hub.wire(), { nodeId, dc });
  await b.start();
  buses.push(b);
  return b;
}

/** Fake spanservers: n2 leads; the others answer NOT_LEADER pointing at it. Records who was asked. */
async function fakeCluster(hub: MemoryHub, asked: string[]) {
  for (const n of NODES) {
    const b = await bus(hub, n.id, n.dc);
    b.on('kv.read', (env) => {
      asked.push(n.id);
      if (n.id !== 'n2') throw new SynodError('NOT_LEADER', 'not me', { leader: 'n2' });
      return { kind: 'kv.values', body: { values: env.body.keys.map((key) => ({ key, value: 7, ts: 5 })), epoch: '3.n2' } };
    });
    b.on('kv.commit', () => {
      asked.push(`${n.id}:commit`);
      return { kind: 'kv.committed', body: { ts: 42, commitWaitUs: 0 } };
    });
    b.on('kv.snapshot', (env) => {
      asked.push(`${n.id}:snapshot`);
      return { kind: 'kv.values', body: { values: (env.body.keys ?? []).map((key) => ({ key, value: n.id })), ts: 9 } };
    });
  }
}

describe('SynodClient routing', () => {
  it('follows a NOT_LEADER hint and remembers the leader', async () => {
    const hub = new MemoryHub();
    const asked: string[] = [];
    await fakeCluster(hub, asked);
    const client = new SynodClient(await bus(hub, 'c1', 'dc-a'), rangeMap);
    const r = await client.transaction(async (tx) => {
      const v = (await tx.get('apple')) as number;
      tx.put('apple', v + 1);
      return v;
    });
    expect(r).toMatchObject({ result: 7, ts: 42, attempts: 1 });
    // Reads go wherever the hint leads; the commit goes straight to the remembered leader.
    expect(asked.at(-1)).toBe('n2:commit');
    expect(asked.filter((a) => a === 'n2').length).toBe(1);
  });

  it('serves bounded-staleness reads from the replica in its own DC', async () => {
    const hub = new MemoryHub();
    const asked: string[] = [];
    await fakeCluster(hub, asked);
    const client = new SynodClient(await bus(hub, 'c3', 'dc-c'), rangeMap);
    const r = await client.read(['apple'], { maxStalenessMs: 1000 });
    expect(r.values.get('apple')).toBe('n3');
    expect(asked).toEqual(['n3:snapshot']);
  });

  it('refuses a transaction that spans splits before sending anything', async () => {
    const hub = new MemoryHub();
    const asked: string[] = [];
    await fakeCluster(hub, asked);
    const client = new SynodClient(await bus(hub, 'c1', 'dc-a'), rangeMap);
    await expect(client.transaction(async (tx) => (tx.put('apple', 1), tx.put('zebra', 2)))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(asked).toEqual([]);
  });
});

describe('SynodClient.call', () => {
  it('returns the reply body typed by the request kind, with no cast', async () => {
    const hub = new MemoryHub();
    await fakeCluster(hub, []);
    const client = new SynodClient(await bus(hub, 'c1', 'dc-a'), rangeMap);
    const split = rangeMap.splitFor('apple');
    const read = await client.call(split, 'kv.read', { txn: { id: 't1', startTs: 1 }, keys: ['apple'] }, 'leader');
    expectTypeOf(read).toEqualTypeOf<MessageBody<'kv.values'>>();
    expect(read.epoch).toBe('3.n2');
    const committed = await client.call(split, 'kv.commit', { txn: { id: 't1', startTs: 1 }, writes: [] }, 'leader');
    expectTypeOf(committed).toEqualTypeOf<MessageBody<'kv.committed'>>();
    expect(committed.ts).toBe(42);
    expectTypeOf(client.call<'kv.snapshot'>).returns.resolves.toEqualTypeOf<MessageBody<'kv.values'>>();
    expectTypeOf(client.call<'kv.abort'>).returns.resolves.toEqualTypeOf<MessageBody<'kv.ok'>>();
    expectTypeOf<ReplyBody<'kv.commit'>>().toEqualTypeOf<{ ts: number; commitWaitUs: number }>();
    // A reply kind is not a request, and a request's body is checked against its own schema
    // (compiled, never run).
    const notCompiled = () => [
      // @ts-expect-error 'kv.values' is not a request kind
      client.call(split, 'kv.values', { values: [] }, 'leader'),
      // @ts-expect-error a kv.read body needs a txn
      client.call(split, 'kv.read', { keys: ['apple'] }, 'leader'),
    ];
    void notCompiled;
  });

  it('refuses a reply of another kind than the request is answered with', async () => {
    const hub = new MemoryHub();
    const server = await bus(hub, 'n2', 'dc-b');
    server.on('kv.commit', () => ({ kind: 'kv.ok', body: {} }));
    const client = new SynodClient(await bus(hub, 'c1', 'dc-a'), rangeMap, { maxAttempts: 1 });
    const split = { ...rangeMap.splitFor('apple'), replicas: ['n2'] };
    await expect(client.call(split, 'kv.commit', { txn: { id: 't1', startTs: 1 }, writes: [] }, 'leader')).rejects.toMatchObject({ code: 'INTERNAL' });
  });
});

/**
 * A bus that records every request the client makes and answers like a leader. The limit tests
 * use it rather than MemoryHub so they test the client's own check, not the codec's frame limit.
 */
function recordingBus(dc = 'dc-a') {
  const sent: Array<{ to: string; kind: string; body: unknown }> = [];
  const stub = {
    nodeId: 'c-limits',
    dc,
    async request(to: string, kind: string, body: { keys?: string[] }) {
      sent.push({ to, kind, body });
      if (kind === 'kv.commit') return { kind: 'kv.committed', body: { ts: 42, commitWaitUs: 0 } };
      if (kind === 'kv.abort') return { kind: 'kv.ok', body: {} };
      return { kind: 'kv.values', body: { values: (body.keys ?? []).map((key) => ({ key, value: 1 })), ts: 9, epoch: '1.n1' } };
    },
  };
  return { bus: stub as unknown as Bus, sent };
}

describe('SynodClient limits (docs/limits.md)', () => {
  // A string's encoded size (what MAX_VALUE_BYTES measures) is its UTF-8 length plus a 5-byte header.
  const maxValue = 'v'.repeat(MAX_VALUE_BYTES - 5);

  it('sends a 1 MiB value and refuses one byte more with VALUE_TOO_LARGE, sending nothing', async () => {
    const { bus: b, sent } = recordingBus();
    const client = new SynodClient(b, rangeMap);
    await expect(client.put('apple', maxValue)).resolves.toBe(42);
    expect(sent.map((m) => m.kind)).toEqual(['kv.commit']);

    sent.length = 0;
    const err = await client.put('apple', maxValue + 'v').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SynodError);
    expect(err).toMatchObject({ code: 'VALUE_TOO_LARGE', hint: { limit: MAX_VALUE_BYTES, actual: MAX_VALUE_BYTES + 1 } });
    expect(sent).toEqual([]);
  });

  it('refuses an oversized value inside a transaction before its reads or commit are sent', async () => {
    const { bus: b, sent } = recordingBus();
    const client = new SynodClient(b, rangeMap);
    const run = client.transaction(async (tx) => {
      tx.put('apple', { blob: maxValue });
      return tx.get('banana');
    });
    await expect(run).rejects.toMatchObject({ code: 'VALUE_TOO_LARGE' });
    expect(sent).toEqual([]);
  });

  it('refuses keys over MAX_KEY_BYTES in writes, transactional reads and snapshot reads', async () => {
    const { bus: b, sent } = recordingBus();
    const client = new SynodClient(b, rangeMap);
    const longKey = 'a'.repeat(MAX_KEY_BYTES + 1);
    await expect(client.put(longKey, 1)).rejects.toMatchObject({ code: 'KEY_TOO_LARGE' });
    await expect(client.delete(longKey)).rejects.toMatchObject({ code: 'KEY_TOO_LARGE' });
    await expect(client.transaction((tx) => tx.get(longKey))).rejects.toMatchObject({ code: 'KEY_TOO_LARGE' });
    await expect(client.get(longKey)).rejects.toMatchObject({ code: 'KEY_TOO_LARGE' });
    await expect(client.scan(longKey, '')).rejects.toMatchObject({ code: 'KEY_TOO_LARGE' });
    expect(sent).toEqual([]);
    await expect(client.put('a'.repeat(MAX_KEY_BYTES), 1)).resolves.toBe(42);
  });

  it('refuses a transaction whose values together exceed MAX_TXN_BYTES with TXN_TOO_LARGE', async () => {
    const { bus: b, sent } = recordingBus();
    const client = new SynodClient(b, rangeMap);
    const n = Math.ceil(MAX_TXN_BYTES / MAX_VALUE_BYTES) + 1;
    const run = client.transaction(async (tx) => {
      for (let i = 0; i < n; i++) tx.put(`apple${i}`, maxValue);
    });
    await expect(run).rejects.toMatchObject({ code: 'TXN_TOO_LARGE' });
    expect(sent).toEqual([]);
  });
});
