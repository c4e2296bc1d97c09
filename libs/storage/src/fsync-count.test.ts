import { describe, expect, it } from 'vitest';
import { GroupCommitter, type TransactionRunner } from './group-commit.js';
import { storageFixture } from './storage.fixture.js';
import { ballot, entry } from './test-helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('fsyncCount', () => {
  // The LMDB path's counting; the write-ahead log's is below.
  const durable = storageFixture({ fsync: true, wal: false });
  const volatile = storageFixture({ fsync: false });

  it('counts one per synced commit, however many writes it holds; reads, empty persists and idle time count none', async () => {
    const { storage } = durable();
    expect(storage.fsyncCount()).toBe(0);
    await storage.paxos('g1').persist({ promised: ballot(1) });
    expect(storage.fsyncCount()).toBe(1);
    // Many writes in one turn: one batch, one fsync.
    await Promise.all([
      storage.paxos('g1').persist({ accepted: [entry(0, ballot(1))] }),
      storage.paxos('g2').persist({ promised: ballot(1) }),
      storage.applyEntry('g1', 1, [{ key: 'a', ts: 5, value: 1 }], { outcomes: { put: [['t', { committed: true, ts: 5 }]], forget: [] } }),
      storage.mvcc.put([{ key: 'b', ts: 5, value: 2 }]),
    ]);
    const afterWrites = storage.fsyncCount();
    expect(afterWrites).toBe(storage.stats.batchesCommitted);
    expect(afterWrites).toBeLessThan(1 + 4);
    // Nothing to write: no commit.
    await storage.paxos('g1').persist({});
    expect(storage.fsyncCount()).toBe(afterWrites);
    await storage.paxos('g1').persist({ promised: ballot(1) }); // an equal ballot is still a write (idempotent re-persist)
    expect(storage.fsyncCount()).toBe(afterWrites + 1);
    await storage.raiseTimeMark({ issuedUs: 1_000 });
    expect(storage.fsyncCount()).toBe(afterWrites + 2);
    storage.mvcc.get('a', 10);
    storage.outcomes('g1');
    await storage.paxos('g1').load();
    await storage.raiseTimeMark({ issuedUs: 999, gcHorizonUs: 0 }); // raises nothing: writes nothing
    await storage.mvcc.gc(1); // nothing to collect
    await sleep(50);
    expect(storage.fsyncCount()).toBe(afterWrites + 2);
  });

  it("a follower's apply shares the fsync of its next vote; a leader's is committed at once", async () => {
    const { storage } = durable();
    const store = storage.paxos('g1');
    await store.persist({ promised: ballot(1) });
    storage.deferApplies('g1', true);
    const before = storage.fsyncCount();
    let applied = false;
    const apply = storage.applyEntry('g1', 1, [{ key: 'a', ts: 5, value: 1 }]).then(() => (applied = true));
    await sleep(1);
    expect(applied).toBe(false); // waiting for company, no transaction of its own yet
    await Promise.all([apply, store.persist({ accepted: [entry(1, ballot(1))] })]);
    expect(storage.fsyncCount()).toBe(before + 1); // one transaction, one fsync for both
    // Alone, it still becomes durable: within DEFER_MAX_MS.
    await storage.applyEntry('g1', 2, [{ key: 'a', ts: 6, value: 2 }]);
    expect(storage.fsyncCount()).toBe(before + 2);
    // Leading: nothing waits.
    storage.deferApplies('g1', false);
    const t0 = performance.now();
    await storage.applyEntry('g1', 3, [{ key: 'a', ts: 7, value: 3 }]);
    expect(storage.fsyncCount()).toBe(before + 3);
    expect(storage.mvcc.get('a', 10)?.value).toBe(3);
    expect(performance.now() - t0).toBeLessThan(5_000);
    // A leadership change reported while the shell shuts down is not an error (it writes nothing).
    await storage.close();
    expect(() => storage.deferApplies('g1', true)).not.toThrow();
  });

  it('stays 0 when the storage does not fsync', async () => {
    const { storage } = volatile();
    await storage.paxos('g1').persist({ promised: ballot(1) });
    expect(storage.stats.batchesCommitted).toBe(1);
    expect(storage.fsyncCount()).toBe(0);
  });

  it('the committer counts every committed transaction, a batch whose op threw included (it was flushed)', async () => {
    const runs: Array<() => void> = [];
    const runner: TransactionRunner = {
      transaction: <T>(action: () => T) =>
        new Promise<T>((resolve) => {
          runs.push(() => resolve(action()));
        }),
    };
    const committer = new GroupCommitter(runner);
    const a = committer.submit(() => {});
    runs.shift()!();
    await a;
    expect(committer.commits).toBe(1);
    const bad = committer.submit(() => {
      throw new Error('cannot encode');
    });
    await new Promise((r) => setImmediate(r)); // the next batch starts once the first has settled
    runs.shift()!();
    await expect(bad).rejects.toThrow(/cannot encode/);
    expect(committer.commits).toBe(2);
    expect(committer.stats.batchesCommitted).toBe(1);
  });
});
