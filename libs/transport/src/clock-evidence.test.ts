/**
 * Clock evidence on the bus: every message carries its sender's TrueTime interval, and a receipt
 * whose sender's earliest exceeds the receiver's latest proves one clock wrong.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { SenderInterval } from '@synod/codec';
import { Bus, type ClockEvidence } from './bus.js';
import { MemoryHub } from './memory-wire.js';

const buses: Bus[] = [];
afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.close()));
});
const settle = (ms = 5) => new Promise((r) => setTimeout(r, ms));

/** A node whose clock reads `offsetUs` off a shared fake true time, ±`epsUs`; `null` offset: no clock (an older or clockless sender). */
async function node(hub: MemoryHub, nodeId: string, clock: { offsetUs: number | null; epsUs?: number }, evidenceIntervalMs?: number) {
  const seen: ClockEvidence[] = [];
  const now = (): SenderInterval | null => {
    if (clock.offsetUs === null) return null;
    const t = 1_700_000_000_000_000 + clock.offsetUs;
    return { earliest: t - (clock.epsUs ?? 1_000), latest: t + (clock.epsUs ?? 1_000) };
  };
  const bus = new Bus(hub.wire(), { nodeId, dc: 'dc-a', clock: { now, onEvidence: (e) => seen.push(e) }, ...(evidenceIntervalMs !== undefined ? { evidenceIntervalMs } : {}) });
  bus.on('ping', (env) => ({ kind: 'pong', body: { nonce: env.body.nonce } }));
  const notes: Array<{ from: string; tt: unknown }> = [];
  bus.on('note', (env) => void notes.push({ from: env.from, tt: env.tt }));
  await bus.start();
  buses.push(bus);
  return { bus, seen, notes, clock };
}

