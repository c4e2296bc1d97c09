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

  /** Every replica answers kv.snapshot with `leaderOf(node)` as the leader it names (if any); returns who was asked, in order. */
  async function snapshotReplicas(hub: MemoryHub, leaderOf: (node: string) => string | undefined): Promise<string[]> {
    const asked: string[] = [];
    for (const n of NODES) {
      const b = await bus(hub, n.id, n.dc);
      b.on('kv.snapshot', (env) => {
        asked.push(n.id);
        const leader = leaderOf(n.id);
        return { kind: 'kv.values', body: { values: (env.body.keys ?? []).map((key) => ({ key, value: n.id })), ts: 9, ...(leader !== undefined ? { leader } : {}) } };
      });
    }
    return asked;
  }

  it('a strong read answered by a follower that names the leader goes to that leader next time', async () => {
    const hub = new MemoryHub();
    // Every replica answers (a follower after waiting for t_safe); only followers name n2.
    const asked = await snapshotReplicas(hub, (node) => (node !== 'n2' ? 'n2' : undefined));
    const client = new SynodClient(await bus(hub, 'c1', 'dc-a'), rangeMap);
    // No leader cached: the first read goes to any replica; from then on, all go to n2.
    for (let i = 0; i < 5; i++) await client.get('apple');
    expect(asked.slice(1)).toEqual(['n2', 'n2', 'n2', 'n2']);
  });

  it('a strong read answered by a follower naming a node outside the split keeps asking the one that answered', async () => {
    const hub = new MemoryHub();
    const asked = await snapshotReplicas(hub, () => 'n9');
    const client = new SynodClient(await bus(hub, 'c1', 'dc-a'), rangeMap);
    for (let i = 0; i < 3; i++) await client.get('apple');
    expect(new Set(asked).size).toBe(1);
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

  it('commits a transaction across splits: a prepare to the other split, the commit with participants to the coordinator', async () => {
    const hub = new MemoryHub();
    const asked: string[] = [];
    await fakeCluster(hub, asked);
    const sent: Array<{ kind: string; group: string; participants?: string[]; coordinator?: string }> = [];
    const client = new SynodClient(await bus(hub, 'c1', 'dc-a'), rangeMap);
    const request = client.bus.request.bind(client.bus);
    client.bus.request = ((to, kind, body, opts) => {
      const b = body as { participants?: string[]; coordinator?: string };
      if (kind === 'kv.commit' || kind === 'kv.prepare') sent.push({ kind, group: opts?.group ?? '', ...(b.participants ? { participants: b.participants } : {}), ...(b.coordinator ? { coordinator: b.coordinator } : {}) });
      if (kind === 'kv.prepare') return Promise.resolve({ kind: 'kv.prepared', body: { ts: 40 } } as never);
      return request(to, kind, body, opts);
    }) as typeof client.bus.request;
    const r = await client.transaction(async (tx) => (tx.put('apple', 1), tx.put('zebra', 2)));
    expect(r.ts).toBe(42);
    const [a, z] = [rangeMap.splitFor('apple').id, rangeMap.splitFor('zebra').id];
    const coordinator = [a, z].sort()[0]!;
    const participant = coordinator === a ? z : a;
    expect(sent).toEqual(
      expect.arrayContaining([
        { kind: 'kv.prepare', group: participant, coordinator },
        { kind: 'kv.commit', group: coordinator, participants: [participant] },
      ]),
    );
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

type Sent = { to: string; kind: string; body: Record<string, unknown> };
type Answer = { kind: string; body: unknown };

/**
 * A fake bus whose spanservers are one function: it sees every request (recorded in `sent`, in
 * order; `nth` counts the requests of that kind to that node) and returns the reply or throws the
 * SynodError a real bus would (TIMEOUT for a lost request or reply, NOT_LEADER, …). No real
 * waiting: a timeout is thrown at once.
 */
function scriptedBus(serve: (m: Sent, nth: number) => Answer, dc = 'dc-a') {
  const sent: Sent[] = [];
  const stub = {
    nodeId: 'c-script',
    dc,
    async request(to: string, kind: string, body: Record<string, unknown>) {
      const m = { to, kind, body };
      sent.push(m);
      return serve(m, sent.filter((x) => x.kind === kind && x.to === to).length);
    },
  };
  return { bus: stub as unknown as Bus, sent };
}

const lost = (m: Sent) => new SynodError('TIMEOUT', `${m.kind} to ${m.to} timed out after 100 ms`);
const committed = (ts: number): Answer => ({ kind: 'kv.committed', body: { ts, commitWaitUs: 3 } });
const values = (m: Sent): Answer => ({ kind: 'kv.values', body: { values: (m.body.keys as string[]).map((key) => ({ key, value: 1 })), epoch: '1.n2' } });
const status = (body: MessageBody<'kv.txn-status.reply'>): Answer => ({ kind: 'kv.txn-status.reply', body });
const txnIdOf = (m: Sent) => (m.body.txn as { id: string }).id;
/** n2 leads the split of 'apple'; the others point at it. */
const notLeader = (m: Sent) => new SynodError('NOT_LEADER', `${m.to} does not lead`, { leader: 'n2' });

describe('SynodClient commit whose outcome is not answered', () => {
  it('resends a commit that timed out with the same transaction id, and reports resolvedBy retry', async () => {
    const { bus: b, sent } = scriptedBus((m, nth) => {
      if (m.to !== 'n2') throw notLeader(m);
      if (m.kind === 'kv.commit') {
        if (nth === 1) throw lost(m);
        return committed(55);
      }
      return values(m);
    });
    const client = new SynodClient(b, rangeMap, { timeoutMs: 100 });
    const r = await client.transaction(async (tx) => tx.put('apple', 1));
    const commits = sent.filter((m) => m.kind === 'kv.commit' && m.to === 'n2');
    expect(commits).toHaveLength(2);
    expect(txnIdOf(commits[1]!)).toBe(txnIdOf(commits[0]!));
    expect(r).toMatchObject({ ts: 55, attempts: 1, resolvedBy: 'retry', txnId: txnIdOf(commits[0]!), commitWaitUs: 3 });
    expect(sent.some((m) => m.kind === 'kv.txn-status' || m.kind === 'kv.abort')).toBe(false);
  });

  it('treats UNAVAILABLE like a timeout: resent with the same id', async () => {
    const { bus: b, sent } = scriptedBus((m, nth) => {
      if (m.to !== 'n2') throw notLeader(m);
      if (nth === 1) throw new SynodError('UNAVAILABLE', 'clock not serving');
      return committed(56);
    });
    const client = new SynodClient(b, rangeMap, { timeoutMs: 100 });
    const r = await client.transaction(async (tx) => tx.put('apple', 1));
    expect(r).toMatchObject({ ts: 56, resolvedBy: 'retry' });
    expect(new Set(sent.filter((m) => m.kind === 'kv.commit').map(txnIdOf)).size).toBe(1);
  });

  it('answers a first-try commit with resolvedBy reply and the attempt id', async () => {
    const { bus: b, sent } = scriptedBus((m) => (m.to !== 'n2' ? (() => { throw notLeader(m); })() : committed(57)));
    const client = new SynodClient(b, rangeMap, { timeoutMs: 100 });
    const r = await client.transaction(async (tx) => tx.put('apple', 1));
    expect(r).toMatchObject({ ts: 57, resolvedBy: 'reply', attempts: 1 });
    expect(r.txnId).toMatch(/^c-script-[a-z0-9]+:1\.1$/);
    expect(txnIdOf(sent.at(-1)!)).toBe(r.txnId);
  });

  it('after the resends time out, asks kv.txn-status at the leader (following NOT_LEADER, retrying UNAVAILABLE): committed returns its ts', async () => {
    const { bus: b, sent } = scriptedBus((m, nth) => {
      if (m.kind === 'kv.commit') throw lost(m);
      if (m.kind === 'kv.txn-status') {
        if (m.to !== 'n2') throw notLeader(m);
        if (nth <= 2) throw new SynodError('UNAVAILABLE', 'electing');
        return status({ state: 'committed', ts: 77 });
      }
      throw new Error(`unexpected ${m.kind}`);
    });
    const client = new SynodClient(b, rangeMap, { timeoutMs: 100, commitResends: 2 });
    const r = await client.transaction(async (tx) => tx.put('apple', 1));
    const commits = sent.filter((m) => m.kind === 'kv.commit');
    // Three sends go unanswered (the first and two resends); no node answered NOT_LEADER.
    expect(commits).toHaveLength(3);
    expect(new Set(commits.map(txnIdOf))).toEqual(new Set([r.txnId]));
    expect(r).toMatchObject({ ts: 77, resolvedBy: 'status', attempts: 1, commitWaitUs: 0 });
    const lookups = sent.filter((m) => m.kind === 'kv.txn-status');
    expect(lookups.every((m) => m.body.txnId === r.txnId)).toBe(true);
    expect(lookups.at(-1)!.to).toBe('n2');
    // The server may park a lookup: it is told to answer well inside the request timeout.
    expect(lookups.every((m) => (m.body.waitMs as number) <= 50)).toBe(true);
    // Nothing asks the server to abort a commit that may have been applied.
    expect(sent.some((m) => m.kind === 'kv.abort')).toBe(false);
  });

  it('a status lookup that finds the commit aborted retries the whole transaction with a new id', async () => {
    let runs = 0;
    const { bus: b, sent } = scriptedBus((m) => {
      if (m.to !== 'n2') throw notLeader(m);
      if (m.kind === 'kv.txn-status') return status({ state: 'aborted', reason: 'decided aborted by a status lookup' });
      if (m.kind === 'kv.commit') {
        if (txnIdOf(m).endsWith('.1')) throw lost(m);
        return committed(88);
      }
      return values(m);
    });
    const client = new SynodClient(b, rangeMap, { timeoutMs: 100, commitResends: 1 });
    const r = await client.transaction(async (tx) => {
      runs++;
      tx.put('apple', ((await tx.get('apple')) as number) + 1);
    });
    expect(runs).toBe(2);
    expect(r).toMatchObject({ ts: 88, attempts: 2, resolvedBy: 'reply' });
    expect(r.txnId).toMatch(/\.2$/);
    const first = txnIdOf(sent.find((m) => m.kind === 'kv.commit')!);
    expect(first).toMatch(/\.1$/);
    expect(sent.filter((m) => m.kind === 'kv.commit' && m.to === 'n2').map(txnIdOf)).toEqual([first, first, r.txnId]);
    expect(sent.filter((m) => m.kind === 'kv.txn-status').map((m) => m.body.txnId)).toEqual([first]);
  });

  it('an outcome still pending when the lookup bound runs out is TIMEOUT: outcome unknown, naming the txn id', async () => {
    const { bus: b, sent } = scriptedBus((m) => {
      if (m.to !== 'n2') throw notLeader(m);
      if (m.kind === 'kv.commit') throw lost(m);
      return status({ state: 'pending' });
    });
    const client = new SynodClient(b, rangeMap, { timeoutMs: 100, commitResends: 1, outcomeLookupMs: 300 });
    const t0 = Date.now();
    const err = await client.transaction(async (tx) => tx.put('apple', 1)).catch((e: unknown) => e);
    const elapsed = Date.now() - t0;
    const id = txnIdOf(sent.find((m) => m.kind === 'kv.commit')!);
    expect(err).toBeInstanceOf(SynodError);
    expect(err).toMatchObject({ code: 'TIMEOUT', hint: { txn: id, split: rangeMap.splitFor('apple').id } });
    expect((err as Error).message).toContain('unknown');
    expect((err as Error).message).toContain(id);
    expect((err as Error).message).toContain('pending');
    // Bounded by outcomeLookupMs (plus the resends), and it asked more than once meanwhile.
    expect(elapsed).toBeGreaterThanOrEqual(300);
    expect(elapsed).toBeLessThan(2_000);
    expect(sent.filter((m) => m.kind === 'kv.txn-status').length).toBeGreaterThan(1);
    // Not retried as a new transaction, and no abort that could race the commit.
    expect(new Set(sent.filter((m) => m.kind === 'kv.commit').map(txnIdOf)).size).toBe(1);
    expect(sent.some((m) => m.kind === 'kv.abort')).toBe(false);
  });

  it('a leader that never answers the lookup within the bound is TIMEOUT: outcome unknown', async () => {
    const { bus: b } = scriptedBus((m) => {
      if (m.kind === 'kv.commit' || m.to === 'n2') throw lost(m);
      throw notLeader(m);
    });
    const client = new SynodClient(b, rangeMap, { timeoutMs: 50, commitResends: 0, outcomeLookupMs: 250 });
    const t0 = Date.now();
    await expect(client.put('apple', 1)).rejects.toMatchObject({ code: 'TIMEOUT', message: expect.stringMatching(/outcome of transaction \S+ is unknown/) });
    expect(Date.now() - t0).toBeLessThan(2_000);
  });

  it('a resend answered TXN_ABORTED is that id\'s outcome: retried as a new transaction without a lookup', async () => {
    const { bus: b, sent } = scriptedBus((m, nth) => {
      if (m.to !== 'n2') throw notLeader(m);
      if (nth === 1) throw lost(m);
      if (nth === 2) throw new SynodError('TXN_ABORTED', 'wounded');
      return committed(99);
    });
    const client = new SynodClient(b, rangeMap, { timeoutMs: 100 });
    const r = await client.transaction(async (tx) => tx.put('apple', 1));
    expect(r).toMatchObject({ ts: 99, attempts: 2, resolvedBy: 'reply' });
    expect(sent.some((m) => m.kind === 'kv.txn-status')).toBe(false);
  });
});

describe('SynodClient.txnStatus', () => {
  it('asks the leader of the key\'s split and returns its answer', async () => {
    const { bus: b, sent } = scriptedBus((m) => (m.to !== 'n2' ? (() => { throw notLeader(m); })() : status({ state: 'aborted', reason: 'unknown transaction' })));
    const client = new SynodClient(b, rangeMap, { timeoutMs: 100 });
    await expect(client.txnStatus('apple', 'c9-x:4.1')).resolves.toEqual({ state: 'aborted', reason: 'unknown transaction' });
    expect(sent.at(-1)).toEqual({ to: 'n2', kind: 'kv.txn-status', body: { txnId: 'c9-x:4.1', waitMs: 50 } });
    const split = rangeMap.splitFor('zebra');
    await client.txnStatus(split, 't2', { waitMs: 0 });
    expect(sent.at(-1)!.body).toEqual({ txnId: 't2', waitMs: 0 });
  });

  it('refuses a malformed id or wait before sending anything', async () => {
    const { bus: b, sent } = scriptedBus(() => status({ state: 'pending' }));
    const client = new SynodClient(b, rangeMap);
    await expect(client.txnStatus('apple', '')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(client.txnStatus('apple', 't'.repeat(129))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(client.txnStatus('apple', 't1', { waitMs: 60_001 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(sent).toEqual([]);
  });
});

describe('SynodClient transactional reads that time out', () => {
  it('sends a best-effort kv.abort to the node whose read timed out once the read is answered elsewhere', async () => {
    // n1 led when the client cached it; its read is lost. n3 points at the new leader n2.
    const { bus: b, sent } = scriptedBus((m) => {
      if (m.kind === 'kv.abort') return { kind: 'kv.ok', body: {} };
      if (m.to === 'n1') throw lost(m);
      if (m.to !== 'n2') throw notLeader(m);
      return m.kind === 'kv.commit' ? committed(60) : values(m);
    });
    const client = new SynodClient(b, rangeMap, { timeoutMs: 100 });
    const split = rangeMap.splitFor('apple');
    (client as unknown as { leaders: Map<string, string> }).leaders.set(split.id, 'n1');
    const r = await client.transaction(async (tx) => tx.get('apple'));
    expect(r.result).toBe(1);
    const aborts = sent.filter((m) => m.kind === 'kv.abort');
    expect(aborts).toEqual([{ to: 'n1', kind: 'kv.abort', body: { txnId: r.txnId } }]);
    // The abort goes out after the read was answered, never between its retries.
    expect(sent.findIndex((m) => m.kind === 'kv.abort')).toBeGreaterThan(sent.findIndex((m) => m.kind === 'kv.read' && m.to === 'n2'));
  });

  it('sends no abort when the read is finally answered by the node that timed out', async () => {
    const { bus: b, sent } = scriptedBus((m, nth) => {
      if (m.to !== 'n2') throw notLeader(m);
      if (m.kind === 'kv.read' && nth === 1) throw lost(m);
      return m.kind === 'kv.commit' ? committed(61) : values(m);
    });
    const client = new SynodClient(b, rangeMap, { timeoutMs: 100 });
    (client as unknown as { leaders: Map<string, string> }).leaders.set(rangeMap.splitFor('apple').id, 'n2');
    await client.transaction(async (tx) => tx.get('apple'));
    // n2 timed out, a retry elsewhere was pointed back to n2, which answered.
    const reads = sent.filter((m) => m.kind === 'kv.read').map((m) => m.to);
    expect(reads).toHaveLength(3);
    expect([reads[0], reads[2]]).toEqual(['n2', 'n2']);
    expect(sent.filter((m) => m.kind === 'kv.abort')).toEqual([]);
  });
});

describe('SynodClient request bodies', () => {
  it('sends no leaseRead (the server decides) and server waits inside the request timeout', async () => {
    const { bus: b, sent } = scriptedBus((m) => {
      if (m.kind === 'kv.commit') return committed(5);
      if (m.kind === 'kv.snapshot') return { kind: 'kv.values', body: { values: [], ts: 9 } };
      return values(m);
    });
    const client = new SynodClient(b, rangeMap, { timeoutMs: 1_000 });
    await client.read(['apple']);
    await client.scan('a', 'b');
    await client.transaction(async (tx) => tx.put('apple', await tx.get('apple')));
    for (const m of sent.filter((x) => x.kind === 'kv.snapshot')) expect(m.body).not.toHaveProperty('leaseRead');
    expect(sent.find((m) => m.kind === 'kv.read')!.body.waitMs).toBe(500);
    expect(sent.find((m) => m.kind === 'kv.commit')!.body.waitMs).toBe(500);
    const long = scriptedBus(() => committed(5));
    await new SynodClient(long.bus, rangeMap, { timeoutMs: 60_000 }).put('apple', 1);
    expect(long.sent[0]!.body.waitMs).toBe(10_000);
  });
});

describe('SynodClient soleSplit (docs/transactions.md, rule 9a)', () => {
  it('marks a strong read whose keys are all in one split, and no other read or scan', async () => {
    const { bus: b, sent } = scriptedBus(() => ({ kind: 'kv.values', body: { values: [], ts: 9 } }));
    const client = new SynodClient(b, rangeMap, { timeoutMs: 1_000 });
    const snapshots = async (f: () => Promise<unknown>) => {
      const from = sent.length;
      await f();
      return sent.slice(from).filter((m) => m.kind === 'kv.snapshot').map((m) => (m.body as { soleSplit?: boolean }).soleSplit);
    };
    expect(await snapshots(() => client.read(['apple']))).toEqual([true]);
    expect(await snapshots(() => client.get('apple'))).toEqual([true]);
    expect(await snapshots(() => client.read(['apple', 'banana']))).toEqual([true]);
    // Two splits: the second is read at the first's timestamp, so the first must not pick a low one.
    expect(await snapshots(() => client.read(['apple', 'zebra']))).toEqual([undefined, undefined]);
    expect(await snapshots(() => client.read(['apple'], { maxStalenessMs: 10 }))).toEqual([undefined]);
    expect(await snapshots(() => client.read(['apple'], { ts: 5 }))).toEqual([undefined]);
    // A scan's later pages (possibly other splits) read at the first page's timestamp.
    expect(await snapshots(() => client.scan('a', 'b'))).toEqual([undefined]);
  });
});

describe('SynodClient get', () => {
  it('sends what read([key]) sends, in every mode, and returns its value', async () => {
    const { bus: b, sent } = scriptedBus(() => ({ kind: 'kv.values', body: { values: [{ key: 'apple', value: 'red', ts: 3 }], ts: 9 } }));
    const client = new SynodClient(b, rangeMap, { timeoutMs: 1_000 });
    for (const opts of [{}, { maxStalenessMs: 10.4 }, { ts: 5 }]) {
      const from = sent.length;
      expect(await client.get('apple', opts)).toBe('red');
      expect((await client.read(['apple'], opts)).values.get('apple')).toBe('red');
      const [viaGet, viaRead] = sent.slice(from);
      expect(viaGet).toEqual(viaRead);
    }
  });

  it('is undefined for a missing key, and refuses an oversized key before sending', async () => {
    const { bus: b, sent } = scriptedBus(() => ({ kind: 'kv.values', body: { values: [{ key: 'apple' }], ts: 9 } }));
    const client = new SynodClient(b, rangeMap, { timeoutMs: 1_000 });
    expect(await client.get('apple')).toBeUndefined();
    const before = sent.length;
    await expect(client.get('k'.repeat(MAX_KEY_BYTES + 1))).rejects.toMatchObject({ code: 'KEY_TOO_LARGE' });
    expect(sent.length).toBe(before);
  });
});

describe('SynodClient unknown outcomes over a real bus (MemoryHub)', () => {
  /** One replica, n2, whose commit handler answers after `delayMs` (past the client's timeout: lost to it). */
  async function slowLeader(hub: MemoryHub, delays: number[], onStatus: () => MessageBody<'kv.txn-status.reply'>) {
    const seen: Array<{ kind: string; body: unknown }> = [];
    const b = await bus(hub, 'n2', 'dc-b');
    b.on('kv.commit', async (env) => {
      seen.push({ kind: env.kind, body: env.body });
      await new Promise((r) => setTimeout(r, delays.shift() ?? 0));
      return { kind: 'kv.committed', body: { ts: 123, commitWaitUs: 1 } };
    });
    b.on('kv.txn-status', (env) => {
      seen.push({ kind: env.kind, body: env.body });
      return { kind: 'kv.txn-status.reply', body: onStatus() };
    });
    return seen;
  }
  const oneReplica = { ...rangeMap.splitFor('apple'), replicas: ['n2'] };
  const single = new RangeMap({ ...rangeMap.config, splits: rangeMap.config.splits.map((s) => (s.id === oneReplica.id ? oneReplica : s)) });

  it('a commit lost to the transport timeout is resent with the same id and answered', async () => {
    const hub = new MemoryHub();
    const seen = await slowLeader(hub, [250], () => ({ state: 'pending' }));
    const client = new SynodClient(await bus(hub, 'c1', 'dc-a'), single, { timeoutMs: 100 });
    const r = await client.transaction(async (tx) => tx.put('apple', 1));
    expect(r).toMatchObject({ ts: 123, resolvedBy: 'retry' });
    expect(seen.map((s) => (s.body as { txn: { id: string } }).txn.id)).toEqual([r.txnId, r.txnId]);
    // The wire fills no default over what the client sent: it asked for an answer inside its timeout.
    expect(seen[0]!.body).toMatchObject({ waitMs: 50 });
  });

  it('commits that keep timing out are resolved by kv.txn-status through the codec', async () => {
    const hub = new MemoryHub();
    const seen = await slowLeader(hub, [250, 250], () => ({ state: 'committed', ts: 321 }));
    const client = new SynodClient(await bus(hub, 'c1', 'dc-a'), single, { timeoutMs: 100, commitResends: 1 });
    const r = await client.transaction(async (tx) => tx.put('apple', 1));
    expect(r).toMatchObject({ ts: 321, resolvedBy: 'status' });
    expect(seen.map((s) => s.kind)).toEqual(['kv.commit', 'kv.commit', 'kv.txn-status']);
    expect(seen[2]!.body).toEqual({ txnId: r.txnId, waitMs: 50 });
  });
});
