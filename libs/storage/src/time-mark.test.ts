import { afterEach, describe, expect, it } from 'vitest';
import { openStorage } from './storage.js';
import { tempDir } from './test-helpers.js';

const dirs: Array<() => void> = [];
afterEach(() => dirs.splice(0).forEach((r) => r()));

describe('time high-water mark', () => {
  it('is zero at first, only rises, and survives a reopen', async () => {
    const dir = tempDir();
    dirs.push(dir.remove);
    const s = openStorage({ path: dir.path, fsync: false });
    expect(s.timeMark()).toEqual({ issuedUs: 0, gcHorizonUs: 0 });
    await s.raiseTimeMark({ issuedUs: 2_000, gcHorizonUs: 500 });
    await s.raiseTimeMark({ issuedUs: 1_000 }); // a clock that moved back does not lower it
    await s.raiseTimeMark({ gcHorizonUs: 400 });
    expect(s.timeMark()).toEqual({ issuedUs: 2_000, gcHorizonUs: 500 });
    await s.close();
    const again = openStorage({ path: dir.path, fsync: false });
    expect(again.timeMark()).toEqual({ issuedUs: 2_000, gcHorizonUs: 500 });
    await again.close();
  });
});

describe('time high-water mark writes', () => {
  it('concurrent raises keep the maximum; a raise that raises nothing commits nothing but waits for the earlier ones', async () => {
    const dir = tempDir();
    dirs.push(dir.remove);
    const s = openStorage({ path: dir.path, fsync: true });
    const order: string[] = [];
    const a = s.raiseTimeMark({ issuedUs: 5_000 }).then(() => order.push('a'));
    const b = s.raiseTimeMark({ issuedUs: 4_000, gcHorizonUs: 10 }).then(() => order.push('b'));
    const c = s.raiseTimeMark({ issuedUs: 3_000, gcHorizonUs: 5 }).then(() => order.push('c')); // raises nothing
    await Promise.all([a, b, c]);
    expect(order).toEqual(['a', 'b', 'c']);
    expect(s.timeMark()).toEqual({ issuedUs: 5_000, gcHorizonUs: 10 });
    const n = s.fsyncCount();
    await s.raiseTimeMark({ issuedUs: 5_000 });
    expect(s.fsyncCount()).toBe(n);
    await s.close();
    const again = openStorage({ path: dir.path, fsync: false });
    expect(again.timeMark()).toEqual({ issuedUs: 5_000, gcHorizonUs: 10 });
    await again.close();
  });
});
