import { describe, expect, it } from 'vitest';
import { runSpan, SPAN_SHAPE_NAMES, spanOptions, type SpanTotals } from './span/simulation.js';

/**
 * The span scenario on the correct transaction core: every seed passes every checker. CI runs
 * more seeds through the CLI (`npm run sim -- --scenario span --seeds 300`); this is the quick
 * version, plus determinism.
 */
const SEEDS = 50;

describe('span scenario', () => {
  it(`${SEEDS} seeds pass every checker, with faults of every kind`, { timeout: 240_000 }, () => {
    const totals: SpanTotals = { rwCommitted: 0, xsplitCommitted: 0, roCompleted: 0, aborts: 0, leaderChanges: 0, clockSteps: 0, crashes: 0, statusLookups: 0, unknownOutcomes: 0, stalledWrites: 0, syncs: 0, applyRefusals: 0, quietLeaderTicks: 0 };
    const failures: string[] = [];
    const t0 = performance.now();
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = runSpan({ seed });
      for (const k of Object.keys(totals) as Array<keyof SpanTotals>) totals[k] += r.totals[k];
      if (!r.ok) failures.push(`seed ${seed}: ${r.violations.map((v) => `${v.checker}: ${v.detail}`).join('; ')}`);
    }
    console.log(`[timing] ${SEEDS} span seeds in ${((performance.now() - t0) / 1000).toFixed(1)}s; totals ${JSON.stringify(totals)}`);
    expect(failures).toEqual([]);
    // Not vacuous: the runs commit, read, change leaders, crash, step clocks and look outcomes up.
    for (const k of ['rwCommitted', 'roCompleted', 'leaderChanges', 'crashes', 'clockSteps', 'statusLookups', 'stalledWrites'] as const) expect(totals[k], k).toBeGreaterThan(0);
    // Cross-split transactions (two-phase commit) are a large part of them.
    expect(totals.xsplitCommitted).toBeGreaterThan(SEEDS * 5);
    expect(totals.rwCommitted).toBeGreaterThan(SEEDS * 20);
    expect(totals.roCompleted).toBeGreaterThan(SEEDS * 20);
  });

  it('a seed replays exactly (same trace hash), and seeds cover every shape', () => {
    const a = runSpan({ seed: 42 });
    const b = runSpan({ seed: 42 });
    expect(a.traceHash).toBe(b.traceHash);
    expect(a.events).toBe(b.events);
    expect(runSpan({ seed: 43 }).traceHash).not.toBe(a.traceHash);
    expect(new Set(Array.from({ length: SPAN_SHAPE_NAMES.length }, (_, i) => spanOptions({ seed: i + 1 }).shape))).toEqual(new Set(SPAN_SHAPE_NAMES));
  });
});
