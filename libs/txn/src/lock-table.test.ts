import { describe, expect, it } from 'vitest';
import { Prng } from '@synod/prng';
import { LockTable, type LockMode, type TxnRef } from './lock-table.js';

const t = (id: string, startTs: number): TxnRef => ({ id, startTs });
const OLD = t('old', 1);
const MID = t('mid', 2);
const YOUNG = t('young', 3);

describe('LockTable', () => {
  it('shares shared locks and serializes exclusive ones', () => {
    const lt = new LockTable();
    expect(lt.acquire(OLD, 'k', 'shared').granted).toBe(true);
    expect(lt.acquire(YOUNG, 'k', 'shared').granted).toBe(true);
    expect(lt.acquire(MID, 'k', 'exclusive')).toMatchObject({ granted: false });
  });

  it('holds: a held exclusive lock covers shared, a shared one not exclusive, a queued request nothing', () => {
    const lt = new LockTable();
    lt.acquire(OLD, 'a', 'exclusive');
    lt.acquire(MID, 'b', 'shared');
    lt.acquire(YOUNG, 'a', 'shared'); // queued behind old
    expect([lt.holds('old', 'a', 'exclusive'), lt.holds('old', 'a', 'shared')]).toEqual([true, true]);
    expect([lt.holds('mid', 'b', 'shared'), lt.holds('mid', 'b', 'exclusive')]).toEqual([true, false]);
    expect([lt.holds('young', 'a', 'shared'), lt.holds('old', 'b', 'shared'), lt.holds('old', 'nope', 'shared')]).toEqual([false, false, false]);
    lt.release('old');
    expect([lt.holds('old', 'a', 'shared'), lt.holds('young', 'a', 'shared')]).toEqual([false, true]);
  });

  it('a younger transaction waits for an older holder without wounding it', () => {
    const lt = new LockTable();
    lt.acquire(OLD, 'k', 'exclusive');
    const r = lt.acquire(YOUNG, 'k', 'exclusive');
    expect(r).toMatchObject({ granted: false, waitingFor: ['old'], wounded: [] });
    expect(lt.release('old').granted).toEqual([{ txn: 'young', key: 'k', mode: 'exclusive' }]);
  });

  it('an older transaction wounds a younger holder and gets the lock once it releases', () => {
    const lt = new LockTable();
    lt.acquire(YOUNG, 'k', 'exclusive');
    const r = lt.acquire(OLD, 'k', 'shared');
    expect(r).toMatchObject({ granted: false, wounded: ['young'] });
    expect(lt.isWounded('young')).toBe(true);
    // Wounding is reported once.
    expect(lt.acquire(OLD, 'k', 'shared').wounded).toEqual([]);
    expect(lt.release('young').granted).toEqual([{ txn: 'old', key: 'k', mode: 'shared' }]);
    expect(lt.isWounded('young')).toBe(false);
  });

  it('upgrades shared to exclusive, wounding younger sharers', () => {
    const lt = new LockTable();
    lt.acquire(OLD, 'k', 'shared');
    lt.acquire(YOUNG, 'k', 'shared');
    expect(lt.acquire(OLD, 'k', 'exclusive')).toMatchObject({ granted: false, wounded: ['young'] });
    expect(lt.release('young').granted).toEqual([{ txn: 'old', key: 'k', mode: 'exclusive' }]);
    expect(lt.holders('k')).toEqual([{ txn: 'old', mode: 'exclusive' }]);
  });

  it('grants waiters oldest first, and compatible shared waiters together', () => {
    const lt = new LockTable();
    const holder = t('holder', 0);
    lt.acquire(holder, 'k', 'exclusive');
    lt.acquire(YOUNG, 'k', 'shared');
    lt.acquire(MID, 'k', 'shared');
    lt.acquire(OLD, 'k', 'exclusive');
    expect(lt.release('holder').granted.map((g) => g.txn)).toEqual(['old']);
    expect(lt.release('old').granted.map((g) => g.txn)).toEqual(['mid', 'young']);
  });

  it('forgets a released transaction entirely, queued requests included', () => {
    const lt = new LockTable();
    lt.acquire(OLD, 'a', 'exclusive');
    lt.acquire(YOUNG, 'a', 'exclusive');
    lt.acquire(YOUNG, 'b', 'exclusive');
    lt.release('young');
    expect(lt.heldKeys('young')).toEqual([]);
    expect(lt.release('old').granted).toEqual([]);
    expect(lt.holders('a')).toEqual([]);
  });
});

