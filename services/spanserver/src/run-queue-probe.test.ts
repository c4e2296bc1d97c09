import { describe, expect, it } from 'vitest';
import { parseSchedstat, RunQueueProbe, ThreadSchedstat, type SchedReading } from './run-queue-probe.js';

/** A probe on a hand-driven clock and schedstat. */
function driven() {
  let now = 0;
  let sched: SchedReading = { runNs: 0, waitNs: 0 };
  const probe = new RunQueueProbe({ intervalMs: 10, nowMs: () => now, read: () => sched });
  const step = (ms: number, waitMs: number) => {
    now += ms;
    sched = { runNs: sched.runNs + (ms - waitMs) * 1e6, waitNs: sched.waitNs + waitMs * 1e6 };
    probe.sample();
  };
  probe.sample();
  return { probe, step };
}

describe('RunQueueProbe', () => {
  it('splits a late sample into run-queue wait and the process’s own stall', () => {
    const { probe, step } = driven();
    step(10, 0); // on time
    step(60, 45); // 50 ms late, 45 of them waiting for a CPU: 5 ms own
    step(40, 2); // 30 ms late, 2 waiting: 28 own
    step(10, 10); // on time, all of it waiting (the wait inside an on-time sample is no stall)
    const f = probe.sinceReset();
    expect(f.samples).toBe(4);
    expect(f.maxDelayMs).toBe(50);
    expect(f.maxOwnMs).toBe(28);
    expect(f.maxWaitMs).toBe(45);
    expect(f.waitMs).toBe(57);
    // The worst own stall's gap: 40 ms, of which 38 on a CPU (the driven clock counts all non-wait time as run).
    expect(f.worstOwn).toEqual({ gapMs: 40, runMs: 38, waitMs: 2, asleepMs: 0 });
    expect(f.windowMs).toBe(120);
  });

  it('a reset starts a new window and drops the interval running at it', () => {
    const { probe, step } = driven();
    step(200, 0);
    probe.reset();
    step(500, 0); // the first sample after a reset only sets the baseline
    step(10, 0);
    expect(probe.sinceReset()).toMatchObject({ samples: 1, maxDelayMs: 0, maxOwnMs: 0, windowMs: 510 });
  });

  it('does nothing where the platform gives no figures', () => {
    const probe = new RunQueueProbe({ read: () => undefined });
    expect(probe.available()).toBe(false);
    probe.sample();
    probe.sample();
    expect(probe.sinceReset().samples).toBe(0);
  });

  it('parses schedstat and refuses anything else', () => {
    expect(parseSchedstat('72754636 3844697 43\n')).toEqual({ runNs: 72754636, waitNs: 3844697 });
    expect(parseSchedstat('')).toBeUndefined();
    expect(parseSchedstat('x y z')).toBeUndefined();
  });

  it.runIf(process.platform === 'linux')('reads this thread’s run time on Linux through a file kept open: fresh figures each time, nothing once closed', () => {
    const file = new ThreadSchedstat();
    const a = file.read()!;
    const end = performance.now() + 20;
    while (performance.now() < end);
    const b = file.read()!;
    expect(b.runNs - a.runNs).toBeGreaterThan(10e6);
    // A fresh open of the same thread's file agrees with it (both count this thread, not another).
    const fresh = new ThreadSchedstat();
    expect(fresh.read()!.runNs).toBeGreaterThanOrEqual(b.runNs);
    fresh.close();
    file.close();
    expect(file.read()).toBeUndefined();
  });
});
