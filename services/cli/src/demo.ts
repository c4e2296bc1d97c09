import { z } from 'zod';
import { EMPTY_CHAOS, chaos, connectBus, type Bus } from '@synod/transport';
import { startNatsServer } from '@synod/natsd';
import { nodeIdentity, loadConfig } from '@synod/config';
import { ChildNode } from './child-node.js';

export const DEMO_HELP = `synod demo — run a local 3-DC transport demo

Starts a nats-server on a free loopback port and one probe node per DC (dc-a, dc-b, dc-c) as
separate processes, then shows the round-trip matrix between them while it partitions dc-a,
heals, and adds 40 ms of one-way latency from dc-a to dc-b. Stops everything at the end.

This is the transport layer only: replication and transactions are not built yet.

Options:
  --cluster <name>   subject prefix (default synod)`;

const DCS = ['dc-a', 'dc-b', 'dc-c'];

export async function runDemo(argv: string[]): Promise<void> {
  const { cluster } = loadConfig(z.object({ cluster: nodeIdentity.cluster }), { argv });
  const say = (s: string) => process.stdout.write(s + '\n');
  say('starting nats-server on loopback…');
  const nats = await startNatsServer();
  say(`  nats-server ${nats.url} (pid ${nats.pid})`);
  const nodes = DCS.map((dc, i) => ChildNode.spawn(`n${i + 1}`, ['probe-node', '--node-id', `n${i + 1}`, '--dc', dc, '--nats-url', nats.url, '--cluster', cluster, '--log-level', 'warn']));
  let ctl: Bus | undefined;
  const stopAll = async () => {
    await ctl?.close();
    await Promise.all(nodes.map((n) => n.stop()));
    await nats.stop();
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
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
    say('\ndemo done; stopping all processes.');
  } finally {
    await stopAll();
  }
}
