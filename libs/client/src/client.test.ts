import { afterEach, describe, expect, it } from 'vitest';
import { SynodError } from '@synod/codec';
import { RangeMap } from '@synod/placement';
import { Bus, MemoryHub } from '@synod/transport';
import { SynodClient } from './client.js';

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
