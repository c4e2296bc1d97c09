/**
 * Real processes over a real nats-server: three probe nodes in three DCs, steered over stdio,
 * while this test changes the cluster's fault picture over NATS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChildNode } from '@synod/cli';
import type { ChaosState } from '@synod/codec';
import { startNatsServer, type NatsServerHandle } from '@synod/natsd';
import { EMPTY_CHAOS, chaos, connectBus, type Bus } from '@synod/transport';

let nats: NatsServerHandle;
let ctl: Bus;
const nodes: Record<string, ChildNode> = {};
const DC: Record<string, string> = { n1: 'dc-a', n2: 'dc-b', n3: 'dc-c' };

beforeAll(async () => {
  nats = await startNatsServer();
  for (const [id, dc] of Object.entries(DC)) {
    nodes[id] = ChildNode.spawn(id, ['probe-node', '--node-id', id, '--dc', dc, '--nats-url', nats.url, '--log-level', 'warn']);
  }
  await Promise.all(Object.values(nodes).map((n) => n.waitReady()));
  ctl = await connectBus(nats.url, { nodeId: 'test-ctl', dc: 'control' });
}, 60_000);

afterAll(async () => {
  await ctl?.close();
  await Promise.all(Object.values(nodes).map((n) => n.stop()));
  await nats?.stop();
});

async function apply(state: ChaosState): Promise<ChaosState> {
  await ctl.publishChaos(state);
  for (let i = 0; i < 200; i++) {
    const stats = await Promise.all(Object.values(nodes).map((n) => n.call<{ chaosVersion: number }>({ op: 'stats' })));
    if (stats.every((s) => s.chaosVersion >= state.version)) return state;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`fault picture v${state.version} did not reach every node`);
}

const ping = (from: string, to: string, timeoutMs = 300) => nodes[from]!.call<{ rttMs?: number; code?: string }>({ op: 'ping', to, timeoutMs });
const reaches = async (from: string, to: string) => (await ping(from, to)).ok;

let tokenSeq = 0;
/** Sends a one-way note and reports whether it arrived: direction-sensitive, unlike a ping. */
async function noteArrives(from: string, to: string): Promise<boolean> {
  const token = `t${++tokenSeq}`;
  await nodes[from]!.call({ op: 'note', to, token });
  // A delivered note arrives within a few ms; poll a bounded while before calling it lost.
  for (let i = 0; i < 20; i++) {
    const { notes } = await nodes[to]!.call<{ notes: Array<{ token: string }> }>({ op: 'notes' });
    if (notes.some((n) => n.token === token)) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

const pairs = (ids: string[]) => ids.flatMap((a) => ids.filter((b) => b !== a).map((b) => [a, b] as const));

describe('simulated datacenters over real NATS and processes', () => {
  let state = EMPTY_CHAOS;

  it('carries traffic between every pair of DCs', async () => {
    for (const [a, b] of pairs(['n1', 'n2', 'n3'])) expect(await reaches(a, b), `${a}→${b}`).toBe(true);
  });

  it('partitioning dc-a cuts it off in both directions while dc-b and dc-c keep talking', async () => {
    state = await apply(chaos.partition(state, ['dc-a'], ['*']));
    for (const other of ['n2', 'n3']) {
      expect(await reaches('n1', other), `n1→${other}`).toBe(false);
      expect(await reaches(other, 'n1'), `${other}→n1`).toBe(false);
      expect(await noteArrives('n1', other)).toBe(false);
      expect(await noteArrives(other, 'n1')).toBe(false);
    }
    expect(await reaches('n2', 'n3')).toBe(true);
    expect(await reaches('n3', 'n2')).toBe(true);
  });

  it('healing restores traffic', async () => {
    state = await apply(chaos.heal(state));
    for (const [a, b] of pairs(['n1', 'n2', 'n3'])) expect(await reaches(a, b), `${a}→${b}`).toBe(true);
  });

  it('a one-way partition blocks one direction only', async () => {
    state = await apply(chaos.partition(state, ['dc-a'], ['dc-b'], true));
    expect(await noteArrives('n1', 'n2')).toBe(false);
    expect(await noteArrives('n2', 'n1')).toBe(true);
    expect(await noteArrives('n1', 'n3')).toBe(true);
    // A round trip needs both directions, so it fails either way round.
    expect(await reaches('n2', 'n1')).toBe(false);
    state = await apply(chaos.heal(state));
    expect(await noteArrives('n1', 'n2')).toBe(true);
  });

  it('injected one-way latency shows up in measured round trips', async () => {
    const median = async (from: string, to: string) => {
      const rtts: number[] = [];
      for (let i = 0; i < 9; i++) rtts.push((await ping(from, to, 2000)).rttMs!);
      return rtts.sort((x, y) => x - y)[4]!;
    };
    const injectedMs = 80;
    state = await apply(chaos.latency(state, 'dc-a', 'dc-b', injectedMs));
    expect(await median('n1', 'n2')).toBeGreaterThanOrEqual(injectedMs);
    expect(await median('n2', 'n1')).toBeGreaterThanOrEqual(injectedMs);
    // Links without injected latency stay below it.
    expect(await median('n2', 'n3')).toBeLessThan(injectedMs);
    state = await apply(chaos.latency(state, 'dc-b', 'dc-a', injectedMs));
    expect(await median('n1', 'n2')).toBeGreaterThanOrEqual(2 * injectedMs);
    state = await apply(chaos.heal(state));
  });
});
