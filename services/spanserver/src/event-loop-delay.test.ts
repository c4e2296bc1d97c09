import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MessageBody } from '@synod/codec';
import { Metrics } from '@synod/config';
import { RangeMap } from '@synod/placement';
import { Bus, MemoryHub } from '@synod/transport';
import { EventLoopDelay, type DelayHistogram } from './event-loop-delay.js';
import { startInMemoryNode } from './in-memory-node.fixture.js';
import { collectSpanserverGauges } from './metrics.js';
import type { Spanserver } from './spanserver.js';
import type { TimeSource } from './time-source.js';

/** A histogram whose samples the test records by hand (ns, like perf_hooks'). */
class FakeHistogram implements DelayHistogram {
  samples: number[] = [];
  enabled = true;
  get max() {
    return this.samples.length ? Math.max(...this.samples) : 0;
  }
  get count() {
    return this.samples.length;
  }
  percentile(p: number) {
    // Like HdrHistogram on an empty histogram: a sentinel, not 0.
    if (!this.samples.length) return 9.2e18;
    const s = [...this.samples].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
  }
  reset() {
    this.samples = [];
  }
  enable() {
    this.enabled = true;
  }
  disable() {
    this.enabled = false;
  }
}

/** A busy loop: the event loop cannot run a timer meanwhile. */
function blockFor(ms: number) {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

const MS = 1e6;

describe('EventLoopDelay', () => {
  function fake() {
    const opened: FakeHistogram[] = [];
    let now = 1_000;
    const d = new EventLoopDelay({ windowMs: 10_000, nowMs: () => now, open: () => opened[opened.push(new FakeHistogram()) - 1]! });
    const [rolling, probe] = opened as [FakeHistogram, FakeHistogram];
    return { d, rolling, probe, advance: (ms: number) => (now += ms) };
  }

  it('reports a closed rolling window and starts the next one empty', () => {
    const { d, rolling, advance } = fake();
    expect(d.window()).toEqual({ windowMs: 0, p50Ms: 0, p99Ms: 0, maxMs: 0, samples: 0 });
    rolling.samples.push(...Array.from({ length: 99 }, () => 1 * MS), 40 * MS);
    advance(10_000);
    d.rotate();
    expect(d.window()).toEqual({ windowMs: 10_000, p50Ms: 1, p99Ms: 1, maxMs: 40, samples: 100 });
    rolling.samples.push(2 * MS);
    advance(10_000);
    d.rotate();
    expect(d.window()).toEqual({ windowMs: 10_000, p50Ms: 2, p99Ms: 2, maxMs: 2, samples: 1 });
  });

  it('reports zeros, not the empty histogram sentinel, for a window without samples', () => {
    const { d, advance } = fake();
    advance(10_000);
    d.rotate();
    expect(d.window().p99Ms).toBe(0);
    expect(d.sinceReset().p50Ms).toBe(0);
  });

  it('resets the benchmark window without touching the rolling one, and the other way round', () => {
    const { d, rolling, probe, advance } = fake();
    rolling.samples.push(30 * MS);
    probe.samples.push(30 * MS);
    advance(4_000);
    expect(d.sinceReset()).toMatchObject({ windowMs: 4_000, maxMs: 30, samples: 1 });
    d.resetProbe();
    advance(500);
    expect(d.sinceReset()).toMatchObject({ windowMs: 500, maxMs: 0, samples: 0 });
    advance(5_500);
    d.rotate();
    expect(d.window()).toMatchObject({ windowMs: 10_000, maxMs: 30 });
    probe.samples.push(5 * MS);
    d.rotate();
    expect(d.sinceReset()).toMatchObject({ windowMs: 6_000, maxMs: 5 });
  });

  it('refuses an unbounded resolution or window', () => {
    expect(() => new EventLoopDelay({ resolutionMs: 0, open: () => new FakeHistogram() })).toThrow(/resolution/);
    expect(() => new EventLoopDelay({ windowMs: 1e12, open: () => new FakeHistogram() })).toThrow(/window/);
  });

  it('sees a real stall of the event loop', async () => {
    const d = new EventLoopDelay({ resolutionMs: 2 });
    try {
      // Let the monitor take a sample first: it measures from one sample to the next.
      await new Promise((r) => setTimeout(r, 20));
      blockFor(150);
      await new Promise((r) => setTimeout(r, 20));
      // A lower bound only: however loaded the machine, a 150 ms busy loop delays the next sample that long.
      expect(d.sinceReset().maxMs).toBeGreaterThanOrEqual(140);
      d.resetProbe();
      expect(d.sinceReset().samples).toBe(0);
    } finally {
      d.stop();
    }
  });
});

describe('node.status and gauges carry the process figures', { timeout: 30_000 }, () => {
  it('answers CPU, bus messages and event-loop delay, and resets the benchmark window only when asked', async () => {
    const hub = new MemoryHub();
    const dir = mkdtempSync(join(tmpdir(), 'synod-eld-'));
    const rangeMap = RangeMap.uniform([{ id: 'n1', dc: 'dc-a' }], []);
    const node = await startInMemoryNode(hub, { id: 'n1', dc: 'dc-a', path: join(dir, 'n1'), rangeMap });
    const asker = new Bus(hub.wire(), { nodeId: 'bench', dc: 'dc-a' });
    await asker.start();
    try {
      const status = async (resetEventLoop?: boolean) =>
        (await asker.request('n1', 'node.status', resetEventLoop === undefined ? {} : { resetEventLoop }, { timeoutMs: 5_000 })).body as MessageBody<'node.status.reply'>;
      const first = await status(true);
      expect(first.cpuUs!.user + first.cpuUs!.system).toBeGreaterThan(0);
      expect(first.eventLoop).toBeDefined();
      // A reset also forgets the monitor's previous sample time: let it take one before stalling.
      await new Promise((r) => setTimeout(r, 20));
      blockFor(150);
      await new Promise((r) => setTimeout(r, 20));
      // Without the flag the window goes on: the stall is still in it.
      const second = await status();
      expect(second.eventLoop!.sinceReset.maxMs).toBeGreaterThanOrEqual(140);
      // On Linux the same stall is split into run-queue wait and the process's own part (lower bound on the whole only).
      if (process.platform === 'linux') expect(second.eventLoop!.stalls!.maxDelayMs).toBeGreaterThanOrEqual(140);
      expect(second.busReceived!).toBeGreaterThan(first.busReceived!);
      expect(second.cpuUs!.user + second.cpuUs!.system).toBeGreaterThan(first.cpuUs!.user + first.cpuUs!.system);
      const beforeReset = await status(true);
      expect(beforeReset.eventLoop!.sinceReset.maxMs).toBeGreaterThanOrEqual(140);
      // The flag reset the window after that reply: the next one starts after it, not at `first`.
      const afterReset = await status();
      expect(afterReset.eventLoop!.sinceReset.windowMs).toBeLessThan(beforeReset.eventLoop!.sinceReset.windowMs);
      if (process.platform === 'linux') expect(afterReset.eventLoop!.stalls!.windowMs).toBeLessThan(beforeReset.eventLoop!.stalls!.windowMs);
    } finally {
      await asker.close();
      await node.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exports the last rolling window as the p99 and max gauges', async () => {
    const metrics = new Metrics();
    const figures = { windowMs: 10_000, p50Ms: 1, p99Ms: 12, maxMs: 35, samples: 5_000 };
    const server = { eventLoopFigures: () => figures, eachGroupSliced: async () => undefined } as unknown as Spanserver;
    collectSpanserverGauges(metrics, server, { now: () => ({ earliest: 0, latest: 0 }), isServing: () => true } as unknown as TimeSource);
    const text = await metrics.render();
    expect(text).toMatch(/^synod_event_loop_delay_p99_seconds 0\.012$/m);
    expect(text).toMatch(/^synod_event_loop_delay_max_seconds 0\.035$/m);
  });
});
