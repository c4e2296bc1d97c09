import { describe, expect, it } from 'vitest';
import { InvariantViolation, type Replica } from '@synod/paxos';
import type { Storage } from '@synod/storage';
import { Bus, MemoryHub } from '@synod/transport';
import { PaxosHost } from './paxos-host.js';
import { until } from './until.fixture.js';

/**
 * The host's half of fail-safe replication (docs/paxos.md, "The Ready pipeline"): nothing of
 * a Ready is observable before its persist is durable, and a broken invariant stops the host.
 */
const ids = ['a', 'b', 'c'];

/** In-memory durable state per node whose fsyncs can be held back (a slow or stuck disk). */
function gatedStorage() {
  const held: Array<() => void> = [];
  let hold = false;
  const storage = {
    paxos: () => ({
      load: async () => ({ promised: null, accepted: [] }),
      persist: () => (hold ? new Promise<void>((resolve) => held.push(resolve)) : Promise.resolve()),
    }),
    // No state machine writes here: nothing to defer.
    deferApplies: () => undefined,
  } as unknown as Storage;
  return {
    storage,
    holdFsyncs: () => (hold = true),
    releaseFsyncs: () => {
      hold = false;
      for (const r of held.splice(0)) r();
    },
    get heldCount() {
      return held.length;
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PaxosHost fail-safety', () => {
  it('propose() does not resolve before the leader has its accept on disk (q1 = 3, q2 = 1)', async () => {
    const hub = new MemoryHub();
    const disks = ids.map(() => gatedStorage());
    const hosts: PaxosHost[] = [];
    const replicas: Replica[] = [];
    const applied: string[] = [];
    for (const [i, id] of ids.entries()) {
      const bus = new Bus(hub.wire(), { nodeId: id, dc: `dc-${id}` });
      await bus.start();
      const host = new PaxosHost({ bus, storage: disks[i]!.storage, tickMs: 5 });
      hosts.push(host);
      replicas.push(
        await host.addGroup({
          // Timeouts a loaded CI machine does not outrun: leadership must not change under the test.
          config: { group: 'g', self: id, peers: ids, q1: 3, q2: 1, heartbeatIntervalUs: 50_000, electionTimeoutUs: 1_000_000 },
          apply: (e) => applied.push(...e.commands.map((c) => `${id}:${c.id}`)),
        }),
      );
    }
    try {
      // A leader whose first command committed: leadership settled (a fresh one may still lose a race).
      let li = -1;
      for (let attempt = 0; li < 0; attempt++) {
        await until(() => replicas.some((r) => r.isLeader()));
        const candidate = replicas.findIndex((r) => r.isLeader());
        try {
          await hosts[candidate]!.propose('g', [{ id: `warm:${attempt}`, payload: 'w' }], 5_000);
          li = candidate;
        } catch (err) {
          if (attempt >= 20 || (err as { code?: string }).code !== 'NOT_LEADER') throw err;
        }
      }
      applied.length = 0;
      const leaderDisk = disks[li]!;
      leaderDisk.holdFsyncs();
      let resolved = false;
      const p = hosts[li]!.propose('g', [{ id: 'w:1', payload: 'x' }], 5_000).then(() => (resolved = true));
      await until(() => leaderDisk.heldCount > 0);
      await sleep(300);
      // With q2 = 1 the leader's own vote chooses the entry; still nothing may be observed.
      expect(resolved).toBe(false);
      expect(applied.filter((a) => a.startsWith(`${ids[li]}:`))).toEqual([]);
      leaderDisk.releaseFsyncs();
      await p;
      expect(resolved).toBe(true);
    } finally {
      for (const h of hosts) await h.close();
    }
  });

  it('an InvariantViolation while handling a message stops the host through onFatal', async () => {
    const hub = new MemoryHub();
    const bus = new Bus(hub.wire(), { nodeId: 'a', dc: 'dc-a' });
    await bus.start();
    const fatal: unknown[] = [];
    const host = new PaxosHost({ bus, storage: gatedStorage().storage, tickMs: 1_000, onFatal: (err) => fatal.push(err) });
    const replica = await host.addGroup({ config: { group: 'g', self: 'a', peers: ids, heartbeatIntervalUs: 10_000, electionTimeoutUs: 50_000 } });
    let steps = 0;
    replica.step = () => {
      steps++;
      throw new InvariantViolation('promised ballot never decreases', 'injected');
    };
    const peer = new Bus(hub.wire(), { nodeId: 'b', dc: 'dc-b' });
    await peer.start();
    const nack = { type: 'nack', group: 'g', from: 'b', ballot: { round: 1, node: 'a' }, promised: { round: 2, node: 'b' } } as const;
    peer.send('a', 'paxos', nack, 'g');
    await until(() => fatal.length > 0);
    expect(fatal[0]).toBeInstanceOf(InvariantViolation);
    // Stopped for good: later messages are not handed to the replica.
    peer.send('a', 'paxos', nack, 'g');
    await sleep(50);
    expect(steps).toBe(1);
    expect(fatal).toHaveLength(1);
    await host.close();
    await peer.close();
    await bus.close();
  });
});
