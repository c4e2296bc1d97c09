import { describe, expect, it } from 'vitest';
import { Bus } from './bus.js';
import { EMPTY_CHAOS, chaos } from './chaos.js';
import { MemoryHub } from './memory-wire.js';
import { NodeBeats } from './node-beats.js';
import { subjects } from './subjects.js';
import { testNodes } from './test-nodes.fixture.js';
import type { Wire } from './wire.js';

/** docs/transport.md, "Node beats and liveness". Every clock here is driven by the test. */

const node = testNodes();
const settle = () => new Promise((r) => setTimeout(r, 5));
const TIMEOUT_US = 500_000;
const INTERVAL_US = 50_000;
const heartbeat = (from: string) => ({ type: 'heartbeat' as const, group: 'g1', from, ballot: { round: 1, node: from }, chosenUpTo: 0, sentAtUs: 0 });

/** A wire that counts what this node publishes on peer subjects, by receiver. */
function counting(inner: Wire): { wire: Wire; peerPublishes: () => number } {
  let n = 0;
  const wire: Wire = {
    maxPayloadBytes: () => inner.maxPayloadBytes(),
    publish: (s, d) => {
      if (s.startsWith('synod.peer.')) n++;
      inner.publish(s, d);
    },
    request: (s, d, t) => inner.request(s, d, t),
    subscribe: (s, h) => inner.subscribe(s, h),
    flush: () => inner.flush(),
    close: () => inner.close(),
  };
  return { wire, peerPublishes: () => n };
}

describe('NodeBeats alone', () => {
  const make = (over: Partial<ConstructorParameters<typeof NodeBeats>[0]> = {}) => {
    let now = 1_000_000;
    const sent: string[] = [];
    const beats = new NodeBeats({ self: 'n1', clock: () => now, timeoutUs: TIMEOUT_US, intervalUs: INTERVAL_US, send: (to) => (sent.push(to), true), ...over });
    return { beats, sent, advance: (us: number) => (now += us), now: () => now };
  };

  it('a peer is live until the timeout passes with nothing heard from it; self always is', () => {
    const t = make();
    t.beats.setPeers(['n1', 'n2', 'n3']);
    expect(t.beats.isLive('n2', t.now())).toBe(false); // never heard
    expect(t.beats.isLive('n1', t.now())).toBe(true);
    t.beats.heard('n2');
    t.advance(TIMEOUT_US - 1);
    expect(t.beats.isLive('n2', t.now())).toBe(true);
    t.advance(1);
    expect(t.beats.isLive('n2', t.now())).toBe(false);
    t.beats.heard('n2');
    expect(t.beats.isLive('n2', t.now())).toBe(true);
  });

  it('beats only the peers nothing was sent to since the last round, never itself', () => {
    const t = make();
    t.beats.setPeers(['n1', 'n2', 'n3']);
    expect(t.beats.beat()).toBe(2);
    expect(t.sent.sort()).toEqual(['n2', 'n3']);
    t.sent.length = 0;
    t.beats.sent('n2');
    expect(t.beats.beat()).toBe(1);
    expect(t.sent).toEqual(['n3']);
    t.sent.length = 0;
    // The next round owes n2 a beat again: nothing went to it since.
    expect(t.beats.beat()).toBe(2);
    expect(t.beats.beats).toBe(5);
  });

  it('sends no beats while paused', () => {
    let paused = true;
    const t = make({ paused: () => paused });
    t.beats.setPeers(['n2']);
    expect(t.beats.beat()).toBe(0);
    paused = false;
    expect(t.beats.beat()).toBe(1);
  });

  it('remembers configured peers always and other senders only up to maxPeers', () => {
    const t = make({ maxPeers: 4 });
    t.beats.setPeers(['n2', 'n3']);
    for (let i = 0; i < 1_000; i++) t.beats.heard(`stranger${i}`);
    expect(t.beats.remembered).toBe(4);
    t.beats.heard('n2');
    t.beats.heard('n3');
    // Full of strangers, the configured peers are still remembered.
    expect(t.beats.remembered).toBe(6);
    expect(t.beats.isLive('n2', t.now())).toBe(true);
    expect(t.beats.isLive('n3', t.now())).toBe(true);
    // Reconfiguring forgets the rest; the peer set itself is capped too.
    t.beats.setPeers(['n2']);
    expect(t.beats.remembered).toBe(1);
    t.beats.setPeers(Array.from({ length: 100 }, (_, i) => `p${i}`));
    expect(t.beats.peers.size).toBe(4);
  });
});

describe('NodeBeats over buses', () => {
  async function pair() {
    const hub = new MemoryHub();
    let now = 1_000_000;
    const clock = () => now;
    const out = counting(hub.wire());
    const a = await node(out.wire, 'n1');
    const b = await node(hub.wire(), 'n2');
    const aBeats = a.nodeBeats({ clock, timeoutUs: TIMEOUT_US, intervalUs: INTERVAL_US });
    const bBeats = b.nodeBeats({ clock, timeoutUs: TIMEOUT_US, intervalUs: INTERVAL_US });
    aBeats.setPeers(['n2']);
    bBeats.setPeers(['n1']);
    return { hub, a, b, aBeats, bBeats, advance: (us: number) => (now += us), now: () => now, peerPublishes: out.peerPublishes };
  }

  it('beats keep an idle peer live; without them it lapses after the timeout', async () => {
    const p = await pair();
    for (let i = 0; i < 40; i++) {
      p.aBeats.beat();
      await settle();
      p.advance(INTERVAL_US);
      expect(p.bBeats.isLive('n1', p.now())).toBe(true);
    }
    // 2 s of driven time, 40 beats, one each interval.
    expect(p.aBeats.beats).toBe(40);
    p.advance(TIMEOUT_US - INTERVAL_US);
    expect(p.bBeats.isLive('n1', p.now())).toBe(false);
  });

  it('a busy link carries no beats: any peer message sent counts, any received keeps the sender live', async () => {
    const p = await pair();
    for (let i = 0; i < 10; i++) {
      p.a.send('n2', 'paxos', heartbeat('n1'), 'g1');
      expect(p.aBeats.beat()).toBe(0);
      await settle();
      p.advance(INTERVAL_US);
      expect(p.bBeats.isLive('n1', p.now())).toBe(true);
    }
    expect(p.aBeats.beats).toBe(0);
    // Ten rounds, ten heartbeats, one wire message each: no beat rode along.
    expect(p.peerPublishes()).toBe(10);
    // Idle again: the next round beats.
    expect(p.aBeats.beat()).toBe(1);
  });

  it('a message the simulated link drops is not heard', async () => {
    const p = await pair();
    await p.b.publishChaos(chaos.partition(EMPTY_CHAOS, ['dc-n1'], ['dc-n2']));
    await settle();
    p.aBeats.beat();
    await settle();
    expect(p.bBeats.lastHeardUs('n1')).toBeUndefined();
  });

  it('a peer kind on a client subject (unauthenticated sender) does not count', async () => {
    const hub = new MemoryHub();
    const b = await node(hub.wire(), 'n2');
    const beats = b.nodeBeats({ clock: () => 1, timeoutUs: TIMEOUT_US, intervalUs: INTERVAL_US });
    beats.setPeers(['n1']);
    const a = new Bus(hub.wire(), { nodeId: 'n1', dc: 'dc-n1', role: 'client' });
    await a.start();
    a.publish(subjects('synod').node('n2'), 'node.beat', {});
    await settle();
    expect(beats.lastHeardUs('n1')).toBeUndefined();
    await a.close();
  });
});
