import { describe, expect, it } from 'vitest';
import { contains, epsilonOf, type Sample } from './interval.js';
import { ClockSync } from './sync.js';

const T0 = 1_700_000_000_000_000;
/** Replies from honest masters at true time `t` (local clock = t + offset), 100 µs round trip. */
const replies = (t: number, offset: number, names = ['a', 'b', 'c'], lie: Record<string, number> = {}): Sample[] =>
  names.map((source) => ({ source, sentLocal: t + offset - 100, receivedLocal: t + offset, earliest: t - 50 - 50 + (lie[source] ?? 0), latest: t - 50 + 50 + (lie[source] ?? 0) }));

describe('ClockSync', () => {
  it('is not serving until the first sync, which needs a majority (2f + 1 replies)', () => {
    const s = new ClockSync({ maxLiars: 1 }, T0);
    expect(s.status(T0)).toMatchObject({ serving: false, reason: 'unsynced' });
    expect(s.apply(replies(T0, 0, ['a', 'b']), T0)).toMatchObject({ ok: false, failure: 'no-samples' });
    expect(s.apply(replies(T0, 0), T0)).toMatchObject({ ok: true });
    expect(s.status(T0).serving).toBe(true);
  });

  it('anchors to the masters whatever the local offset, and ε follows the sawtooth', () => {
    const offset = 400_000; // the local clock is 0.4 s fast at boot
    const s = new ClockSync({ driftBoundPpm: 200 }, T0 + offset);
    s.apply(replies(T0, offset), T0 + offset);
    const e0 = epsilonOf(s.now(T0 + offset));
    expect(e0).toBeLessThan(300);
    const later = s.now(T0 + offset + 30_000_000);
    expect(later.earliest).toBeLessThanOrEqual(T0 + 30_000_000);
    expect(later.latest).toBeGreaterThanOrEqual(T0 + 30_000_000);
    expect(epsilonOf(later)).toBeGreaterThan(e0 + 5_990);
    // A sync brings ε back down.
    s.apply(replies(T0 + 30_000_000, offset), T0 + offset + 30_000_000);
    expect(epsilonOf(s.now(T0 + offset + 30_000_000))).toBeLessThan(e0 + 10);
  });

  it('rejects a lying master and reports it', () => {
    const s = new ClockSync({}, T0);
    const out = s.apply(replies(T0, 0, ['a', 'liar', 'c'], { liar: 250_000 }), T0);
    expect(out).toMatchObject({ ok: true, rejected: ['liar'], agreeing: ['a', 'c'] });
  });

  it('of several replies from one master in a round, uses the narrowest (the least delayed)', () => {
    // Each master answered twice: first after a 6 ms round trip (a busy loop), then after 100 µs.
    const slow = (source: string): Sample => ({ source, sentLocal: T0 - 6_000, receivedLocal: T0, earliest: T0 - 3_000 - 50, latest: T0 - 3_000 + 50 });
    const fresh = new ClockSync({}, T0).apply(replies(T0, 0), T0).epsilonAfterUs;
    const both = new ClockSync({}, T0).apply([...['a', 'b', 'c'].map(slow), ...replies(T0, 0)], T0);
    expect(both).toMatchObject({ ok: true, discarded: [], agreeing: ['a', 'b', 'c'] });
    expect(both.epsilonAfterUs).toBe(fresh);
    // The slow replies alone give a wider ε: the choice is what narrowed it.
    expect(new ClockSync({}, T0).apply(['a', 'b', 'c'].map(slow), T0).epsilonAfterUs).toBeGreaterThan(fresh + 2_000);
  });

  it('counts a master once however many replies it sent: one liar repeating itself does not outvote two honest masters', () => {
    const s = new ClockSync({ maxLiars: 1 }, T0);
    const lies = replies(T0, 0, ['liar', 'liar', 'liar'], { liar: 250_000 });
    const out = s.apply([...lies, ...replies(T0, 0, ['a', 'c'])], T0);
    expect(out).toMatchObject({ ok: true, rejected: ['liar'], agreeing: ['a', 'c'] });
    expect(contains(s.now(T0), T0)).toBe(true);
    // Three replies of one master are not the 2f + 1 sources a first sync needs.
    expect(new ClockSync({ maxLiars: 1 }, T0).apply(replies(T0, 0, ['a', 'a', 'a']), T0)).toMatchObject({ ok: false, failure: 'no-samples' });
  });

  it('stops serving when the clock steps beyond ε, and resumes once the step is undone', () => {
    const s = new ClockSync({}, T0);
    s.apply(replies(T0, 0), T0);
    const skew = 200_000;
    const t1 = T0 + 1_000_000;
    const out = s.apply(replies(t1, skew), t1 + skew);
    expect(out).toMatchObject({ ok: false, failure: 'clock-excursion' });
    expect(out.offsetUs).toBeLessThan(-199_000);
    expect(s.status(t1 + skew)).toMatchObject({ serving: false, reason: 'clock-excursion' });
    // Still skewed a sync later: still out (the old anchor is kept, not moved to the bad clock).
    const t2 = t1 + 1_000_000;
    expect(s.apply(replies(t2, skew), t2 + skew).failure).toBe('clock-excursion');
    // Skew removed.
    const t3 = t2 + 1_000_000;
    expect(s.apply(replies(t3, 0), t3).ok).toBe(true);
    expect(s.status(t3).serving).toBe(true);
  });

  it('tolerates a step smaller than ε (absorbed at the next sync)', () => {
    const s = new ClockSync({}, T0);
    s.apply(replies(T0, 0), T0);
    const t1 = T0 + 10_000_000; // ε has grown by ~2 ms
    expect(s.apply(replies(t1, 1_000), t1 + 1_000).ok).toBe(true);
  });

  it('discards replies with impossible round trips (a clock step while a request was in flight)', () => {
    const s = new ClockSync({ maxRttUs: 10_000 }, T0);
    const r = replies(T0, 0);
    const stepped = r.map((x) => ({ ...x, receivedLocal: x.receivedLocal + 50_000 }));
    const out = s.apply(stepped, T0 + 50_000);
    expect(out).toMatchObject({ ok: false, failure: 'no-samples', discarded: ['a', 'b', 'c'] });
  });

  it('stops serving when ε outgrows the maximum (masters unreachable)', () => {
    const s = new ClockSync({ driftBoundPpm: 200, maxEpsilonUs: 5_000 }, T0);
    s.apply(replies(T0, 0), T0);
    expect(s.status(T0 + 10_000_000).serving).toBe(true);
    expect(s.status(T0 + 30_000_000)).toMatchObject({ serving: false, reason: 'epsilon-too-large' });
    s.apply(replies(T0 + 30_000_000, 0), T0 + 30_000_000);
    expect(s.status(T0 + 30_000_000).serving).toBe(true);
  });

  it('after a step between ε and ε + width(masters), anchors to the masters: true time stays inside (the old rule excluded it)', () => {
    // Sync at T0 (ε ≈ 1.1 ms with a 2 ms round trip), 30 s later ε ≈ 7.1 ms; a 7.75 ms forward step
    // is beyond ε yet its prediction still overlaps the masters' interval.
    const rtt = (t: number, offset: number): Sample[] =>
      ['a', 'b', 'c'].map((source) => ({ source, sentLocal: t + offset - 2_000, receivedLocal: t + offset, earliest: t - 1_100, latest: t - 900 }));
    const t1 = T0 + 30_000_000;
    const step = 7_750;
    for (const unsound of [false, true]) {
      const s = new ClockSync({ driftBoundPpm: 200, unsoundTrustPrediction: unsound }, T0);
      s.apply(rtt(T0, 0), T0);
      const out = s.apply(rtt(t1, step), t1 + step);
      expect(out.ok).toBe(true);
      expect(s.status(t1 + step).serving).toBe(true);
      expect(contains(s.now(t1 + step), t1)).toBe(!unsound);
    }
  });

  it('with too few replies to outvote a liar, re-anchors only if that does not widen ε', () => {
    const s = new ClockSync({ maxLiars: 1 }, T0);
    s.apply(replies(T0, 0), T0);
    const t1 = T0 + 1_000_000;
    // Two replies, one a liar 30 ms off: their span is wider than the prediction.
    const out = s.apply(replies(t1, 0, ['a', 'liar'], { liar: 30_000 }), t1);
    expect(out).toMatchObject({ ok: false, failure: 'inconclusive' });
    expect(s.status(t1).serving).toBe(true);
    // Two honest replies 20 s later, when the prediction has grown wider than they are: re-anchored.
    const t2 = t1 + 20_000_000;
    expect(s.apply(replies(t2, 0, ['a', 'b']), t2).ok).toBe(true);
    expect(epsilonOf(s.now(t2))).toBeLessThan(200);
  });
});
