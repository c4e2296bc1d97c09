import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NATS_MAX_PAYLOAD_BYTES } from '@synod/limits';
import { startNatsServer } from '@synod/natsd';
import { openStorage } from '@synod/storage';
import { Bus, MemoryHub, connectBus } from '@synod/transport';
import { PaxosHost } from './paxos-host.js';

/**
 * Message byte budgets over the real shell (docs/paxos.md, "Message budgets"): durable state
 * whose log suffix is many times the max payload still elects after a full restart; a follower
 * far behind with large commits catches up; large concurrent commits replicate; and no send
 * ever becomes an unhandled rejection.
 */
const PEERS = ['n1', 'n2', 'n3'];
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Fails the test on any unhandled rejection (a production process would die of it). */
function trapUnhandled(): string[] {
  const seen: string[] = [];
  const saved = process.listeners('unhandledRejection');
  process.removeAllListeners('unhandledRejection');
  process.on('unhandledRejection', (r: unknown) => seen.push(String((r as Error)?.message ?? r)));
  cleanups.push(() => {
    process.removeAllListeners('unhandledRejection');
    for (const l of saved) process.on('unhandledRejection', l as never);
  });
  return seen;
}

async function until(what: string, cond: () => boolean, ms: number): Promise<number> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(20);
  }
  return Date.now() - start;
}

async function startNode(dir: string, id: string, wire: (id: string) => Promise<Bus>) {
  const bus = await wire(id);
  const storage = openStorage({ path: join(dir, id), fsync: false });
  const fatal: unknown[] = [];
  const host = new PaxosHost({ bus, storage, tickMs: 5, onFatal: (e) => fatal.push(e) });
  await host.addGroup({ config: { group: 'g1', self: id, peers: PEERS, heartbeatIntervalUs: 20_000, electionTimeoutUs: 300_000 } }); // a slow shared CI machine must not depose leaders mid-test
  const node = { id, bus, host, storage, fatal, stop: async () => (await host.close(), await bus.close(), await storage.close()) };
  return node;
}

describe('message budgets over the real shell', { timeout: 120_000 }, () => {
  it('a full restart elects although every log suffix is several times the max payload', async () => {
    const unhandled = trapUnhandled();
    const dir = mkdtempSync(join(tmpdir(), 'synod-budget-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    // 4,000 entries of 8 KB each: 32 MB of log per replica, 4× NATS_MAX_PAYLOAD_BYTES.
    const blob = 'c'.repeat(8_000);
    const entries = Array.from({ length: 4_000 }, (_, i) => ({
      slot: i,
      ballot: { round: 1, node: 'n1' },
      value: { kind: 'batch' as const, cmds: [{ id: `n1:${i + 1}`, payload: { t: 'commit', v: blob } }] },
    }));
    expect(entries.length * blob.length).toBeGreaterThan(3 * NATS_MAX_PAYLOAD_BYTES);
    for (const id of PEERS) {
      const storage = openStorage({ path: join(dir, id), fsync: false });
      await storage.paxos('g1').persist({ promised: { round: 1, node: 'n1' }, accepted: entries });
      await storage.close();
    }
    const hub = new MemoryHub();
    const nodes = await Promise.all(PEERS.map((id) => startNode(dir, id, async (nid) => {
      const b = new Bus(hub.wire(), { nodeId: nid, dc: `dc-${nid}` });
      await b.start();
      return b;
    })));
    cleanups.push(async () => { for (const n of nodes) await n.stop(); });
    const ms = await until('a leader with the whole log chosen', () => nodes.some((n) => n.host.replica('g1')!.isLeader() && n.host.replica('g1')!.chosenUpTo() >= 4_000), 60_000);
    console.log(`[timing] elected and re-chose 4,000 entries (32 MB) in ${ms} ms`);
    expect(nodes.flatMap((n) => n.fatal)).toEqual([]);
    expect(unhandled).toEqual([]);
  });

  it('over nats-server: a follower 150 entries behind with 9 KB commits catches up; 64 concurrent 20 KB commits apply', async () => {
    const unhandled = trapUnhandled();
    const dir = mkdtempSync(join(tmpdir(), 'synod-budget-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const nats = await startNatsServer();
    cleanups.push(() => nats.stop());
    const wire = (id: string) => connectBus(nats.url, { nodeId: id, dc: `dc-${id}` });
    const nodes = await Promise.all(PEERS.map((id) => startNode(dir, id, wire)));
    cleanups.push(async () => { for (const n of nodes) await n.stop().catch(() => undefined); });
    await until('a leader', () => nodes.some((n) => n.host.replica('g1')!.isLeader()), 20_000);
    const leader = nodes.find((n) => n.host.replica('g1')!.isLeader())!;
    const fi = nodes.findIndex((n) => n !== leader);
    await nodes[fi]!.stop();
    const blob = 'x'.repeat(9_000);
    for (let i = 0; i < 150; i++) await leader.host.propose('g1', [{ id: `w:${i + 1}`, payload: { t: 'commit', v: blob } }]);
    nodes[fi] = await startNode(dir, PEERS[fi]!, wire);
    const target = leader.host.replica('g1')!.chosenUpTo();
    const ms = await until('the follower catches up', () => nodes[fi]!.host.replica('g1')!.appliedUpTo() >= target, 30_000);
    console.log(`[timing] follower caught up ${target} entries in ${ms} ms`);
    const big = 'y'.repeat(20_000);
    const results = await Promise.allSettled(Array.from({ length: 64 }, (_, i) => leader.host.propose('g1', [{ id: `b:${i + 1}`, payload: { t: 'commit', v: big } }], 20_000)));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(nodes.flatMap((n) => n.fatal)).toEqual([]);
    expect(unhandled).toEqual([]);
  });
});