/**
 * Random transactions each lock a few of a handful of keys in random order, one request at a
 * time; a wounded transaction aborts, releases, and restarts with its original start time
 * (so it eventually becomes the oldest). Returns whether every transaction committed within
 * the step bound, and checks mutual exclusion after every step.
 */
function runWorkload(seed: number, wound: boolean): { finished: boolean; commits: number; aborts: number } {
  const p = new Prng(seed);
  const rand = () => p.next();
  const lt = new LockTable({ wound });
  const keys = ['a', 'b', 'c', 'd'];
  type Txn = { ref: TxnRef; plan: Array<{ key: string; mode: LockMode }>; next: number; waiting: boolean; done: boolean };
  const txns: Txn[] = Array.from({ length: 8 }, (_, i) => {
    const n = 2 + Math.floor(rand() * 3);
    const plan = Array.from({ length: n }, () => ({ key: keys[Math.floor(rand() * keys.length)]!, mode: (rand() < 0.5 ? 'shared' : 'exclusive') as LockMode }));
    return { ref: t(`t${i}`, Math.floor(rand() * 1000)), plan, next: 0, waiting: false, done: false };
  });
  let commits = 0;
  let aborts = 0;
  const byId = new Map(txns.map((x) => [x.ref.id, x]));
  const onGrants = (events: ReturnType<LockTable['release']>) => {
    for (const g of events.granted) {
      const x = byId.get(g.txn)!;
      x.waiting = false;
      x.next++;
    }
  };
  for (let step = 0; step < 5_000; step++) {
    const live = txns.filter((x) => !x.done);
    if (live.length === 0) return { finished: true, commits, aborts };
    const runnable = live.filter((x) => !x.waiting || lt.isWounded(x.ref.id));
    if (runnable.length === 0) return { finished: false, commits, aborts };
    const x = runnable[Math.floor(rand() * runnable.length)]!;
    if (lt.isWounded(x.ref.id)) {
      aborts++;
      x.next = 0;
      x.waiting = false;
      onGrants(lt.release(x.ref.id));
    } else if (x.next === x.plan.length) {
      commits++;
      x.done = true;
      onGrants(lt.release(x.ref.id));
    } else {
      const { key, mode } = x.plan[x.next]!;
      const r = lt.acquire(x.ref, key, mode);
      if (r.granted) x.next++;
      else x.waiting = true;
    }
    for (const k of keys) {
      const hs = lt.holders(k);
      if (hs.some((h) => h.mode === 'exclusive') && hs.length > 1) throw new Error(`seed ${seed}: exclusive lock on ${k} shared: ${JSON.stringify(hs)}`);
    }
  }
  return { finished: false, commits, aborts };
}

describe('wound-wait under random workloads', () => {
  it('every transaction commits and mutual exclusion holds, over 300 seeds', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const r = runWorkload(seed, true);
      expect(r.finished, `seed ${seed}`).toBe(true);
      expect(r.commits).toBe(8);
    }
  });

  it('without wounding the same workloads deadlock (the check has teeth)', () => {
    const stuck = Array.from({ length: 300 }, (_, i) => runWorkload(i + 1, false)).filter((r) => !r.finished).length;
    expect(stuck).toBeGreaterThan(0);
    console.log(`without wound-wait ${stuck} of 300 workloads deadlocked`);
  });
});
