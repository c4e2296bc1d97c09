import { EMPTY_CHAOS, chaos, connectBus, type Bus } from '@synod/transport';
import type { NatsServerHandle } from '@synod/natsd';
import { ChildNode } from './child-node.js';

const DCS = ['dc-a', 'dc-b', 'dc-c'];

/** Part 1 of the demo: probe nodes per DC and the round-trip matrix under faults. */
export async function transportDemo(nats: NatsServerHandle, cluster: string, say: (s: string) => void): Promise<void> {
  say('\n== part 1: the simulated datacenters ==');
  const nodes = DCS.map((dc, i) => ChildNode.spawn(`n${i + 1}`, ['probe-node', '--node-id', `n${i + 1}`, '--dc', dc, '--nats-url', nats.url, '--cluster', cluster, '--log-level', 'warn']));
  let ctl: Bus | undefined;
  const stopAll = async () => {
    await ctl?.close();
    await Promise.all(nodes.map((n) => n.stop()));
  };
  try {
    await Promise.all(nodes.map((n) => n.waitReady()));
    nodes.forEach((n, i) => say(`  node ${n.name} in ${DCS[i]} (pid ${n.proc.pid})`));
    ctl = await connectBus(nats.url, { nodeId: 'demo-ctl', dc: 'control', cluster });

    const matrix = async (title: string) => {
      say(`\n${title}`);
      say(`  from\\to  ${nodes.map((n, i) => `${n.name}/${DCS[i]}`.padEnd(12)).join('')}`);
      for (const [i, from] of nodes.entries()) {
        const cells = await Promise.all(
          nodes.map(async (to) => {
            if (to === from) return '—'.padEnd(12);
            const r = await from.call<{ rttMs?: number; code?: string }>({ op: 'ping', to: to.name, timeoutMs: 400 });
            return (r.ok ? `${r.rttMs!.toFixed(1)} ms` : r.code!).padEnd(12);
          }),
        );
        say(`  ${`${from.name}/${DCS[i]}`.padEnd(9)}${cells.join('')}`);
      }
    };
    const apply = async (state: typeof EMPTY_CHAOS) => {
      await ctl!.publishChaos(state);
      for (let i = 0; i < 100; i++) {
        const versions = await Promise.all(nodes.map((n) => n.call<{ chaosVersion: number }>({ op: 'stats' })));
        if (versions.every((v) => v.chaosVersion >= state.version)) return state;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error('fault picture did not reach every node');
    };

    await matrix('round trips, healthy network:');
    let state = await apply(chaos.partition(EMPTY_CHAOS, ['dc-a'], ['*']));
    await matrix(`round trips with dc-a partitioned (chaos v${state.version}):`);
    state = await apply(chaos.heal(state));
    await matrix(`round trips after heal (chaos v${state.version}):`);
    state = await apply(chaos.latency(state, 'dc-a', 'dc-b', 40));
    await matrix(`round trips with 40 ms one-way latency dc-a → dc-b (chaos v${state.version}):`);
  } finally {
    await stopAll();
  }
}
