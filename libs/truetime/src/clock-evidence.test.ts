/**
 * Clock evidence on messages (transport's ClockEvidence) wired to the daemon, as a spanserver
 * does: a stepped clock is caught at the first message exchange, long before the next scheduled
 * sync, and only the masters' verdict stops a node: a healthy one told by a peer that its clock
 * is wrong resyncs and keeps serving.
 */
import { describe, expect, it } from 'vitest';
import { MemoryHub } from '@synod/transport';
import { SkewedClock } from './clock.js';
import { TimeSyncDaemon } from './daemon.js';
import { handleClockFaults } from './faults.js';
import { referenceAnswer, serveTimeMaster } from './master.js';
import { systemClock } from './system-clock.js';
import { TrueTime } from './truetime.js';
import { memoryBuses } from './memory-buses.fixture.js';

const { bus, cleanup } = memoryBuses();

/** A node as a spanserver wires it: a sync interval far beyond the test, stamping and resync on evidence. */
async function node(hub: MemoryHub, id: string, dc: string) {
  const b = await bus(hub, id, dc);
  const clock = new SkewedClock(systemClock);
  handleClockFaults(b, clock);
  const tt = new TrueTime(clock, { maxEpsilonUs: 20_000, maxRttUs: 200_000 });
  const daemon = new TimeSyncDaemon({ bus: b, truetime: tt, masterDcs: ['dc-a', 'dc-b', 'dc-c'], syncIntervalMs: 600_000, requestTimeoutMs: 200 });
  await daemon.start();
  cleanup(() => daemon.stop());
  b.useClock({ now: () => (tt.isServing() ? tt.now() : null), onEvidence: (e) => void daemon.resyncNow(`${e.side} ${e.from}`) });
  return { bus: b, tt, daemon, clock };
}

const until = async (what: string, cond: () => boolean, ms = 10_000) => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
  console.log(`[timing] waited ${Date.now() - t0} ms for ${what}`);
};

async function cluster() {
  const hub = new MemoryHub();
  for (const dc of ['dc-a', 'dc-b', 'dc-c']) {
    const b = await bus(hub, `m-${dc}`, dc);
    await serveTimeMaster(b, 'reference', referenceAnswer(new SkewedClock(systemClock), 100));
  }
  const a = await node(hub, 'a', 'dc-a');
  const b = await node(hub, 'b', 'dc-b');
  expect(a.tt.isServing() && b.tt.isServing()).toBe(true);
  return { hub, a, b };
}

describe('clock evidence and the daemon', () => {
  it('a 300 ms forward step is caught at the next message: the stepped node stops, its peer keeps serving', async () => {
    const { a, b } = await cluster();
    a.clock.setSkewUs(300_000);
    expect(a.tt.isServing()).toBe(true); // nothing a one-clock node can see yet
    a.bus.send('b', 'note', { token: 'hello' });
    await until('the stepped node to stop serving', () => !a.tt.isServing());
    expect(a.tt.status().reason).toBe('clock-excursion');
    await until('the peer to resync', () => b.daemon.syncs >= 2);
    expect(b.tt.isServing()).toBe(true);
    expect(a.bus.metrics.total('synod_clock_evidence_total')).toBe(1);
    expect(b.bus.metrics.total('synod_clock_evidence_total')).toBe(1);
  });

  it('a 300 ms backward step is caught when the stepped node receives a message', async () => {
    const { a, b } = await cluster();
    a.clock.setSkewUs(-300_000);
    b.bus.send('a', 'note', { token: 'hello' });
    await until('the stepped node to stop serving', () => !a.tt.isServing());
    await until('the peer to resync', () => b.daemon.syncs >= 2);
    expect(b.tt.isServing()).toBe(true);
  });

  it('a healthy node told its clock is wrong (a forged clock.suspect) resyncs and keeps serving', async () => {
    const { a } = await cluster();
    const syncs = a.daemon.syncs;
    const now = a.tt.now();
    // The word of one peer (or of anyone on the bus: it has no credentials yet) against the masters'.
    a.bus.send('a', 'clock.suspect', { senderEarliest: Math.floor(now.earliest), receiverLatest: Math.floor(now.earliest) - 1_000_000 });
    await until('the resync', () => a.daemon.syncs > syncs);
    expect(a.tt.isServing()).toBe(true);
    expect(a.bus.metrics.total('synod_truetime_resyncs_total')).toBe(1);
  });
});
