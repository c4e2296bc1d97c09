import type { SynodClient, TxnStatus } from '@synod/client';
import { SynodError } from '@synod/codec';
import { describe, expect, it } from 'vitest';
import { TxnRegistry } from './transactions.js';

/**
 * A client whose commits do what `next` says: commit (at ts 100, 101, …), or throw the given
 * error. Its status lookups answer `status`. Counts runs and lookups.
 */
function fakeClient() {
  const state = {
    next: 'commit' as 'commit' | SynodError,
    status: { state: 'pending' } as TxnStatus,
    runs: 0,
    lookups: [] as Array<{ split: string; txnId: string }>,
    data: new Map<string, unknown>(),
  };
  const client = {
    rangeMap: { splitFor: (k: string) => ({ id: k < 'g' ? 's0' : 's1' }), split: (id: string) => ({ id }) },
    async transaction<T>(fn: (tx: unknown) => Promise<T>) {
      const writes = new Map<string, unknown>();
      const result = await fn({ get: async (k: string) => state.data.get(k), put: (k: string, v: unknown) => writes.set(k, v), delete: (k: string) => writes.set(k, undefined) });
      state.runs++;
      if (state.next !== 'commit') throw state.next;
      for (const [k, v] of writes) if (v === undefined) state.data.delete(k); else state.data.set(k, v);
      return { result, ts: 100 + state.runs, attempts: 1, commitWaitUs: 0, txnId: `c-${state.runs}`, resolvedBy: 'reply' };
    },
    async txnStatus(split: { id: string }, txnId: string) {
      state.lookups.push({ split: split.id, txnId });
      return state.status;
    },
  } as unknown as SynodClient;
  return { client, state };
}

const req = { id: 't1', reads: [], conditions: [{ key: 'a', absent: true as const }], writes: [{ key: 'a', value: 1 }, { key: 'z', value: 2 }] };
const unknownOutcome = new SynodError('TIMEOUT', 'the outcome of transaction c-1 is unknown', { txn: 'c-1', split: 's0' });

describe('TxnRegistry (idempotency by client-chosen id)', () => {
  it('answers a repeated committed id from memory, refuses the id with another body, and reports its status at the leader', async () => {
    const { client, state } = fakeClient();
    const reg = new TxnRegistry(client);
    const first = await reg.run(req);
    expect(first).toMatchObject({ state: 'committed', ts: 101, txnId: 'c-1', split: 's0' });
    expect(await reg.run(req)).toEqual(first);
    expect(state.runs).toBe(1);
    await expect(reg.run({ ...req, writes: [] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    state.status = { state: 'committed', ts: 101 };
    expect(await reg.status('t1')).toEqual({ id: 't1', state: 'committed', ts: 101, txnId: 'c-1', split: 's0' });
    expect(state.lookups).toEqual([{ split: 's0', txnId: 'c-1' }]);
  });

  it('an unknown outcome is looked up before anything runs again: committed is the answer, pending is TIMEOUT, aborted runs again', async () => {
    const { client, state } = fakeClient();
    const reg = new TxnRegistry(client);
    state.next = unknownOutcome;
    await expect(reg.run(req)).rejects.toBe(unknownOutcome);
    state.next = 'commit';
    // Still undecided at the leader: no second run.
    state.status = { state: 'pending' };
    await expect(reg.run(req)).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(state.runs).toBe(1);
    // Committed after all: that is the answer, still no second run.
    state.status = { state: 'committed', ts: 55 };
    expect(await reg.run(req)).toMatchObject({ state: 'committed', ts: 55, txnId: 'c-1', split: 's0' });
    expect(state.runs).toBe(1);

    const other = new TxnRegistry(client);
    state.next = unknownOutcome;
    await expect(other.run({ ...req, id: 't2' })).rejects.toBe(unknownOutcome);
    state.next = 'commit';
    state.status = { state: 'aborted', reason: 'decided aborted' };
    expect(await other.run({ ...req, id: 't2' })).toMatchObject({ state: 'committed' });
    expect(state.runs).toBe(3);
  });

  it('a failed condition writes nothing, is reported, and a retry with the same id runs again', async () => {
    const { client, state } = fakeClient();
    const reg = new TxnRegistry(client);
    state.data.set('a', 0);
    await expect(reg.run(req)).rejects.toMatchObject({ code: 'CONDITION_FAILED', hint: { key: 'a' } });
    expect(state.data.get('z')).toBeUndefined();
    expect(await reg.status('t1')).toMatchObject({ id: 't1', state: 'condition_failed' });
    state.data.delete('a');
    expect(await reg.run(req)).toMatchObject({ state: 'committed' });
  });

  it('forgets ids after the TTL and beyond the maximum count', async () => {
    let now = 0;
    const { client } = fakeClient();
    const reg = new TxnRegistry(client, { ttlMs: 1_000, maxIds: 2, now: () => now });
    await reg.run({ ...req, id: 'x1' });
    await reg.run({ ...req, id: 'x2', conditions: [] });
    await reg.run({ ...req, id: 'x3', conditions: [] });
    await expect(reg.status('x1')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await reg.status('x3')).state).toBeDefined();
    now += 1_001;
    await expect(reg.status('x3')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
