import { describe, expect, it } from 'vitest';
import { GroupCommitter, type TransactionRunner } from './group-commit.js';

/** A runner whose transactions run and commit only when the test says so. */
class ManualRunner implements TransactionRunner {
  readonly open: Array<{ run: () => void; commit: () => void; fail: (e: Error) => void }> = [];
  transaction<T>(action: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let result: T;
      this.open.push({
        run: () => {
          result = action();
        },
        commit: () => resolve(result),
        fail: reject,
      });
    });
  }
  next() {
    const txn = this.open.shift();
    if (!txn) throw new Error('no transaction pending');
    return txn;
  }
}

const tick = () => new Promise((r) => setImmediate(r));

describe('GroupCommitter', () => {
  it('puts writes submitted during an in-flight batch into one next batch, in order', async () => {
    const runner = new ManualRunner();
    const committer = new GroupCommitter(runner);
    const applied: number[] = [];
    const resolved: number[] = [];
    const submit = (n: number) => committer.submit(() => applied.push(n)).then(() => resolved.push(n));

    const first = submit(1);
    const txn1 = runner.next();
    txn1.run();
    // Batch 1 is sealed and "fsyncing"; these must wait for batch 2.
    const rest = [2, 3, 4].map(submit);
    expect(runner.open).toHaveLength(0);
    txn1.commit();
    await first;
    expect(resolved).toEqual([1]);

    await tick();
    const txn2 = runner.next();
    txn2.run();
    expect(applied).toEqual([1, 2, 3, 4]);
    expect(resolved).toEqual([1]); // not durable yet
    txn2.commit();
    await Promise.all(rest);
    expect(resolved).toEqual([1, 2, 3, 4]);
    expect(committer.stats).toEqual({ batchesCommitted: 2, writesCommitted: 4, largestBatch: 3 });
  });

  it('seals a batch when its transaction runs, not when it is requested', async () => {
    const runner = new ManualRunner();
    const committer = new GroupCommitter(runner);
    const applied: number[] = [];
    const all = [1, 2, 3].map((n) => committer.submit(() => applied.push(n)));
    expect(runner.open).toHaveLength(1); // one transaction for all three
    const txn = runner.next();
    txn.run();
    expect(applied).toEqual([1, 2, 3]);
    txn.commit();
    await Promise.all(all);
    expect(committer.stats.batchesCommitted).toBe(1);
  });

  it('fails stop: a failed commit rejects its batch, the queue and every later write', async () => {
    const runner = new ManualRunner();
    const committer = new GroupCommitter(runner);
    const a = committer.submit(() => {});
    const txn = runner.next();
    txn.run();
    const b = committer.submit(() => {});
    txn.fail(new Error('EIO'));
    await expect(a).rejects.toThrow(/EIO/);
    await expect(b).rejects.toThrow(/EIO/);
    await expect(committer.submit(() => {})).rejects.toThrow(/read-only until restart/);
    await committer.close();
    expect(committer.stats.batchesCommitted).toBe(0);
  });

  it('fails stop when an op throws inside the batch', async () => {
    const runner = new ManualRunner();
    const committer = new GroupCommitter(runner);
    const ok = committer.submit(() => {});
    const bad = committer.submit(() => {
      throw new Error('cannot encode');
    });
    const txn = runner.next();
    txn.run();
    txn.commit();
    await expect(ok).rejects.toThrow(/cannot encode/);
    await expect(bad).rejects.toThrow(/cannot encode/);
    await expect(committer.submit(() => {})).rejects.toThrow(/read-only/);
  });
});
