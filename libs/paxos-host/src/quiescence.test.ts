import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStorage, type Storage } from '@synod/storage';
import { Bus, MemoryHub } from '@synod/transport';
import { PaxosHost } from './paxos-host.js';
import { until } from './until.fixture.js';
import { stopOnce } from './stop-once.fixture.js';

/**
 * Quiescent groups through the host (docs/paxos.md, "Quiescent groups"; docs/transport.md, "Node
 * beats and liveness"): three hosts, many groups, an in-memory hub, real LMDB and the real clock.
 * Bounds are generous: they tell a quiet cluster from a heartbeating one, not one speed from another.
 */
const PEERS = ['n1', 'n2', 'n3'];
const GROUPS = 16;
const HEARTBEAT_MS = 20;
const QUIESCE_AFTER_MS = 1_000;
/** Election timeout and liveness timeout: long enough that a loaded CI machine deposes no one. */
const TIMEOUT_MS = 1_000;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const groupIds = Array.from({ length: GROUPS }, (_, i) => `g${i}`);

async function startNode(hub: MemoryHub, id: string, dir: string) {
  const bus = new Bus(hub.wire(), { nodeId: id, dc: `dc-${id}` });
  await bus.start();
  const storage: Storage = openStorage({ path: join(dir, id) });
  const host = new PaxosHost({ bus, storage, tickMs: 5, quiesceAfterUs: QUIESCE_AFTER_MS * 1000, beatIntervalMs: HEARTBEAT_MS, livenessTimeoutMs: TIMEOUT_MS });
  const applied = new Map<string, string[]>();
  for (const group of groupIds) {
    const list: string[] = [];
    applied.set(group, list);
    await host.addGroup({
      config: { group, self: id, peers: PEERS, heartbeatIntervalUs: HEARTBEAT_MS * 1000, electionTimeoutUs: TIMEOUT_MS * 1000 },
      apply: (e) => list.push(...e.commands.map((c) => c.id)),
    });
  }
  const stop = stopOnce(host, bus, storage);
  cleanups.push(stop);
  return { id, bus, host, storage, applied, stop };
}

type Node = Awaited<ReturnType<typeof startNode>>;

