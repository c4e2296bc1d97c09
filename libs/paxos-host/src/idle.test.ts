import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { PaxosMessage } from '@synod/paxos';
import { openStorage, type Storage } from '@synod/storage';
import { Bus, MemoryHub } from '@synod/transport';
import { monotonicMicros, PaxosHost } from './paxos-host.js';
import { until } from './until.fixture.js';

/**
 * An idle group costs no disk: heartbeats, heartbeat acks (lease votes) and ticks persist nothing
 * (docs/paxos.md: lease votes are not persisted; a promise is persisted only when it grows).
 */
const PEERS = ['n1', 'n2', 'n3'];
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startNode(hub: MemoryHub, id: string, dir: string) {
  const bus = new Bus(hub.wire(), { nodeId: id, dc: `dc-${id}` });
  await bus.start();
  const storage: Storage = openStorage({ path: join(dir, id) }); // fsync on: every commit is a real fsync
  const host = new PaxosHost({ bus, storage, tickMs: 5 });
  const applied: string[] = [];
  const replica = await host.addGroup({
    // An election timeout far above the heartbeat interval: a worker starved for a moment on a
    // loaded 2-core host must not depose the leader (an election writes promises, not idleness).
    config: { group: 'g1', self: id, peers: PEERS, heartbeatIntervalUs: 20_000, electionTimeoutUs: 1_000_000 },
    apply: (e) => applied.push(...e.commands.map((c) => c.id)),
  });
  // Count what the replica is fed, by message type.
  const received = new Map<string, number>();
  const step = replica.step.bind(replica);
  replica.step = (msg: PaxosMessage, nowUs: number) => {
    received.set(msg.type, (received.get(msg.type) ?? 0) + 1);
    return step(msg, nowUs);
  };
  cleanups.push(async () => {
    await host.close();
    await bus.close();
    await storage.close();
  });
  return { id, host, storage, replica, applied, received };
}

type Node = Awaited<ReturnType<typeof startNode>>;

/**
 * Gets every command applied on every replica: proposed at the current leader, and proposed
 * again (same id) at whoever leads if a proposal times out because leadership moved meanwhile.
 * Bounded: 5 rounds.
 */
async function proposeAll(nodes: Node[], cmds: Array<{ id: string; payload: unknown }>): Promise<void> {
  const everywhere = (id: string) => nodes.every((n) => n.applied.includes(id));
  for (let round = 0; round < 5; round++) {
    await until(() => nodes.some((n) => n.replica.isLeader()));
    const leader = nodes.find((n) => n.replica.isLeader())!;
    const missing = cmds.filter((c) => !everywhere(c.id));
    if (missing.length === 0) return;
    // A rejected proposal (TIMEOUT, NOT_LEADER) is what the next round re-proposes; the rounds
    // are bounded and the throw below names whatever never applied.
    await Promise.allSettled(missing.map((c) => leader.host.propose('g1', [c])));
    const roundEnd = Date.now() + 2_000;
    while (!cmds.every((c) => everywhere(c.id)) && Date.now() < roundEnd) await sleep(5);
  }
  if (!cmds.every((c) => everywhere(c.id))) throw new Error(`not applied everywhere after 5 rounds: ${cmds.filter((c) => !everywhere(c.id)).map((c) => c.id).join(', ')}`);
}

describe('an idle group', () => {
  it('does no fsync for 3 s of heartbeats and lease votes, on any replica', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'synod-idle-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const hub = new MemoryHub();
    const nodes = await Promise.all(PEERS.map((id) => startNode(hub, id, dir)));
    // Some traffic first, then nothing but heartbeats.
    await proposeAll(nodes, Array.from({ length: 20 }, (_, i) => ({ id: `c:${i}`, payload: i })));
    await until(() => nodes.some((n) => n.replica.isLeader()));
    const leader = nodes.find((n) => n.replica.isLeader())!;
    const followers = nodes.filter((n) => n !== leader);
    // Settle: the last accepts and promises of the busy phase reach the disk (200 ms without a
    // commit, or give up after 2 s and let the assertions below say what keeps writing).
    let last = nodes.map((n) => n.storage.fsyncCount());
    const settleEnd = Date.now() + 2_000;
    for (let quiet = 0; quiet < 200 && Date.now() < settleEnd; quiet += 20) {
      await sleep(20);
      const now = nodes.map((n) => n.storage.fsyncCount());
      if (now.some((c, i) => c !== last[i])) quiet = 0;
      last = now;
    }
    const fsyncsBefore = nodes.map((n) => n.storage.fsyncCount());
    expect(fsyncsBefore.every((c) => c > 0)).toBe(true); // the counter sees this storage's commits
    const ballot = leader.replica.ballot();
    const heartbeatsBefore = followers.map((f) => f.received.get('heartbeat') ?? 0);
    const acksBefore = leader.received.get('heartbeatAck') ?? 0;

    await sleep(3_000);

    const fsyncsAfter = nodes.map((n) => n.storage.fsyncCount());
    const heartbeats = followers.map((f, i) => (f.received.get('heartbeat') ?? 0) - heartbeatsBefore[i]!);
    const acks = (leader.received.get('heartbeatAck') ?? 0) - acksBefore;
    console.log(`idle 3 s: fsyncs per replica ${JSON.stringify(fsyncsBefore)} -> ${JSON.stringify(fsyncsAfter)}; heartbeats received by followers ${JSON.stringify(heartbeats)}; lease votes (heartbeat acks) received by the leader ${acks}`);
    // It really was a live, idle group: the same leader, heartbeating every 20 ms, holding its lease.
    expect(leader.replica.isLeader()).toBe(true);
    expect(leader.replica.ballot()).toEqual(ballot);
    expect(leader.replica.hasLease(monotonicMicros())).toBe(true);
    for (const h of heartbeats) expect(h).toBeGreaterThan(50);
    expect(acks).toBeGreaterThan(100);
    // And not one fsync anywhere.
    expect(fsyncsAfter).toEqual(fsyncsBefore);

    // The counter is not asleep: one proposal costs every replica a synced commit.
    await proposeAll(nodes, [{ id: 'wake', payload: 'x' }]);
    await until(() => nodes.every((n, i) => n.storage.fsyncCount() > fsyncsAfter[i]!));
  }, 20_000);
});
