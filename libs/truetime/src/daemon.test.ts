/**
 * The daemon and time masters end to end over the in-memory bus: real timers, short intervals.
 */
import { describe, expect, it } from 'vitest';
import { MemoryHub, chaos } from '@synod/transport';
import { SkewedClock, VirtualClock } from './clock.js';
import { SYNC_PROBES, TimeSyncDaemon } from './daemon.js';
import { Metrics } from '@synod/config';
import type { Bus } from '@synod/transport';
import { handleClockFaults } from './faults.js';
import { contains } from './interval.js';
import { referenceAnswer, serveTimeMaster } from './master.js';
import { systemClock } from './system-clock.js';
import { TrueTime } from './truetime.js';
import { memoryBuses } from './memory-buses.fixture.js';

const { bus, cleanup } = memoryBuses();

async function reference(hub: MemoryHub, id: string, dc: string): Promise<SkewedClock> {
  const b = await bus(hub, id, dc);
  const clock = new SkewedClock(systemClock);
  handleClockFaults(b, clock);
  await serveTimeMaster(b, 'reference', referenceAnswer(clock, 100));
  return clock;
}

async function node(hub: MemoryHub, id: string, dc: string, syncIntervalMs = 40) {
  const b = await bus(hub, id, dc);
  const clock = new SkewedClock(systemClock);
  handleClockFaults(b, clock);
  const tt = new TrueTime(clock, { maxEpsilonUs: 20_000, maxRttUs: 200_000 });
  const daemon = new TimeSyncDaemon({ bus: b, truetime: tt, masterDcs: ['dc-a', 'dc-b', 'dc-c'], syncIntervalMs, requestTimeoutMs: 200 });
  await daemon.start();
  cleanup(() => daemon.stop());
  return { bus: b, tt, daemon, clock };
}

/**
 * Waits for a condition, polling. The conditions take tens of ms on an idle machine; the deadline
 * only turns a hang into a readable failure, so it is far beyond 4× that (and within the 20 s test
 * budget of vitest.config.ts). The wait is printed, never asserted.
 */
const until = async (what: string, cond: () => boolean, ms = 10_000) => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  console.log(`[timing] waited ${Date.now() - t0} ms for ${what}`);
};

/**
 * A bus whose three masters tell true time (the virtual clock) ± 100 µs, and whose first request
 * to each master in a round takes `slowUs` of the virtual clock to come back (a busy loop), the
 * others 100 µs.
 */
function probedBus(clock: VirtualClock, slowUs: number) {
  const asked = new Map<string, number>();
  const requestSubject = async (subject: string) => {
    const n = (asked.get(subject) ?? 0) + 1;
    asked.set(subject, n);
    const t = clock.nowUs();
    clock.advance(n % SYNC_PROBES === 1 ? slowUs : 100);
    return { kind: 'time.now', from: subject, body: { earliest: t - 100, latest: t + 100 } };
  };
  return { cluster: 'synod', metrics: new Metrics(), requestSubject } as unknown as Bus;
}

describe('TimeSyncDaemon probes', () => {
  it('syncs to each master’s quickest of several replies, so one slow round trip does not widen ε', async () => {
    const eps = async (probes?: number) => {
      const clock = new VirtualClock(1_700_000_000_000_000);
      const tt = new TrueTime(clock, { maxEpsilonUs: 1_000_000, maxRttUs: 1_000_000 });
      const daemon = new TimeSyncDaemon({ bus: probedBus(clock, 30_000), truetime: tt, masterDcs: ['dc-a', 'dc-b', 'dc-c'], syncIntervalMs: 60_000, requestTimeoutMs: 1_000, ...(probes ? { probes } : {}) });
      const out = await daemon.syncNow();
      expect(out.ok).toBe(true);
      return out.epsilonAfterUs;
    };
    // One request per master: every reply waited 30 ms, so ε is at least half of that.
    expect(await eps(1)).toBeGreaterThan(15_000);
    // The default probes: a 100 µs reply from each master sets ε (master ±100 µs, the round trip, drift since).
    expect(await eps()).toBeLessThan(1_000);
  });
});

