import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { openStorage } from '@synod/storage';
import { Bus, MemoryHub } from '@synod/transport';
import { SynodError } from '@synod/codec';
import type { Command } from '@synod/paxos';
import { PaxosHost } from './paxos-host.js';
import { until as waitUntil } from './until.fixture.js';

/** Snapshot transfers take longer: 15 s. */
const until = (cond: () => boolean, ms = 15_000) => waitUntil(cond, ms);

const PEERS = ['n1', 'n2', 'n3'];
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The state machine under test: how many commands applied and a digest of their ids in order. */
interface Counter {
  applied: number;
  digest: number;
}

async function startNode(hub: MemoryHub, id: string, dir: string) {
  const bus = new Bus(hub.wire(), { nodeId: id, dc: `dc-${id}` });
  await bus.start();
  const storage = openStorage({ path: join(dir, id), fsync: false });
  const host = new PaxosHost({ bus, storage, tickMs: 5 });
  const state: Counter = { applied: 0, digest: 0 };
  let restores = 0;
  await host.addGroup({
    config: { group: 'g1', self: id, peers: PEERS, heartbeatIntervalUs: 20_000, electionTimeoutUs: 100_000, snapshotIntervalEntries: 8, maxBatch: 1 },
    apply: (e) => {
      for (const c of e.commands) {
        state.applied++;
        for (let i = 0; i < c.id.length; i++) state.digest = Math.imul(state.digest ^ c.id.charCodeAt(i), 0x01000193) >>> 0;
      }
    },
    snapshot: () => ({ ...state }),
    restore: (data) => {
      restores++;
      Object.assign(state, data as Counter);
    },
  });
  const stop = async () => {
    await host.close();
    await bus.close();
    await storage.close();
  };
  cleanups.push(stop);
  return { host, storage, state, stop, restores: () => restores };
}


/**
 * Proposes through whichever node leads now, again with the same id after a TIMEOUT or
 * NOT_LEADER (a forward lost in a leader change on a loaded machine): ids apply exactly once.
 */
async function proposeOnce(nodes: Array<{ host: PaxosHost }>, cmd: Command): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await until(() => nodes.some((n) => n.host.replica('g1')?.isLeader()));
    const at = nodes.find((n) => n.host.replica('g1')?.isLeader())!;
    try {
      return await at.host.propose('g1', [cmd], 3_000);
    } catch (err) {
      if (attempt >= 5 || !(err instanceof SynodError && (err.code === 'TIMEOUT' || err.code === 'NOT_LEADER'))) throw err;
    }
  }
}

it('compacts the durable log behind snapshots, restarts from snapshot + tail, and catches a lagging replica up by snapshot transfer', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'synod-host-snap-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const hub = new MemoryHub();
  const nodes = await Promise.all(PEERS.map((id) => startNode(hub, id, dir)));
  await until(() => nodes.some((n) => n.host.replica('g1')!.isLeader()));
  const leader = nodes.find((n) => n.host.replica('g1')!.isLeader())!;
  const laggard = nodes.findIndex((n) => n !== leader);

  for (let i = 0; i < 40; i++) await proposeOnce(nodes, { id: `a:${i}`, payload: i });
  await until(() => nodes.every((n) => n.state.applied === 40));

  // Every replica keeps a durable snapshot and only the log tail behind it.
  for (const n of nodes) {
    const d = await n.storage.paxos('g1').load();
    expect(d.snapshot?.upTo).toBeGreaterThan(0);
    expect(d.accepted.length).toBeLessThan(40);
  }

  // The laggard misses a stretch the others compact away, then restarts.
  await nodes[laggard]!.stop();
  cleanups.splice(cleanups.indexOf(nodes[laggard]!.stop), 1);
  for (let i = 0; i < 40; i++) await proposeOnce(nodes.filter((_, i2) => i2 !== laggard), { id: `b:${i}`, payload: i });
  const reborn = await startNode(hub, PEERS[laggard]!, dir);
  // Restored from its own durable snapshot at start-up …
  expect(reborn.restores()).toBe(1);
  expect(reborn.state.applied).toBeGreaterThan(0);
  // … and brought level with the leader, by a snapshot from a peer if its log is compacted away there.
  await until(() => reborn.state.applied === 80);
  expect(reborn.state).toEqual(leader.state);
  expect(reborn.restores()).toBeGreaterThanOrEqual(2);
}, 60_000);
