/**
 * Marzullo's intersection algorithm, in its fault-tolerant form. Pure.
 *
 * Given n intervals of which at most f may be wrong ("liars"), true time lies in the span of the
 * points covered by at least n − f intervals: true time itself is covered by every correct
 * interval (at least n − f of them), so it is one of those points. Intervals that cover none
 * of those points are rejected as liars.
 *
 * f is the number of liars tolerated, fixed by configuration, not the smallest number that
 * happens to make the intervals agree: a liar can overlap every correct interval away from the
 * truth, and then all n share a point that is not the truth (NTP accepts that risk; a TrueTime
 * guarantee cannot). Nor is it enough to take the single best-covered segment (the textbook
 * "largest set of agreeing intervals"): a liar overlapping one correct interval ties with the
 * correct pair. marzullo.test.ts shows both.
 */
import type { TTInterval } from './interval.js';

export interface SourceInterval extends TTInterval {
  readonly source: string;
}

export interface MarzulloResult {
  /** Where true time lies if at most `faults` of the intervals are wrong. */
  readonly interval: TTInterval;
  /** Intervals that contain a point covered by at least n − faults intervals. */
  readonly agreeing: string[];
  /** Intervals that share no such point: the liars (or sources whose error exceeded their claim). */
  readonly rejected: string[];
  readonly faults: number;
}

interface Edge {
  at: number;
  /** +1 opens an interval, −1 closes one. */
  delta: 1 | -1;
}

/** Segments `[from, to]` covered by at least `need` intervals. Closed intervals: starts sort before ends. */
function coveredSegments(xs: readonly TTInterval[], need: number): TTInterval[] {
  const edges: Edge[] = [];
  for (const x of xs) {
    edges.push({ at: x.earliest, delta: 1 }, { at: x.latest, delta: -1 });
  }
  edges.sort((a, b) => a.at - b.at || b.delta - a.delta);
  const out: TTInterval[] = [];
  let count = 0;
  let openedAt = 0;
  for (const e of edges) {
    if (e.delta === 1) {
      count++;
      if (count === need) openedAt = e.at;
    } else {
      if (count === need) out.push({ earliest: openedAt, latest: e.at });
      count--;
    }
  }
  return out;
}

/**
 * @param faults the most liars tolerated (f). Needs n > f.
 * @returns undefined when no point is covered by n − f intervals: more than f are wrong.
 */
export function marzullo(xs: readonly SourceInterval[], faults: number): MarzulloResult | undefined {
  const n = xs.length;
  if (n <= faults || faults < 0) return undefined;
  for (const x of xs) if (!(x.earliest <= x.latest)) throw new RangeError(`interval of ${x.source} is inverted`);
  const segments = coveredSegments(xs, n - faults);
  if (segments.length === 0) return undefined;
  const interval = { earliest: segments[0]!.earliest, latest: segments[segments.length - 1]!.latest };
  const agreeing: string[] = [];
  const rejected: string[] = [];
  for (const x of xs) {
    const agrees = segments.some((s) => x.earliest <= s.latest && s.earliest <= x.latest);
    (agrees ? agreeing : rejected).push(x.source);
  }
  return { interval, agreeing, rejected, faults };
}

/**
 * The textbook variant: the single segment covered by the most intervals (the first one on a
 * tie). Kept only so tests can show why the library does not use it.
 */
export function bestCoveredSegment(xs: readonly TTInterval[]): { interval: TTInterval; count: number } | undefined {
  for (let need = xs.length; need >= 1; need--) {
    const s = coveredSegments(xs, need);
    if (s.length > 0) return { interval: s[0]!, count: need };
  }
  return undefined;
}