describe('TimeSyncDaemon with time masters on the bus', () => {
  it('syncs from three DCs, keeps true (host) time inside, rejects a lying master', async () => {
    const hub = new MemoryHub();
    await reference(hub, 'tm-a', 'dc-a');
    await reference(hub, 'tm-b', 'dc-b');
    const liar = await reference(hub, 'tm-c', 'dc-c');
    const n = await node(hub, 'n1', 'dc-a');
    expect(n.daemon.last).toMatchObject({ ok: true, agreeing: ['tm-a', 'tm-b', 'tm-c'] });
    expect(n.tt.isServing()).toBe(true);
    expect(contains(n.tt.now(), systemClock.nowUs())).toBe(true);
    liar.setSkewUs(300_000);
    // A round started after the skew (syncNow would join a periodic round already in flight,
    // which may have read tm-c before it lied: a flake under load).
    await n.daemon.resyncNow('test: tm-c lies from now on');
    expect(n.daemon.last).toMatchObject({ ok: true, rejected: ['tm-c'] });
    expect(n.bus.metrics.get('synod_truetime_masters_rejected_total', { master: 'tm-c' })).toBeGreaterThan(0);
    expect(n.tt.isServing()).toBe(true);
    expect(contains(n.tt.now(), systemClock.nowUs())).toBe(true);
    for (const g of ['synod_truetime_epsilon_us', 'synod_truetime_sync_rtt_us', 'synod_truetime_serving']) expect(await n.bus.metrics.render()).toContain(g);
  });

  it('a broadcast skew beyond ε stops the node serving; removing it resumes', async () => {
    const hub = new MemoryHub();
    for (const dc of ['dc-a', 'dc-b', 'dc-c']) await reference(hub, `tm-${dc}`, dc);
    const n = await node(hub, 'n1', 'dc-a');
    const ctl = await bus(hub, 'ctl', 'control');
    // A partition does not stop the fault from arriving: chaos traffic is never faulted.
    await ctl.publishChaos(chaos.partition(ctl.chaos, ['dc-a'], ['control']));
    await ctl.broadcastChaos('clock.fault', { node: 'n1', skewMs: 400 });
    await until('the skew to arrive', () => n.clock.skewUs === 400_000);
    await until('n1 to stop serving', () => n.tt.status().reason === 'clock-excursion');
    expect(n.daemon.status().serving).toBe(false);
    expect(n.bus.metrics.get('synod_truetime_serving')).toBe(0);
    expect(n.bus.metrics.get('synod_truetime_stopped_serving_total', { reason: 'clock-excursion' })).toBe(1);
    await ctl.broadcastChaos('clock.fault', { node: 'n1', skewMs: 0 });
    await until('n1 to resume', () => n.tt.isServing());
    expect(contains(n.tt.now(), systemClock.nowUs())).toBe(true);
  });

  it('a drifting master advertises an ε that grows since its last reference sync', async () => {
    const hub = new MemoryHub();
    await reference(hub, 'tm-a', 'dc-a');
    const b = await bus(hub, 'tm-b', 'dc-b');
    const tt = new TrueTime(new SkewedClock(systemClock, { driftPpm: 5 }), { driftBoundPpm: 10, maxLiars: 0 });
    const d = new TimeSyncDaemon({ bus: b, truetime: tt, masterDcs: ['dc-a'], syncIntervalMs: 60_000, requestTimeoutMs: 200 });
    await d.start();
    cleanup(() => d.stop());
    await serveTimeMaster(b, 'drifting', () => (tt.sync.synced ? tt.now() : undefined));
    const client = await bus(hub, 'c', 'dc-c');
    const ask = async () => (await client.requestSubject('synod.timemaster.dc-b', 'time.get', {})).body as { earliest: number; latest: number; master: string };
    const first = await ask();
    expect(first.master).toBe('drifting');
    await new Promise((r) => setTimeout(r, 100));
    // The master read its clock somewhere between sending and receiving: true time then lies in
    // [before, after], and the advertised interval must overlap it (a loaded machine can delay
    // the reply past `latest`, so comparing with the time after the reply alone is wrong).
    const before = systemClock.nowUs();
    const second = await ask();
    const after = systemClock.nowUs();
    expect(second.latest - second.earliest).toBeGreaterThan(first.latest - first.earliest);
    expect(second.earliest).toBeLessThanOrEqual(after);
    expect(second.latest).toBeGreaterThanOrEqual(before);
  });
});
