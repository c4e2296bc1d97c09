import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApplyEntry } from '@synod/paxos';
import { openStorage, type Storage } from '@synod/storage';
import { Bus, MemoryHub } from '@synod/transport';
import { PaxosHost } from './paxos-host.js';
import { until } from './until.fixture.js';

const PEERS = ['n1', 'n2', 'n3'];
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startNode(hub: MemoryHub, id: string, dir: string, applied: string[]) {
  const bus = new Bus(hub.wire(), { nodeId: id, dc: `dc-${id}` });
  await bus.start();
  const storage: Storage = openStorage({ path: join(dir, id) });
  const host = new PaxosHost({ bus, storage, tickMs: 5 });
  await host.addGroup({
    // A slow shared CI machine must not depose leaders mid-test (an election timeout 50 heartbeats long).
    config: { group: 'g1', self: id, peers: PEERS, heartbeatIntervalUs: 20_000, electionTimeoutUs: 1_000_000 },
    apply: (e: ApplyEntry) => applied.push(...e.commands.map((c) => c.id)),
  });
  const stop = async () => {
    await host.close();
    await bus.close();
    await storage.close();
  };
  return { bus, host, storage, stop };
}


/** Three replicas of g1 on one in-memory hub, each with its own LMDB, once a leader is elected. */
async function startGroup() {
  const dir = mkdtempSync(join(tmpdir(), 'synod-host-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const hub = new MemoryHub();
  const applied: Record<string, string[]> = { n1: [], n2: [], n3: [] };
  const nodes = await Promise.all(PEERS.map((id) => startNode(hub, id, dir, applied[id]!)));
  cleanups.push(() => Promise.all(nodes.map((n) => n.stop())).then(() => undefined));
  await until(() => nodes.some((n) => n.host.replica('g1')!.isLeader()));
  const leader = nodes.find((n) => n.host.replica('g1')!.isLeader())!;
  return { dir, hub, applied, nodes, leader };
}

describe('PaxosHost over the in-memory bus with real LMDB', () => {
  it('replicates proposals from any replica and applies them identically everywhere', async () => {
    const { dir, hub, applied, nodes, leader } = await startGroup();
    const follower = nodes.find((n) => n !== leader)!;
    await Promise.all(Array.from({ length: 50 }, (_, i) => leader.host.propose('g1', [{ id: `c:${i}`, payload: i }])));
    // A follower forwards to the leader it knows: wait until it has heard from it (slow machines).
    await until(() => follower.host.replica('g1')!.leaderHint() === leader.bus.nodeId);
    await follower.host.propose('g1', [{ id: 'via-follower', payload: 'x' }]);
    // A retried command id is applied once.
    await leader.host.propose('g1', [{ id: 'c:3', payload: 3 }]);
    await until(() => PEERS.every((p) => applied[p]!.length === 51));
    expect(applied.n2).toEqual(applied.n1);
    expect(applied.n3).toEqual(applied.n1);
    expect(new Set(applied.n1).size).toBe(51);
  });

  it('a restarted replica recovers its log from LMDB and catches up', async () => {
    const { dir, hub, applied, nodes, leader } = await startGroup();
    const victimIdx = nodes.findIndex((n) => n !== leader);
    const victimId = PEERS[victimIdx]!;
    await Promise.all(Array.from({ length: 20 }, (_, i) => leader.host.propose('g1', [{ id: `a:${i}`, payload: i }])));
    await until(() => applied[victimId]!.length === 20);
    await nodes[victimIdx]!.stop();
    await Promise.all(Array.from({ length: 20 }, (_, i) => leader.host.propose('g1', [{ id: `b:${i}`, payload: i }])));
    const reborn: string[] = [];
    nodes[victimIdx] = await startNode(hub, victimId, dir, reborn);
    await until(() => reborn.length === 40);
    expect(reborn).toEqual(applied[leader.bus.nodeId]);
  });
});
