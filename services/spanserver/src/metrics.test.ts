import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SynodError } from '@synod/codec';
import { Metrics } from '@synod/config';
import { abortCause, observedNow, spanserverReadiness, READY_MAX_APPLY_LAG } from './metrics.js';
import type { Spanserver } from './spanserver.js';
import type { TimeSource } from './time-source.js';

describe('abortCause', () => {
  it('maps every abort reason the transaction core states to a cause other than "other"', () => {
    // The reasons are text in libs/txn (split-core.ts abortTxn calls): read them from there, so a
    // reworded or new reason fails here rather than silently counting as "other".
    const core = readFileSync(fileURLToPath(new URL('../../../libs/txn/src/split-core.ts', import.meta.url)), 'utf8');
    const reasons = [...core.matchAll(/abortTxn\([^,]+, '([^']+)'\)/g)].map((m) => m[1]!);
    reasons.push('waited over 2000 ms for a lock'); // the one template literal
    expect(reasons.length).toBeGreaterThanOrEqual(12);
    // The refusal message the client sees carries the reason: "<txn>: <reason>; retry the transaction".
    const unmapped = reasons.filter((r) => abortCause(`t1: ${r}; retry the transaction`) === 'other');
    expect(unmapped).toEqual([]);
    expect(abortCause('t1: wounded by an older transaction; retry the transaction')).toBe('wounded');
    expect(abortCause("n1's lease on s1 does not cover timestamp 5; retry the transaction")).toBe('lease');
    expect(abortCause('something new')).toBe('other');
  });
});

describe('spanserverReadiness', () => {
  const group = (over: Partial<{ id: string; leader: string | null; appliedUpTo: number; chosenUpTo: number }> = {}) => ({ id: 's1', leader: 'n1', appliedUpTo: 10, chosenUpTo: 10, ...over });
  const check = (serving: boolean, groups: ReturnType<typeof group>[]) =>
    spanserverReadiness({ splitHealth: () => groups } as unknown as Spanserver, { isServing: () => serving } as unknown as TimeSource)();

  it('is ready with a serving clock and every split led and caught up', () => {
    expect(check(true, [group(), group({ id: 's2', leader: 'n2' })])).toEqual({ ready: true, reasons: [] });
  });
  it('is not ready with the clock out of bounds', () => {
    expect(check(false, [group()])).toEqual({ ready: false, reasons: ['clock not within bounds (TrueTime not serving)'] });
  });
  it('is not ready while a split has no known leader', () => {
    expect(check(true, [group(), group({ id: 's2', leader: null })])).toEqual({ ready: false, reasons: ['split s2: no known leader'] });
  });
  it('is not ready while a split is more than one window behind', () => {
    expect(check(true, [group({ chosenUpTo: 10 + READY_MAX_APPLY_LAG })]).ready).toBe(true);
    expect(check(true, [group({ chosenUpTo: 11 + READY_MAX_APPLY_LAG })])).toEqual({ ready: false, reasons: [`split s1: ${READY_MAX_APPLY_LAG + 1} chosen entries not applied`] });
  });
});

describe('observedNow', () => {
  const H = 'synod_read_latency_seconds';
  const ok = { kind: 'kv.snapshot', outcome: 'ok' };
  const failed = (outcome: string) => ({ kind: 'kv.snapshot', outcome });
  const count = (m: Metrics, outcome: string) => m.get(H, { kind: 'kv.snapshot', outcome });

  it('returns a value as is (no promise) and observes it ok', () => {
    const m = new Metrics();
    const v = observedNow(m, H, ok, failed, () => 42);
    expect(v).toBe(42);
    expect(count(m, 'ok')).toBe(1);
  });

  it('rethrows a throw, observed under its code (or "error")', () => {
    const m = new Metrics();
    expect(() => observedNow(m, H, ok, failed, () => { throw new SynodError('UNAVAILABLE', 'no'); })).toThrow(SynodError);
    expect(() => observedNow(m, H, ok, failed, () => { throw new Error('bug'); })).toThrow('bug');
    expect(count(m, 'UNAVAILABLE')).toBe(1);
    expect(count(m, 'error')).toBe(1);
  });

  it('times a promise when it settles, either way', async () => {
    const m = new Metrics();
    await expect(observedNow(m, H, ok, failed, () => Promise.resolve('later'))).resolves.toBe('later');
    await expect(observedNow(m, H, ok, failed, () => Promise.reject(new SynodError('TIMEOUT', 'slow')))).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(count(m, 'ok')).toBe(1);
    expect(count(m, 'TIMEOUT')).toBe(1);
  });
});
