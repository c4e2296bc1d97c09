import { describe, expect, it } from 'vitest';
import { DEFER_MAX_MS, type DeferClock, GroupCommitter, SWEEP_KEYS_PER_TRANSACTION, type SweepStep, type TransactionRunner } from './group-commit.js';

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

/** A clock that moves only when the test advances it; due timers fire in order. */
class ManualClock implements DeferClock {
  private at = 0;
  private readonly timers = new Map<number, { due: number; fire: () => void }>();
  private nextHandle = 1;
  now(): number {
    return this.at;
  }
  setTimer(fire: () => void, ms: number): unknown {
    const handle = this.nextHandle++;
    this.timers.set(handle, { due: this.at + ms, fire });
    return handle;
  }
  clearTimer(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  get pending(): number {
    return this.timers.size;
  }
  advance(ms: number): void {
    this.at += ms;
    for (const [handle, timer] of [...this.timers].sort((a, b) => a[1].due - b[1].due)) {
      if (timer.due > this.at) break;
      this.timers.delete(handle);
      timer.fire();
    }
  }
}

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

  it('a deferrable write starts no transaction of its own: it rides with the next write, in order', async () => {
    const runner = new ManualRunner();
    const committer = new GroupCommitter(runner);
    const applied: string[] = [];
    const lazy = committer.submit(() => applied.push('apply'), { deferrable: true });
    await tick();
    expect(runner.open).toHaveLength(0); // idle, yet no transaction: it waits for company
    const vote = committer.submit(() => applied.push('persist'));
    expect(runner.open).toHaveLength(1);
    const txn = runner.next();
    txn.run();
    expect(applied).toEqual(['apply', 'persist']); // submission order
    txn.commit();
    await Promise.all([lazy, vote]);
    expect(committer.stats).toEqual({ batchesCommitted: 1, writesCommitted: 2, largestBatch: 2 });
  });

  it('a deferrable write waits at most DEFER_MAX_MS, measured from its submission', async () => {
    const runner = new ManualRunner();
    const clock = new ManualClock();
    const committer = new GroupCommitter(runner, clock);
    const lazy = committer.submit(() => {}, { deferrable: true });
    clock.advance(DEFER_MAX_MS - 2);
    const later = committer.submit(() => {}, { deferrable: true }); // does not restart the wait
    clock.advance(1);
    expect(runner.open).toHaveLength(0);
    clock.advance(1);
    expect(runner.open).toHaveLength(1); // DEFER_MAX_MS after the first submission
    expect(clock.pending).toBe(0);
    const txn = runner.next();
    txn.run();
    txn.commit();
    await Promise.all([lazy, later]);
    expect(committer.stats).toEqual({ batchesCommitted: 1, writesCommitted: 2, largestBatch: 2 });
  });

  it('deferrable writes queued behind an in-flight batch wait for company too; flush() and close() start them at once', async () => {
    const runner = new ManualRunner();
    const committer = new GroupCommitter(runner);
    const first = committer.submit(() => {});
    const txn1 = runner.next();
    txn1.run();
    const lazy = committer.submit(() => {}, { deferrable: true });
    txn1.commit();
    await first;
    await tick();
    expect(runner.open).toHaveLength(0); // only a deferrable write queued: no transaction yet
    committer.flush();
    expect(runner.open).toHaveLength(1);
    const txn2 = runner.next();
    txn2.run();
    txn2.commit();
    await lazy;
    const last = committer.submit(() => {}, { deferrable: true });
    const closed = committer.close();
    await tick(); // the previous batch's bookkeeping settles first
    expect(runner.open).toHaveLength(1); // close() does not wait out the deferral
    const txn3 = runner.next();
    txn3.run();
    txn3.commit();
    await Promise.all([last, closed]);
    expect(committer.stats.batchesCommitted).toBe(3);
  });

  it('a failure rejects queued deferrable writes and cancels their timer', async () => {
    const runner = new ManualRunner();
    const clock = new ManualClock();
    const committer = new GroupCommitter(runner, clock);
    const a = committer.submit(() => {});
    const txn = runner.next();
    txn.run();
    const lazy = committer.submit(() => {}, { deferrable: true });
    txn.fail(new Error('EIO'));
    await expect(a).rejects.toThrow(/EIO/);
    await expect(lazy).rejects.toThrow(/EIO/);
    expect(clock.pending).toBe(0);
    clock.advance(DEFER_MAX_MS);
    expect(runner.open).toHaveLength(0);
  });
});

describe('GroupCommitter sweeps (background truncation)', () => {
  /** A sweep of `keys` keys that logs each step's deletions into `steps`. */
  const sweepOf = (owner: string, keys: number, steps: Array<[string, number]>): SweepStep => {
    let left = keys;
    return (budget) => {
      const deleted = Math.min(left, budget, 256);
      left -= deleted;
      steps.push([owner, deleted]);
      return { deleted, more: left > 0 };
    };
  };

  it('shares one key budget per transaction among every owner, and finishes them all', async () => {
    const runner = new ManualRunner();
    const clock = new ManualClock();
    const committer = new GroupCommitter(runner, clock);
    const steps: Array<[string, number]> = [];
    // 64 groups compacting at the same moment, 512 keys each: what stalled the loop for 115 ms.
    for (let g = 0; g < 64; g++) committer.sweep(`g${g}`, sweepOf(`g${g}`, 512, steps));
    // With nothing else to write, sweeps wait as deferrable writes do, then start transactions of their own.
    expect(runner.open).toHaveLength(0);
    clock.advance(DEFER_MAX_MS);
    let transactions = 0;
    while (runner.open.length > 0 && transactions < 1_000) {
      const txn = runner.next();
      const before = steps.length;
      txn.run();
      const deleted = steps.slice(before).reduce((a, [, n]) => a + n, 0);
      expect(deleted).toBeLessThanOrEqual(SWEEP_KEYS_PER_TRANSACTION);
      txn.commit();
      transactions++;
      await tick();
    }
    const total = new Map<string, number>();
    for (const [owner, n] of steps) total.set(owner, (total.get(owner) ?? 0) + n);
    expect([...total.values()]).toEqual(Array.from({ length: 64 }, () => 512));
    expect(transactions).toBe((64 * 512) / SWEEP_KEYS_PER_TRANSACTION);
  });

  it('runs after the ordered writes of its transaction; a newer sweep of an owner replaces the older, a cancelled one never runs', async () => {
    const runner = new ManualRunner();
    const committer = new GroupCommitter(runner);
    const order: string[] = [];
    void committer.submit(() => order.push('snapshot g1'));
    committer.sweep('g1', () => (order.push('old sweep g1'), { deleted: 1, more: false }));
    committer.sweep('g1', () => (order.push('sweep g1'), { deleted: 1, more: false }));
    committer.sweep('g2', () => (order.push('sweep g2'), { deleted: 1, more: false }));
    committer.cancelSweep('g2');
    void committer.submit(() => order.push('write g3'));
    const txn = runner.next();
    txn.run();
    expect(order).toEqual(['snapshot g1', 'write g3', 'sweep g1']);
    txn.commit();
    await tick();
    expect(runner.open).toHaveLength(0);
  });

  it('a sweep that exceeds its budget or makes no progress fails the store (fail-stop)', async () => {
    const runner = new ManualRunner();
    const committer = new GroupCommitter(runner);
    committer.sweep('g1', (budget) => ({ deleted: budget + 1, more: false }));
    const write = committer.submit(() => undefined);
    const txn = runner.next();
    txn.run();
    txn.commit();
    await expect(write).rejects.toThrow(/deleted 513 keys with a budget of 512/);
  });
});
