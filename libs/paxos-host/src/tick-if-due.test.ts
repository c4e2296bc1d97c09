import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openStorage } from '@synod/storage';
import { Bus, MemoryHub } from '@synod/transport';
import { PaxosHost } from './paxos-host.js';
import { until } from './until.fixture.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});


/** One replica alone in its group on a clock the test moves: nothing becomes due unless it says so. */
async function startAlone() {
  const dir = mkdtempSync(join(tmpdir(), 'synod-tick-'));
  const bus = new Bus(new MemoryHub().wire(), { nodeId: 'n1', dc: 'dc-a' });
  await bus.start();
  const storage = openStorage({ path: dir, fsync: false });
  const clock = { us: 1_000_000 };
  const host = new PaxosHost({ bus, storage, tickMs: 1, clock: () => clock.us });
  const replica = await host.addGroup({ config: { group: 'g1', self: 'n1', peers: ['n1'], heartbeatIntervalUs: 50_000, electionTimeoutUs: 500_000 } });
  cleanups.push(async () => {
    await host.close();
    await bus.close();
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { host, replica, clock };
}

describe('PaxosHost.tickIfDue', () => {
  it('ticks a replica only when it is due, as the host ticker would', async () => {
    const { host, replica, clock } = await startAlone();
    clock.us += 2_000_000;
    await until(() => replica.isLeader());
    // The ticker has run at this reading since: nothing is due until the clock moves.
    await until(() => replica.nextTickUs() > clock.us);
    expect(host.tickIfDue('g1')).toBe(false);
    const due = replica.nextTickUs();
    clock.us = due;
    expect(host.tickIfDue('g1')).toBe(true);
    // The tick moved the replica's next duty past now: a second call in the same turn does nothing.
    expect(replica.nextTickUs()).toBeGreaterThan(due);
    expect(host.tickIfDue('g1')).toBe(false);
    expect(host.tickIfDue('no-such-group')).toBe(false);
  });

  it('does nothing once the host is closed', async () => {
    const { host, replica, clock } = await startAlone();
    clock.us += 2_000_000;
    await until(() => replica.isLeader());
    await host.close();
    clock.us = replica.nextTickUs() + 1_000_000;
    expect(host.tickIfDue('g1')).toBe(false);
  });
});

describe('the host ticker', () => {
  it('sleeps until a replica is due instead of waking every tickMs, and wakes for one that became due', async () => {
    // Started on real timers (the bus's start-up question times out on one), then simulated time.
    const { host, replica, clock } = await startAlone();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const ticks: number[] = [];
      const tick = replica.tick.bind(replica);
      replica.tick = (nowUs: number) => {
        ticks.push(nowUs);
        return tick(nowUs);
      };
      // Simulated time in 1 ms steps, host clock and timers together; the persists (LMDB) are real.
      const advance = async (ms: number) => {
        for (let i = 0; i < ms; i++) {
          clock.us += 1_000;
          vi.advanceTimersByTime(1);
          await new Promise((r) => setImmediate(r));
        }
      };
      for (let i = 0; i < 20 && !replica.isLeader(); i++) await advance(100);
      expect(replica.isLeader()).toBe(true);
      // An idle leader has work once per heartbeat (50 ms): about 20 ticks a second, not 1,000 (tickMs 1).
      ticks.length = 0;
      const wakes = host.tickerWakes;
      await advance(1_000);
      expect(ticks.length).toBeGreaterThanOrEqual(15);
      expect(ticks.length).toBeLessThanOrEqual(25);
      // The ticker itself woke about as often (a ticker on a 1 ms interval: 1,000 times).
      expect(host.tickerWakes - wakes).toBeLessThanOrEqual(30);
      // Every tick found the replica due: none was wasted.
      for (let i = 1; i < ticks.length; i++) expect(ticks[i]! - ticks[i - 1]!).toBeGreaterThanOrEqual(40_000);
      // A proposal makes the leader due at once (queue, in flight): the sleeping ticker is brought forward.
      const proposed = host.propose('g1', [{ id: 'c1', payload: 1 }]);
      await advance(5);
      await proposed;
      expect(replica.appliedUpTo()).toBeGreaterThan(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
