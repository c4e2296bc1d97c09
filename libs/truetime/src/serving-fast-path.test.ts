/**
 * The serving check every request and peer message makes (ClockSync.servingAt, TrueTime.isServing)
 * is `status().serving` without building the status: it must give the same verdict in every state
 * and at every reading, including exactly at the ε bound and the step allowance, and never cache
 * a verdict across readings (a clock step stops serving at the very next call).
 */
import { describe, expect, it } from 'vitest';
import { SkewedClock, VirtualClock } from './clock.js';
import type { Sample } from './interval.js';
import { ClockSync, type SyncConfig } from './sync.js';
import { TrueTime } from './truetime.js';

const T0 = 1_700_000_000_000_000;
const M0 = 5_000_000;
const replies = (t: number, local: number, masterSkew = 0): Sample[] =>
  ['a', 'b', 'c'].map((source) => ({ source, sentLocal: local - 100, receivedLocal: local, earliest: t + masterSkew - 100, latest: t + masterSkew }));

/** Asserts servingAt agrees with status().serving at (local, mono); returns the verdict. */
function same(s: ClockSync, local: number, mono?: number): boolean {
  const slow = s.status(local, mono).serving;
  expect(s.servingAt(local, mono), `at local ${local - T0}, mono ${mono === undefined ? '-' : mono - M0}`).toBe(slow);
  return slow;
}

/** The first elapsed µs in [lo, hi] at which `pred` turns false (it is true at lo, false at hi). */
function edge(lo: number, hi: number, pred: (d: number) => boolean): number {
  expect(pred(lo)).toBe(true);
  expect(pred(hi)).toBe(false);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (pred(mid)) lo = mid;
    else hi = mid;
  }
  return hi;
}

function synced(cfg: Partial<SyncConfig> = {}, withMono = true): ClockSync {
  const s = new ClockSync(cfg, T0);
  expect(s.apply(replies(T0, T0), T0, withMono ? M0 : undefined)).toMatchObject({ ok: true });
  return s;
}

describe('the serving fast path agrees with status()', () => {
  it('unsynced: not serving at any reading', () => {
    const s = new ClockSync({}, T0);
    for (const d of [0, 1, 1_000_000]) {
      expect(same(s, T0 + d, M0 + d)).toBe(false);
      expect(same(s, T0 + d)).toBe(false);
    }
  });

  it('at and around the ε bound, with and without a monotonic clock, at several drift bounds', () => {
    for (const driftBoundPpm of [0, 1, 200, 777]) {
      for (const withMono of [true, false]) {
        const s = synced({ driftBoundPpm, maxEpsilonUs: 50_000 }, withMono);
        const at = (d: number) => same(s, T0 + d, withMono ? M0 + d : undefined);
        if (driftBoundPpm === 0) {
          for (const d of [0, 1_000_000, 1e12]) expect(at(d)).toBe(true);
          continue;
        }
        const e = edge(0, 1e12, at);
        for (const d of [e - 2, e - 1, e, e + 1, e + 1_000]) at(d);
        // A clock read backwards is mirrored, as now() does.
        for (const d of [-1, -1_000_000, -e, -e - 1]) at(d);
      }
    }
  });

  it('at and around the step allowance, both directions', () => {
    const s = synced({ maxEpsilonUs: 10_000_000 });
    for (const elapsed of [0, 1_000_000, 60_000_000]) {
      const fwd = edge(0, 10_000_000, (step) => same(s, T0 + elapsed + step, M0 + elapsed));
      for (const step of [fwd - 1, fwd, fwd + 1]) same(s, T0 + elapsed + step, M0 + elapsed);
      const back = edge(0, 10_000_000, (step) => same(s, T0 + elapsed - step, M0 + elapsed));
      for (const step of [back - 1, back, back + 1]) same(s, T0 + elapsed - step, M0 + elapsed);
    }
  });

  it('after an excursion: not serving until a good sync; with the step check off, as status says', () => {
    const s = synced();
    const t1 = T0 + 1_000_000;
    expect(s.apply(replies(t1, t1 + 200_000), t1 + 200_000, M0 + 1_000_000)).toMatchObject({ ok: false, failure: 'clock-excursion' });
    expect(same(s, t1 + 200_000, M0 + 1_000_000)).toBe(false);
    expect(same(s, t1, M0 + 1_000_000)).toBe(false);
    const t2 = t1 + 1_000_000;
    expect(s.apply(replies(t2, t2), t2, M0 + 2_000_000).ok).toBe(true);
    expect(same(s, t2, M0 + 2_000_000)).toBe(true);
    const off = synced({ unsoundNoStepCheck: true });
    // A local step the check would catch: with it off, only ε decides.
    expect(same(off, T0 + 1_300_000, M0 + 1_000_000)).toBe(true);
    expect(same(s, T0 + 2_300_000, M0 + 2_000_000)).toBe(false);
  });
});

describe('TrueTime.isServing and nowServing', () => {
  function clocks() {
    const base = new VirtualClock(T0);
    const mono = new VirtualClock(M0);
    const clock = new SkewedClock(base);
    const tt = new TrueTime(clock, { maxEpsilonUs: 50_000 }, mono);
    tt.sync.apply(replies(T0, T0), T0, M0);
    const advance = (us: number) => {
      base.advance(us);
      mono.advance(us);
    };
    return { tt, clock, advance };
  }

  it('reads the clocks at every call: a step stops serving at the next call, its removal resumes', () => {
    const { tt, clock, advance } = clocks();
    expect(tt.isServing()).toBe(true);
    advance(1_000_000);
    expect(tt.isServing()).toBe(true);
    clock.setSkewUs(300_000);
    expect(tt.isServing()).toBe(false);
    expect(tt.nowServing().serving).toBe(false);
    expect(tt.status().reason).toBe('clock-excursion');
    clock.setSkewUs(0);
    expect(tt.isServing()).toBe(true);
    // ε over the bound (no sync for ~250 s at 200 ppm) stops serving the same way.
    advance(300_000_000);
    expect(tt.isServing()).toBe(false);
    expect(tt.status().reason).toBe('epsilon-too-large');
  });

  it('nowServing is now() and isServing() at one reading', () => {
    const { tt, clock, advance } = clocks();
    for (const [step, skew] of [[0, 0], [1_000_000, 0], [0, 300_000], [0, -300_000], [300_000_000, 0]] as const) {
      advance(step);
      clock.setSkewUs(skew);
      expect(tt.nowServing()).toEqual({ tt: tt.now(), serving: tt.isServing() });
      expect(tt.nowServing().serving).toBe(tt.status().serving);
    }
  });
});
