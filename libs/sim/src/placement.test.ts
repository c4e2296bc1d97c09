import { describe, expect, it } from 'vitest';
import { mapCoversKeySpace, replicasAgree, type HostedSplit } from './span/placement-checkers.js';
import { RangeMap, type RangeEntry } from './span/placement-map.js';
import { runPlacement } from './span/placement-simulation.js';

/**
 * The placement scenario (docs/placement-sim.md) on the correct cores: a sample of the seeds CI
 * runs through the CLI (`npm run sim -- --scenario placement --seeds 200`), determinism, and the
 * end-of-run checkers failing on broken maps and replicas.
 */
const SEEDS = 12;

describe('placement scenario', () => {
  it(`${SEEDS} seeds pass every checker while splits are cut, replicas moved and leaderships transferred`, { timeout: 240_000 }, () => {
    const failures: string[] = [];
    const sum = { cuts: 0, moves: 0, transfers: 0, refreshes: 0, xsplit: 0, rw: 0 };
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = runPlacement({ seed });
      if (!r.ok) failures.push(`seed ${seed}: ${r.violations.map((v) => `${v.checker}: ${v.detail}`).join('; ')}`);
      sum.cuts += r.placement.cuts;
      sum.moves += r.placement.moves;
      sum.transfers += r.placement.transfers;
      sum.refreshes += r.placement.refreshes;
      sum.xsplit += r.totals.xsplitCommitted;
      sum.rw += r.totals.rwCommitted;
    }
    console.log(`[placement] ${SEEDS} seeds: ${JSON.stringify(sum)}`);
    expect(failures).toEqual([]);
    // Not vacuous: every kind of placement change happens, and clients had to follow the map.
    expect(sum.cuts).toBeGreaterThan(SEEDS);
    expect(sum.moves).toBeGreaterThan(SEEDS / 2);
    expect(sum.transfers).toBeGreaterThan(SEEDS / 2);
    expect(sum.refreshes).toBeGreaterThan(0);
    expect(sum.xsplit).toBeGreaterThan(SEEDS * 5);
  });

  it('a seed replays exactly', () => {
    const a = runPlacement({ seed: 7 });
    const b = runPlacement({ seed: 7 });
    expect(a.traceHash).toBe(b.traceHash);
    expect(a.placement).toEqual(b.placement);
    expect(runPlacement({ seed: 8 }).traceHash).not.toBe(a.traceHash);
  });
});

function cutMap(): RangeMap {
  const m = new RangeMap(
    [
      { id: 's0', start: '', end: 'k1' },
      { id: 's1', start: 'k1', end: '' },
    ],
    ['n-a', 'n-b', 'n-c'],
  );
  m.cut('s1', 's2', 'k1/x', 1);
  return m;
}

const hostedAll = (entries: RangeEntry[]): HostedSplit[] =>
  entries.flatMap((e) => e.replicas.map((node) => ({ node, split: e.split, entry: { start: e.start, end: e.end, generation: e.generation }, voters: e.replicas, leader: node === 'n-a' })));

describe('placement end checkers', () => {
  it('mapCoversKeySpace passes a cut map and fails a gap, an overlap and an open end', () => {
    const entries = cutMap().entries();
    expect(mapCoversKeySpace(entries, 0)).toEqual([]);
    const gap = entries.map((e) => (e.split === 's2' ? { ...e, start: 'k1/y' } : e));
    expect(mapCoversKeySpace(gap, 0).map((v) => v.checker)).toContain('mapCoversKeySpace');
    const overlap = entries.map((e) => (e.split === 's1' ? { ...e, end: 'k1/z' } : e));
    expect(mapCoversKeySpace(overlap, 0).length).toBeGreaterThan(0);
    const open = entries.filter((e) => e.split !== 's2');
    expect(mapCoversKeySpace(open, 0).some((v) => v.detail.includes('last range'))).toBe(true);
  });

  it('replicasAgree passes replicas that match the map and fails a stale range, a missing or extra replica and a leader with other voters', () => {
    const entries = cutMap().entries();
    const hosted = hostedAll(entries);
    expect(replicasAgree(entries, hosted, 0)).toEqual([]);
    // A replica of s1 that never applied the cut.
    const stale = hosted.map((h) => (h.split === 's1' && h.node === 'n-b' ? { ...h, entry: { start: 'k1', end: '', generation: 0 } } : h));
    expect(replicasAgree(entries, stale, 0).some((v) => v.detail.includes('n-b serves s1'))).toBe(true);
    // A child never hosted on one of its replicas.
    expect(replicasAgree(entries, hosted.filter((h) => !(h.split === 's2' && h.node === 'n-c')), 0).some((v) => v.detail.includes('does not host'))).toBe(true);
    // An old replica a move did not drop.
    const extra = [...hosted, { node: 'n-a2', split: 's0', entry: { start: '', end: 'k1', generation: 0 }, voters: ['n-a', 'n-b', 'n-c'], leader: false }];
    expect(replicasAgree(entries, extra, 0).some((v) => v.detail.includes('n-a2 still hosts s0'))).toBe(true);
    const otherVoters = hosted.map((h) => (h.split === 's0' && h.leader ? { ...h, voters: ['n-a', 'n-b', 'n-c2'] } : h));
    expect(replicasAgree(entries, otherVoters, 0).some((v) => v.detail.includes('counts voters'))).toBe(true);
  });
});
