import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SynodError } from '@synod/codec';
import type { ApplyEntry } from '@synod/paxos';
import { openStorage, type Storage } from '@synod/storage';
import { Bus, MemoryHub } from '@synod/transport';
import { PaxosHost } from './paxos-host.js';
import { until } from './until.fixture.js';
import { stopOnce } from './stop-once.fixture.js';

/** Learners, promotion, removal and leader transfer through PaxosHost (docs/paxos.md "Learners and leader transfer"). */
const VOTERS = ['n1', 'n2', 'n3'];
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});


async function startNode(hub: MemoryHub, id: string, dir: string, electionTimeoutUs = 300_000) {
  const applied: string[] = [];
  const bus = new Bus(hub.wire(), { nodeId: id, dc: `dc-${id}` });
  await bus.start();
  const storage: Storage = openStorage({ path: join(dir, id) });
  const host = new PaxosHost({ bus, storage, tickMs: 5 });
  await host.addGroup({
    config: { group: 'g1', self: id, peers: VOTERS, heartbeatIntervalUs: 20_000, electionTimeoutUs, window: 4 }, // a slow shared CI machine must not depose leaders mid-test
    apply: (e: ApplyEntry) => applied.push(...e.commands.map((c) => c.id)),
  });
  const stop = stopOnce(host, bus, storage);
  cleanups.push(stop);
  return { id, bus, host, applied, stop };
}

async function startGroup(extra: string[] = [], electionTimeoutUs?: number) {
  const dir = mkdtempSync(join(tmpdir(), 'synod-membership-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const hub = new MemoryHub();
  const nodes = await Promise.all([...VOTERS, ...extra].map((id) => startNode(hub, id, dir, electionTimeoutUs)));
  await until(() => nodes.some((n) => n.host.replica('g1')!.isLeader()));
  const leader = nodes.find((n) => n.host.replica('g1')!.isLeader())!;
  return { nodes, leader, byId: (id: string) => nodes.find((n) => n.id === id)! };
}

const codeOf = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return e instanceof SynodError ? `${e.code}${e.hint?.reason ? `:${e.hint.reason}` : ''}` : String(e);
  }
};

