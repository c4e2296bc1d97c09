/**
 * Issue 11, item 1: a masters' reading that the process's own elapsed monotonic time and drift
 * bound cannot explain is refused, so no process adopts a day-ahead time; and a local clock that
 * steps against the monotonic clock stops the process serving at once, with `now()` carried by
 * the monotonic clock meanwhile.
 */
import { describe, expect, it } from 'vitest';
import { contains, type Sample } from './interval.js';
import { ClockSync } from './sync.js';

const T0 = 1_700_000_000_000_000;
const M0 = 5_000_000; // the monotonic clock's reading at T0 (arbitrary origin)
const DAY = 86_400_000_000;
/** Replies from masters reading true time `t` + `masterSkew`, the local clock at `local`, 100 µs round trip. */
const replies = (t: number, local: number, masterSkew = 0): Sample[] =>
  ['a', 'b', 'c'].map((source) => ({ source, sentLocal: local - 100, receivedLocal: local, earliest: t + masterSkew - 100, latest: t + masterSkew }));

/** A synced process at T0; its local clock and the monotonic clock both run true. */
function synced(cfg: ConstructorParameters<typeof ClockSync>[0] = {}) {
  const s = new ClockSync(cfg, T0);
  expect(s.apply(replies(T0, T0), T0, M0)).toMatchObject({ ok: true });
  return s;
}

describe('step refusal against the monotonic clock', () => {
  it('refuses a masters reading a day ahead, keeps its anchor and keeps serving', () => {
    const s = synced();
    const t = T0 + 10_000_000;
    const before = s.now(t, M0 + 10_000_000);
    const out = s.apply(replies(t, t, DAY), t, M0 + 10_000_000);
    expect(out).toMatchObject({ ok: false, failure: 'unexplained-step' });
    expect(out.unexplainedStepUs).toBeGreaterThan(DAY - 1_000_000);
    expect(s.now(t, M0 + 10_000_000)).toEqual(before);
    expect(contains(s.now(t, M0 + 10_000_000), t)).toBe(true);
    expect(s.status(t, M0 + 10_000_000).serving).toBe(true);
  });

  it('refuses the day-ahead masters when the local clock stepped with them (chaos skew *): stops serving, and now() stays at true time', () => {
    const s = synced();
    const t = T0 + 10_000_000;
    const local = t + DAY; // the local clock stepped a day too
    const mono = M0 + 10_000_000;
    expect(s.apply(replies(t, local, DAY), local, mono)).toMatchObject({ ok: false, failure: 'unexplained-step' });
    expect(s.status(local, mono)).toMatchObject({ serving: false, reason: 'clock-excursion' });
    expect(contains(s.now(local, mono), t)).toBe(true);
    // The skew undone: the local clock agrees with the monotonic one again and a sync re-anchors.
    const t2 = t + 5_000_000;
    expect(s.status(t2, mono + 5_000_000).serving).toBe(true);
    expect(s.apply(replies(t2, t2), t2, mono + 5_000_000)).toMatchObject({ ok: true });
  });

  it('accepts a reading consistent with elapsed time, also after a long gap at the drift bound', () => {
    const s = synced({ driftBoundPpm: 200, maxEpsilonUs: 10_000_000 });
    // An hour later, the masters read 0.5 s later than our clocks: 139 ppm, inside the bound.
    const t = T0 + 3_600_000_000;
    expect(s.apply(replies(t, t, 500_000), t, M0 + 3_600_000_000)).toMatchObject({ ok: true });
  });

  it('a small local step is caught by the sync as before (the masters are explained)', () => {
    const s = synced();
    const t = T0 + 1_000_000;
    const out = s.apply(replies(t, t + 300_000), t + 300_000, M0 + 1_000_000);
    expect(out).toMatchObject({ ok: false, failure: 'clock-excursion' });
  });

  it('teeth: with the check off the day-ahead reading is adopted', () => {
    const s = synced({ unsoundNoStepCheck: true });
    const t = T0 + 10_000_000;
    const local = t + DAY;
    expect(s.apply(replies(t, local, DAY), local, M0 + 10_000_000)).toMatchObject({ ok: true });
    expect(s.status(local, M0 + 10_000_000).serving).toBe(true);
    expect(s.now(local, M0 + 10_000_000).earliest).toBeGreaterThan(t + DAY - 1_000_000);
  });

  it('without a monotonic reading (the simulator) nothing changes', () => {
    const s = new ClockSync({}, T0);
    s.apply(replies(T0, T0), T0);
    const t = T0 + 10_000_000;
    expect(s.apply(replies(t, t + DAY, DAY), t + DAY)).toMatchObject({ ok: true });
  });
});
