import { describe, expect, it } from 'vitest';
import { storageFixture } from './storage.fixture.js';
import { ballot, entry, snapshot } from './test-helpers.js';

describe.each([
  { wal: true, name: 'acknowledged from the write-ahead log' },
  { wal: false, name: 'acknowledged from LMDB' },
])('PaxosStore (LMDB, fsync on, $name)', ({ wal }) => {
  const fresh = storageFixture({ fsync: true, wal });

  it('loads nothing for a group that never persisted', async () => {
    const { storage } = fresh();
    expect(await storage.paxos('g1').load()).toEqual({ promised: null, accepted: [] });
  });

  it('round-trips promised and accepted entries across close and reopen', async () => {
    const { storage, reopen } = fresh();
    const g = storage.paxos('g1');
    await g.persist({ promised: ballot(3, 'n2') });
    await g.persist({ accepted: [entry(0, ballot(3, 'n2')), entry(1, ballot(3, 'n2'))] });
    await g.persist({ accepted: [{ slot: 2, ballot: ballot(3, 'n2'), value: { kind: 'noop' } }] });

    const reopened = await reopen();
    expect(await reopened.paxos('g1').load()).toEqual({
      promised: ballot(3, 'n2'),
      accepted: [entry(0, ballot(3, 'n2')), entry(1, ballot(3, 'n2')), { slot: 2, ballot: ballot(3, 'n2'), value: { kind: 'noop' } }],
    });
  });

  it('returns accepted entries in slot order, numerically', async () => {
    const { storage } = fresh();
    const g = storage.paxos('g1');
    const slots = [10, 2, 100, 0, 9, 1000, 11];
    await g.persist({ accepted: slots.map((s) => entry(s, ballot(1))) });
    expect((await g.load()).accepted.map((e) => e.slot)).toEqual([0, 2, 9, 10, 11, 100, 1000]);
  });

  it('overwrites a slot accepted again at a higher ballot', async () => {
    const { storage, reopen } = fresh();
    const g = storage.paxos('g1');
    await g.persist({ promised: ballot(1), accepted: [entry(5, ballot(1), 'old')] });
    await g.persist({ promised: ballot(2, 'n3'), accepted: [entry(5, ballot(2, 'n3'), 'new')] });
    const state = await (await reopen()).paxos('g1').load();
    expect(state.promised).toEqual(ballot(2, 'n3'));
    expect(state.accepted).toEqual([entry(5, ballot(2, 'n3'), 'new')]);
  });

  it('keeps groups isolated, including ids that are prefixes of each other', async () => {
    const { storage, reopen } = fresh();
    const groups = ['g1', 'g10', 'g1-x', 'g', ''];
    await Promise.all(
      groups.map((id, i) =>
        storage.paxos(id).persist({ promised: ballot(i + 1), accepted: [entry(i, ballot(i + 1), id), entry(i + 7, ballot(i + 1), id)] }),
      ),
    );
    const reopened = await reopen();
    for (const [i, id] of groups.entries()) {
      expect(await reopened.paxos(id).load()).toEqual({
        promised: ballot(i + 1),
        accepted: [entry(i, ballot(i + 1), id), entry(i + 7, ballot(i + 1), id)],
      });
    }
    await reopened.paxos('g1').persist({ truncateBelow: 1000 });
    expect((await reopened.paxos('g1').load()).accepted).toEqual([]);
    expect((await reopened.paxos('g10').load()).accepted).toHaveLength(2);
  });

  it('refuses to move promised backwards, synchronously and without side effects', async () => {
    const { storage } = fresh();
    const g = storage.paxos('g1');
    await g.persist({ promised: ballot(5, 'b') });
    expect(() => g.persist({ promised: ballot(5, 'a') })).toThrow(/must not decrease/);
    expect(() => g.persist({ promised: ballot(4, 'z') })).toThrow(/must not decrease/);
    expect(() => g.persist({ accepted: [entry(-1, ballot(5, 'b'))] })).toThrow(/malformed slot/);
    await g.persist({ promised: ballot(5, 'b') }); // equal is fine (idempotent re-persist)
    expect((await g.load()).promised).toEqual(ballot(5, 'b'));
  });

  it('remembers promised across reopen for the monotonicity check', async () => {
    const { storage, reopen } = fresh();
    await storage.paxos('g1').persist({ promised: ballot(7) });
    const g = (await reopen()).paxos('g1');
    expect(() => g.persist({ promised: ballot(6) })).toThrow(/must not decrease/);
  });

  it('stores a snapshot and compacts below it in one write, and returns both after reopen', async () => {
    const { storage, reopen } = fresh();
    const g = storage.paxos('g1');
    await g.persist({ accepted: [0, 1, 2, 3].map((s) => entry(s, ballot(1))) });
    await g.persist({ snapshot: snapshot(3, { counter: 3 }), accepted: [entry(4, ballot(1))], truncateBelow: 3 });
    const state = await (await reopen()).paxos('g1').load();
    expect(state.snapshot).toEqual(snapshot(3, { counter: 3 }));
    expect(state.accepted.map((e) => e.slot)).toEqual([3, 4]);
  });

  it('truncation deletes only slots below the bound', async () => {
    const { storage, reopen } = fresh();
    const g = storage.paxos('g1');
    await g.persist({ promised: ballot(1), accepted: [0, 1, 2, 3, 4].map((s) => entry(s, ballot(1))) });
    await g.persist({ truncateBelow: 3 });
    const state = await (await reopen()).paxos('g1').load();
    expect(state.accepted.map((e) => e.slot)).toEqual([3, 4]);
    expect(state.promised).toEqual(ballot(1));
  });

  it('coalesces many concurrent persists from many groups into few fsyncd batches, all durable', async () => {
    const { storage, reopen } = fresh();
    const groups = 16;
    const slotsPerGroup = 25;
    const pending: Array<Promise<void>> = [];
    let resolvedCount = 0;
    // Issue them spread over many event turns, as network callbacks would.
    for (let slot = 0; slot < slotsPerGroup; slot++) {
      for (let g = 0; g < groups; g++) {
        const p = storage.paxos(`g${g}`).persist({ promised: ballot(slot + 1), accepted: [entry(slot, ballot(slot + 1))] });
        pending.push(p.then(() => void resolvedCount++));
      }
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(pending);
    const total = groups * slotsPerGroup;
    expect(resolvedCount).toBe(total);
    // Acknowledged after fewer flushes than writes (the log's and LMDB's together).
    expect(storage.fsyncCount()).toBeLessThan(total);
    // LMDB holds every write once its copies are in (load() waits for the group's last).
    for (let g = 0; g < groups; g++) await storage.paxos(`g${g}`).load();
    const stats = storage.stats;
    expect(stats.writesCommitted).toBe(total);
    expect(stats.batchesCommitted).toBeLessThan(total);
    expect(stats.largestBatch).toBeGreaterThan(1);

    const reopened = await reopen();
    for (let g = 0; g < groups; g++) {
      const state = await reopened.paxos(`g${g}`).load();
      expect(state.promised).toEqual(ballot(slotsPerGroup));
      expect(state.accepted.map((e) => e.slot)).toEqual([...Array(slotsPerGroup).keys()]);
    }
  });

  it('keeps per-group order: the last persist of a slot wins and resolves last', async () => {
    const { storage, reopen } = fresh();
    const g = storage.paxos('g1');
    const order: number[] = [];
    const writes = [];
    for (let round = 1; round <= 50; round++) {
      writes.push(g.persist({ promised: ballot(round), accepted: [entry(0, ballot(round), `r${round}`)] }).then(() => order.push(round)));
      if (round % 7 === 0) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(writes);
    expect(order).toEqual([...Array(50).keys()].map((i) => i + 1));
    const state = await (await reopen()).paxos('g1').load();
    expect(state.promised).toEqual(ballot(50));
    expect(state.accepted).toEqual([entry(0, ballot(50), 'r50')]);
  });

  it('an empty persist resolves only after the group’s earlier writes are durable', async () => {
    const { storage } = fresh();
    const g = storage.paxos('g1');
    let firstDone = false;
    const first = g.persist({ promised: ballot(1) }).then(() => (firstDone = true));
    await g.persist({});
    expect(firstDone).toBe(true);
    await first;
  });

  it('close() waits for queued persists, then rejects new ones', async () => {
    const { storage, reopen } = fresh();
    const g = storage.paxos('g1');
    const queued = [1, 2, 3].map((r) => g.persist({ promised: ballot(r) }));
    await storage.close();
    await Promise.all(queued);
    await expect(g.persist({ promised: ballot(4) })).rejects.toThrow(/closed/);
    const reopened = await reopen();
    expect((await reopened.paxos('g1').load()).promised).toEqual(ballot(3));
  });
});
