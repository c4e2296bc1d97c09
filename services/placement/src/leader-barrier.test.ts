import { afterEach, describe, expect, it } from 'vitest';
import type { MessageKind } from '@synod/codec';
import type { ApplyEntry, Command } from '@synod/paxos';
import type { GroupSpec, PaxosHost } from '@synod/paxos-host';
import type { PlacementCommandInput } from '@synod/placement';
import { Bus, MemoryHub } from '@synod/transport';
import { PlacementService } from './placement-service.js';

const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/**
 * A PaxosHost stand-in whose log the test writes: the replica leads when the test says so, and
 * a proposal resolves only when the test applies it. Lets the test hold back entries that an
 * earlier leader got chosen, as a new leader that has not caught up would see its log.
 */
class ScriptedHost {
  spec!: GroupSpec;
  leader = false;
  lease = false;
  proposed: Array<{ cmd: Command; resolve: () => void }> = [];
  private slot = 0;
  readonly replica = {
    isLeader: () => this.leader,
    hasLease: () => this.leader && this.lease,
    ballot: () => ({ round: 1, node: 'p-a' }),
  };
  async addGroup(spec: GroupSpec) {
    this.spec = spec;
    return this.replica;
  }
  propose(_group: string, cmds: Command[]): Promise<void> {
    return new Promise((resolve) => {
      for (const cmd of cmds) this.proposed.push({ cmd, resolve });
    });
  }
  apply(payload: PlacementCommandInput): void {
    const entry: ApplyEntry = { slot: this.slot, value: { kind: 'noop' }, commands: [{ id: `t${this.slot++}`, payload }], duplicates: [] };
    this.spec.apply!(entry);
  }
}

describe('PlacementService leadership', () => {
  it('acts as a new leader only with a lease and once its barrier is applied, so it reads steps an earlier leader logged', async () => {
    const hub = new MemoryHub();
    const asked: MessageKind[] = [];
    for (const n of ['n1', 'n3', 'n4']) {
      const bus = new Bus(hub.wire(), { nodeId: n, dc: 'dc-a' });
      await bus.start();
      for (const kind of ['split.host', 'split.reconfigure', 'split.drop'] as const)
        bus.on(kind, (env) => {
          asked.push(kind);
          return { kind: 'split.op-done', body: { split: env.group, generation: 1, detail: {} } };
        });
      closers.push(() => bus.close());
    }
    const bus = new Bus(hub.wire(), { nodeId: 'p-a', dc: 'dc-a' });
    await bus.start();
    closers.push(() => bus.close());
    const host = new ScriptedHost();
    const service = new PlacementService({ bus, host: host as unknown as PaxosHost, peers: ['p-a', 'p-b', 'p-c'], tickMs: 5, requestTimeoutMs: 200 });
    await service.start();
    closers.push(() => service.close());

    const nodes = [
      { id: 'n1', dc: 'dc-a' },
      { id: 'n2', dc: 'dc-b' },
      { id: 'n3', dc: 'dc-c' },
      { id: 'n4', dc: 'dc-c' },
    ];
    host.apply({ type: 'map.seed', map: { nodes, splits: [{ id: 's1', start: '', end: '', replicas: ['n1', 'n2', 'n3'] }] } });
    host.apply({ type: 'op.begin', opId: 'op1', op: { type: 'move', split: 's1', from: 'n3', to: 'n4' }, at: 0 });
    // This replica now leads; the earlier leader's `host` step is chosen but not applied here yet.
    host.leader = true;
    // Leading without a lease (another replica may still hold one): do nothing yet.
    await new Promise((r) => setTimeout(r, 60));
    expect(host.proposed).toEqual([]);
    host.lease = true;
    await new Promise((r) => setTimeout(r, 100));
    expect(host.proposed.map((p) => (p.cmd.payload as { type: string }).type)).toEqual(['leader.barrier']);
    expect(asked).toEqual([]);

    host.apply({ type: 'op.step', opId: 'op1', step: 'host', detail: {} });
    const barrier = host.proposed.shift()!;
    host.apply(barrier.cmd.payload as PlacementCommandInput);
    barrier.resolve();
    const deadline = Date.now() + 5_000;
    while (asked.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    // The logged step is not redone: the next request is the learner reconfiguration.
    expect(asked).toEqual(['split.reconfigure']);
  });
});
