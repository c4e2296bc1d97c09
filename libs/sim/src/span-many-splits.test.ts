import { describe, expect, it } from 'vitest';
import { buildSpanWorld, finishSpanWorld, manySplitsOptions, MAX_SPAN_SPLITS, runSpan, spanSplits, spanWorkload, DEFAULT_SPAN_OPTIONS, type TxnBrokenVariant } from './span/simulation.js';
import { START_US } from './span/time.js';

/**
 * The span scenario with many splits per node (libs/sim/src/span/README.md, "Many splits per
 * node"). CI runs seeds of it through the CLI (`--splits 32`), which checks only that every
 * checker passes; this checks what that run must be: the key space cut into N ranges with every
 * key in its own split's, every node hosting every split, and transactions over several splits.
 */
/** The seeds CI runs at 32 splits (libs/sim/package.json, "test"). */
const CI_SEEDS_32 = 50;

const inRange = (key: string, r: { start: string; end: string }) => key >= r.start && (r.end === '' || key < r.end);

describe('span scenario with many splits', () => {
  for (const n of [3, 10, 11, 32, 64, 101]) {
    it(`${n} splits cut the key space into consecutive ranges, and each workload key lies in its own split's range only`, () => {
      const splits = spanSplits(n);
      expect(splits).toHaveLength(n);
      expect(splits[0]!.start).toBe('');
      expect(splits[n - 1]!.end).toBe('');
      for (let i = 1; i < n; i++) {
        expect(splits[i]!.start, `s${i} starts where s${i - 1} ends`).toBe(splits[i - 1]!.end);
        expect(splits[i]!.start > splits[i - 1]!.start, `s${i} after s${i - 1}`).toBe(true);
      }
      const w = spanWorkload(splits, DEFAULT_SPAN_OPTIONS.mix);
      for (const s of splits)
        for (const key of [...w.accounts[s.id]!, ...w.registers[s.id]!, ...w.lists[s.id]!])
          expect(
            splits.filter((r) => inRange(key, r)).map((r) => r.id),
            key,
          ).toEqual([s.id]);
    });
  }

  it('keeps the 3-split names it always had', () => {
    expect(spanSplits(3).map((s) => [s.start, s.end])).toEqual([
      ['', 'k1'],
      ['k1', 'k2'],
      ['k2', ''],
    ]);
  });

  it('refuses a split count outside 1..MAX_SPAN_SPLITS', () => {
    expect(() => manySplitsOptions(0)).toThrow(/splits must be/);
    expect(() => manySplitsOptions(MAX_SPAN_SPLITS + 1)).toThrow(/splits must be/);
    expect(() => manySplitsOptions(2.5)).toThrow(/splits must be/);
    expect(manySplitsOptions(32).splits).toBe(32);
  });

  it('32 splits: every node hosts every split, and committed transactions span up to 4 splits over most of them', { timeout: 120_000 }, () => {
    // Seed 7 (the lease-edge shape): one of the busier seeds at 32 splits.
    const w = buildSpanWorld({ seed: 7, ...manySplitsOptions(32) });
    expect(w.splits).toHaveLength(32);
    for (const node of w.nodes) expect(node.hosted().sort(), node.id).toEqual(w.splits.map((s) => s.id).sort());
    const r = finishSpanWorld(w);
    expect(r.violations).toEqual([]);
    const committed = r.history.rw.filter((t) => t.outcome.state === 'committed');
    const width = (t: (typeof committed)[number]) => 1 + (t.participants?.length ?? 0);
    expect(committed.filter((t) => width(t) >= 2).length, 'cross-split commits').toBeGreaterThan(10);
    expect(committed.some((t) => width(t) >= 3), 'a commit across 3 or more splits').toBe(true);
    expect(Math.max(...committed.map(width))).toBeLessThanOrEqual(4);
    const touched = new Set(committed.flatMap((t) => [t.split, ...(t.participants ?? [])]));
    expect(touched.size, 'splits written').toBeGreaterThanOrEqual(16);
    // A bank audit read every split's accounts at one timestamp (bankConserved checked it).
    const audits = r.history.ro.filter((ro) => new Set(ro.reads.map((x) => x.split)).size === 32);
    expect(audits.length).toBeGreaterThan(0);
    for (const a of audits) expect(a.ts).toBeGreaterThan(START_US);
  });

  // Teeth at 32 splits (as span-teeth.test.ts at 3): a broken 2PC participant and a broken t_safe
  // are still caught, within the seeds CI runs, by the checkers that catch them at 3 splits.
  const TEETH: Array<[TxnBrokenVariant, string[]]> = [
    ['participantAbortsPrepared', ['atomicCommit', 'strictSerializability', 'bankConserved']],
    ['ignoreTmSafe', ['tSafeNotAhead', 'snapshotExact', 'bankConserved']],
  ];
  for (const [variant, checkers] of TEETH)
    it(`32 splits: ${variant} is caught by ${checkers.join(' / ')} within ${CI_SEEDS_32} seeds`, { timeout: 240_000 }, () => {
      let caught: { seed: number; checkers: string[] } | undefined;
      for (let seed = 1; seed <= CI_SEEDS_32 && !caught; seed++) {
        const r = runSpan({ seed, broken: [variant], ...manySplitsOptions(32) });
        if (!r.ok) caught = { seed, checkers: r.failedCheckers };
      }
      console.log(`[teeth] 32 splits, ${variant}: ${caught ? `first failing seed ${caught.seed}, caught by ${caught.checkers.join(', ')}` : 'not caught'}`);
      expect(caught, `${variant} not caught`).toBeDefined();
      expect(caught!.checkers.some((c) => checkers.includes(c)), caught!.checkers.join(', ')).toBe(true);
    });
});