describe('PaxosHost: learners, promotion, removal', () => {
  it('adds a learner, sees it catch up, promotes it, and removes the old voter', async () => {
    const { leader, byId } = await startGroup(['n4']);
    await Promise.all(Array.from({ length: 10 }, (_, i) => leader.host.propose('g1', [{ id: `a:${i}`, payload: i }])));
    await leader.host.reconfigure('g1', { peers: VOTERS, learners: ['n4'] });
    await Promise.all(Array.from({ length: 10 }, (_, i) => leader.host.propose('g1', [{ id: `b:${i}`, payload: i }])));
    const n4 = byId('n4');
    await until(() => n4.applied.length === 20);
    expect(n4.applied).toEqual(leader.applied);
    expect(n4.host.replica('g1')!.isMember()).toBe(false);
    await until(() => (leader.host.progress('g1').find((p) => p.node === 'n4')?.matchSlot ?? 0) >= leader.host.replica('g1')!.chosenUpTo());
    expect(leader.host.progress('g1').find((p) => p.node === 'n4')?.voter).toBe(false);
    // The learner configuration must govern before the next change (one at a time).
    await until(() => leader.host.replica('g1')!.membership().learners?.includes('n4') === true);
    // Swap n4 in for a follower, then drop the follower's group.
    const old = VOTERS.find((v) => v !== leader.id)!;
    const next = VOTERS.map((v) => (v === old ? 'n4' : v));
    await leader.host.reconfigure('g1', { peers: next });
    await until(() => n4.host.replica('g1')!.isMember());
    await byId(old).host.removeGroup('g1');
    expect(byId(old).host.replica('g1')).toBeUndefined();
    expect(await codeOf(byId(old).host.propose('g1', [{ id: 'x', payload: 0 }]))).toBe('UNAVAILABLE');
    await Promise.all(Array.from({ length: 5 }, (_, i) => leader.host.propose('g1', [{ id: `c:${i}`, payload: i }])));
    await until(() => n4.applied.length === 25);
    expect(leader.host.progress('g1').map((p) => p.node).sort()).toEqual([...next].sort());
  });

  it('rejects a lagging learner as behind, bad memberships, and a follower', async () => {
    const { leader, nodes } = await startGroup();
    // n5 is a learner no process hosts: it never acknowledges anything.
    await leader.host.reconfigure('g1', { peers: VOTERS, learners: ['n5'] });
    for (let i = 0; i < 8; i++) await leader.host.propose('g1', [{ id: `a:${i}`, payload: i }]);
    await until(() => leader.host.replica('g1')!.membership().learners?.includes('n5') === true);
    const promote = [...VOTERS.filter((v) => v !== leader.id).slice(0, 1), leader.id, 'n5'];
    expect(await codeOf(leader.host.reconfigure('g1', { peers: promote }))).toBe('UNAVAILABLE:behind');
    expect(await codeOf(leader.host.reconfigure('g1', { peers: VOTERS, learners: ['n1'] }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(leader.host.reconfigure('g1', { peers: ['n1', 'n2', 'n3', 'n4'], q1: 2, q2: 2 }))).toBe('INVALID_ARGUMENT');
    const follower = nodes.find((n) => n !== leader)!;
    expect(await codeOf(follower.host.reconfigure('g1', { peers: VOTERS }))).toBe('NOT_LEADER');
    expect(await codeOf(leader.host.transferLeadership('g1', 'n5'))).toBe('INVALID_ARGUMENT');
    // The group still works: nothing above was fatal.
    await leader.host.propose('g1', [{ id: 'after', payload: 1 }]);
  });
});

describe('PaxosHost: leader transfer', () => {
  it('hands leadership to a chosen voter, which then serves proposals', async () => {
    const { leader, nodes } = await startGroup();
    await Promise.all(Array.from({ length: 10 }, (_, i) => leader.host.propose('g1', [{ id: `a:${i}`, payload: i }])));
    const target = nodes.find((n) => n !== leader)!;
    await leader.host.transferLeadership('g1', target.id, 5_000);
    expect(leader.host.replica('g1')!.leaderHint()).toBe(target.id);
    await until(() => target.host.replica('g1')!.isLeader());
    expect(leader.host.replica('g1')!.isLeader()).toBe(false);
    await target.host.propose('g1', [{ id: 'on-new-leader', payload: 1 }]);
    await until(() => nodes.every((n) => n.applied.includes('on-new-leader')));
    expect(await codeOf(leader.host.transferLeadership('g1', target.id))).toBe('NOT_LEADER');
    await target.host.transferLeadership('g1', target.id); // already leads: resolves at once
  });

  it('refuses a target not heard from within an election timeout, and the leader leads on', async () => {
    const { leader, nodes } = await startGroup();
    const target = nodes.find((n) => n !== leader)!;
    await target.stop();
    await leader.host.propose('g1', [{ id: 'a', payload: 1 }]);
    await new Promise((r) => setTimeout(r, 400)); // past the 300 ms election timeout
    expect(await codeOf(leader.host.transferLeadership('g1', target.id, 1_000))).toBe('UNAVAILABLE:unreachable');
    expect(leader.host.replica('g1')!.isLeader()).toBe(true);
    await leader.host.propose('g1', [{ id: 'b', payload: 2 }]);
  });

  it('rejects at once when the core gives up because the target fell silent, and the leader leads on', async () => {
    const { leader, nodes } = await startGroup([], 1_000_000); // heard within 1 s when the transfer starts, on any machine
    const target = nodes.find((n) => n !== leader)!;
    await target.stop();
    // The lease drains from the last votes before the transfer, which the target's last ack
    // precedes: the target has been silent for an election timeout before the lease is over.
    expect(await codeOf(leader.host.transferLeadership('g1', target.id, 60_000))).toBe('UNAVAILABLE:transfer_gave_up');
    expect(leader.host.replica('g1')!.isLeader()).toBe(true);
    await leader.host.propose('g1', [{ id: 'b', payload: 2 }]);
  }, 20_000);
});
