import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStorage } from '@synod/storage';
import { Bus, MemoryHub } from '@synod/transport';
import { PaxosHost } from './paxos-host.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}

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