async function startCluster(): Promise<Node[]> {
  const dir = mkdtempSync(join(tmpdir(), 'synod-quiet-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const hub = new MemoryHub();
  const nodes = await Promise.all(PEERS.map((id) => startNode(hub, id, dir)));
  await until(() => groupIds.every((g) => nodes.some((n) => n.host.replica(g)!.isLeader())), 20_000);
  return nodes;
}

const leaderOf = (nodes: Node[], g: string) => nodes.find((n) => n.host.replica(g)!.isLeader());
const allQuiet = (nodes: Node[]) => nodes.every((n) => n.host.quietGroups() === GROUPS);
/** Messages every node's bus delivered per second over `ms`. */
async function deliveredPerSecond(nodes: Node[], ms: number): Promise<number> {
  const before = nodes.reduce((s, n) => s + n.bus.stats().received, 0);
  await sleep(ms);
  const after = nodes.reduce((s, n) => s + n.bus.stats().received, 0);
  return ((after - before) * 1000) / ms;
}

describe('quiescent groups on PaxosHost', () => {
  it(`${GROUPS} idle groups go quiet after quiesceAfter: the cluster's traffic falls to one node beat per peer per interval`, async () => {
    const nodes = await startCluster();
    // Awake (a client touched every replica: none may go quiet for quiesceAfter): every leader
    // heartbeats every follower, every follower acks.
    for (const n of nodes) for (const g of groupIds) n.host.touch(g);
    const awake = await deliveredPerSecond(nodes, 400);
    await until(() => allQuiet(nodes), 10_000);
    const quiet = await deliveredPerSecond(nodes, 1_000);
    // The beats: each node to each of its 2 peers once per interval (some intervals carry something else instead).
    const beatsPerSecond = PEERS.length * (PEERS.length - 1) * (1000 / HEARTBEAT_MS);
    console.log(`messages delivered per second, whole cluster: awake ${awake.toFixed(0)}, quiet ${quiet.toFixed(0)} (node beats alone: ${beatsPerSecond})`);
    expect(awake).toBeGreaterThan(GROUPS * 2 * 2 * (1000 / HEARTBEAT_MS) * 0.3);
    expect(quiet).toBeLessThan(beatsPerSecond * 1.5);
    expect(quiet).toBeLessThan(awake / 3);
    // Quiet leaders hold no lease and schedule no tick; their followers still know them.
    for (const g of groupIds) {
      const leader = leaderOf(nodes, g)!;
      expect(leader.host.replica(g)!.nextTickUs()).toBe(Number.POSITIVE_INFINITY);
      for (const n of nodes) expect(n.host.replica(g)!.leaderHint()).toBe(leader.id);
    }
    // The quiet count is exported.
    expect(await nodes[0]!.bus.metrics.render()).toMatch(new RegExp(`synod_paxos_quiet_groups ${GROUPS}\\b`));
    // The host's ticker sleeps: at most one wake per MAX_TICK_SLEEP_MS (1 s) beyond the followers' election deadlines.
    const wakes = nodes.map((n) => n.host.tickerWakes);
    await sleep(1_000);
    for (const [i, n] of nodes.entries()) expect(n.host.tickerWakes - wakes[i]!).toBeLessThan(GROUPS * 3);
  }, 40_000);

  it('a proposal to a quiet group commits, at its leader and through a touched follower', async () => {
    const nodes = await startCluster();
    await until(() => allQuiet(nodes), 10_000);
    const leader = leaderOf(nodes, 'g0')!;
    await leader.host.propose('g0', [{ id: 'at-leader', payload: 1 }], 5_000);
    await until(() => nodes.every((n) => n.applied.get('g0')!.includes('at-leader')));
    // A client's request at a follower of a quiet group: the shell touches it, then proposes (forwarded to the leader).
    const leader1 = leaderOf(nodes, 'g1')!;
    const follower = nodes.find((n) => n !== leader1)!;
    expect(follower.host.replica('g1')!.isQuiet()).toBe(true);
    follower.host.touch('g1');
    expect(follower.host.replica('g1')!.isQuiet()).toBe(false);
    await follower.host.propose('g1', [{ id: 'via-follower', payload: 2 }], 5_000);
    await until(() => nodes.every((n) => n.applied.get('g1')!.includes('via-follower')));
    // Idle again, both groups go quiet again.
    await until(() => allQuiet(nodes), 10_000);
  }, 40_000);

  it('re-arms quiet followers without ticking them while their leaders\' nodes beat, and leaders stay put', async () => {
    const nodes = await startCluster();
    await until(() => allQuiet(nodes), 10_000);
    const leaders = groupIds.map((g) => leaderOf(nodes, g)!.id);
    const before = nodes.map((n) => n.host.quietRearmCount);
    // Election deadlines are 1-2 × TIMEOUT_MS: in 3.5 s every quiet follower passes at least one.
    await sleep(3_500);
    nodes.forEach((n, i) => expect(n.host.quietRearmCount - before[i]!).toBeGreaterThanOrEqual(groupIds.filter((g) => leaders[groupIds.indexOf(g)] !== n.id).length));
    expect(allQuiet(nodes)).toBe(true);
    expect(groupIds.map((g) => leaderOf(nodes, g)!.id)).toEqual(leaders);
  }, 40_000);

  it("after the leader's host stops, quiet followers elect new leaders once its node beats stop", async () => {
    const nodes = await startCluster();
    await until(() => allQuiet(nodes), 10_000);
    // The node leading the most groups goes away.
    const victim = [...nodes].sort((a, b) => groupIds.filter((g) => b.host.replica(g)!.isLeader()).length - groupIds.filter((g) => a.host.replica(g)!.isLeader()).length)[0]!;
    const led = groupIds.filter((g) => victim.host.replica(g)!.isLeader());
    expect(led.length).toBeGreaterThan(0);
    const t0 = Date.now();
    await victim.stop();
    const rest = nodes.filter((n) => n !== victim);
    await until(() => led.every((g) => rest.some((n) => n.host.replica(g)!.isLeader())), 20_000);
    console.log(`${led.length} groups led by the stopped node re-elected in ${Date.now() - t0} ms (liveness timeout ${TIMEOUT_MS} ms)`);
    // And they serve.
    for (const g of led) await leaderOf(rest, g)!.host.propose(g, [{ id: `after:${g}`, payload: 0 }], 5_000);
  }, 60_000);
});