describe('clock evidence', () => {
  it('is raised at both ends when the sender is ahead of the receiver by more than both ε', async () => {
    const hub = new MemoryHub();
    const ahead = await node(hub, 'ahead', { offsetUs: 300_000 });
    const good = await node(hub, 'good', { offsetUs: 0 });
    ahead.bus.send('good', 'note', { token: 'x' });
    await settle();
    // The message was still delivered, stamped: evidence never drops traffic.
    expect(good.notes).toEqual([{ from: 'ahead', tt: { earliest: 1_700_000_000_299_000, latest: 1_700_000_000_301_000 } }]);
    expect(good.seen).toEqual([{ side: 'receiver', from: 'ahead', kind: 'note', senderEarliest: 1_700_000_000_299_000, receiverLatest: 1_700_000_000_001_000 }]);
    expect(ahead.seen).toEqual([{ side: 'sender', from: 'good', kind: 'clock.suspect', senderEarliest: 1_700_000_000_299_000, receiverLatest: 1_700_000_000_001_000 }]);
    expect(good.bus.metrics.total('synod_clock_evidence_total')).toBe(1);
    expect(ahead.bus.metrics.total('synod_clock_evidence_total')).toBe(1);
  });

  it('is raised on a reply too, and the suspect reaches the responder', async () => {
    const hub = new MemoryHub();
    const ahead = await node(hub, 'ahead', { offsetUs: 300_000 });
    const good = await node(hub, 'good', { offsetUs: 0 });
    await good.bus.request('ahead', 'ping', { nonce: 1 });
    await settle();
    expect(good.seen.map((e) => [e.side, e.kind])).toEqual([['receiver', 'pong']]);
    expect(ahead.seen.map((e) => [e.side, e.from])).toEqual([['sender', 'good']]);
  });

  it('is not raised when the intervals may overlap in time: behind, within ε, or exactly touching', async () => {
    const hub = new MemoryHub();
    const good = await node(hub, 'good', { offsetUs: 0 });
    const behind = await node(hub, 'behind', { offsetUs: -300_000 });
    const close = await node(hub, 'close', { offsetUs: 1_999 });
    const touching = await node(hub, 'touching', { offsetUs: 2_000 });
    for (const b of [behind, close, touching]) b.bus.send('good', 'note', { token: 'x' });
    await settle();
    expect(good.notes.length).toBe(3);
    expect(good.seen).toEqual([]);
    for (const b of [behind, close, touching]) expect(b.seen).toEqual([]);
    expect(good.bus.metrics.total('synod_clock_evidence_total')).toBe(0);
    // The other way round, the one behind receives a message from ahead of it: evidence there,
    // and a suspect back to good (which resyncs, and is not stopped by that alone).
    good.bus.send('behind', 'note', { token: 'y' });
    await settle();
    expect(behind.seen.map((e) => [e.side, e.from])).toEqual([['receiver', 'good']]);
    expect(good.seen.map((e) => [e.side, e.from])).toEqual([['sender', 'behind']]);
  });

  it('accepts an unstamped message (an older sender, or a clock not serving) and checks nothing', async () => {
    const hub = new MemoryHub();
    const old = await node(hub, 'old', { offsetUs: null });
    const good = await node(hub, 'good', { offsetUs: 0 });
    old.bus.send('good', 'note', { token: 'x' });
    expect((await old.bus.request('good', 'ping', { nonce: 2 })).tt).toBeDefined();
    await settle();
    expect(good.notes).toEqual([{ from: 'old', tt: undefined }]);
    expect(good.seen).toEqual([]);
    // A receiver without a serving clock checks nothing either.
    const off = await node(hub, 'off', { offsetUs: null });
    const ahead = await node(hub, 'ahead', { offsetUs: 300_000 });
    ahead.bus.send('off', 'note', { token: 'z' });
    await settle();
    expect(off.notes.length).toBe(1);
    expect(off.seen).toEqual([]);
    expect(ahead.seen).toEqual([]);
  });

  it('rate-limits: one call at once, the rest of the interval coalesced into one trailing call; counts every one', async () => {
    const hub = new MemoryHub();
    const ahead = await node(hub, 'ahead', { offsetUs: 300_000 });
    const good = await node(hub, 'good', { offsetUs: 0 }, 50);
    for (let i = 0; i < 20; i++) ahead.bus.send('good', 'note', { token: String(i) });
    await settle();
    expect(good.seen.length).toBe(1);
    expect(good.bus.metrics.total('synod_clock_evidence_total')).toBe(20);
    // One clock.suspect per peer per interval, not one per message (it leaves with the next
    // flush of good's outbox: wait for it, bounded, rather than a fixed 5 ms on a loaded machine).
    for (let i = 0; i < 400 && ahead.bus.metrics.total('synod_clock_evidence_total') < 1; i++) await settle();
    expect(ahead.bus.metrics.total('synod_clock_evidence_total')).toBe(1);
    await settle(80);
    expect(good.seen.length).toBe(2);
    expect(good.bus.metrics.total('synod_clock_evidence_coalesced_total')).toBe(19);
  });

  it('checks every stamped frame of a coalesced batch, against one reading taken at its receipt', async () => {
    const hub = new MemoryHub();
    const ahead = await node(hub, 'ahead', { offsetUs: 300_000 });
    let reads = 0;
    const good = new Bus(hub.wire(), {
      nodeId: 'good',
      dc: 'dc-a',
      clock: {
        now: () => {
          reads++;
          return { earliest: 1_700_000_000_000_000 - 1_000, latest: 1_700_000_000_000_000 + 1_000 };
        },
      },
    });
    const closed: number[] = [];
    good.on('split.closed', (env) => void closed.push(env.body.appliedIndex));
    await good.start();
    buses.push(good);
    reads = 0;
    // Peer kinds sent in one turn leave as one batch (docs/transport.md "Coalescing").
    for (let i = 0; i < 5; i++) ahead.bus.send('good', 'split.closed', { ballot: { round: 1, node: 'ahead' }, ts: 1, appliedIndex: i }, 's1');
    for (let i = 0; i < 400 && closed.length < 5; i++) await settle(1);
    expect(closed).toEqual([0, 1, 2, 3, 4]);
    expect(good.metrics.total('synod_bus_batches_total')).toBe(1);
    expect(good.metrics.total('synod_clock_evidence_total')).toBe(5);
    // One reading for the batch's receipt (not one per frame), one stamping the clock.suspect sent back.
    expect(reads).toBe(2);
  });

  it('stamps nothing without a clock', async () => {
    const hub = new MemoryHub();
    const plain = new Bus(hub.wire(), { nodeId: 'plain', dc: 'dc-a' });
    await plain.start();
    buses.push(plain);
    const good = await node(hub, 'good', { offsetUs: 0 });
    plain.send('good', 'note', { token: 'x' });
    await settle();
    expect(good.notes).toEqual([{ from: 'plain', tt: undefined }]);
  });
});
