import type { SpanHistory, SpanViolation } from './history.js';
import type { CutApplied } from './recorder.js';
import type { RangeEntry } from './placement-map.js';

/**
 * The placement scenario's end-of-run checkers (docs/placement-sim.md), over the driver's final
 * map and what the replicas report after the heal. (The online one, servedInRange, is in the node
 * shell and the recorder: no replica serves or commits a key outside the range it has applied.)
 */

/**
 * A child starts complete (rule 22): its t_safe starts at T_cut, so on every node, by the child's
 * first reported t_safe, every version of its keys at or below T_cut (applied by the parent, or
 * an ancestor, before the cut) is durably visible there.
 */
export function childStartsComplete(h: SpanHistory, cuts: readonly CutApplied[]): SpanViolation[] {
  const out: SpanViolation[] = [];
  /** node -> commit ts -> when it first became durably visible there (under any split). */
  const visible = new Map<string, Map<number, number>>();
  for (const [k, m] of h.visible) {
    const node = k.slice(0, k.indexOf('|'));
    let v = visible.get(node);
    if (!v) visible.set(node, (v = new Map()));
    for (const [ts, at] of m) if (!v.has(ts) || v.get(ts)! > at) v.set(ts, at);
  }
  for (const cut of cuts) {
    const inChild = (key: string) => key >= cut.atKey && (cut.end === '' || key < cut.end);
    const before = h.commits.filter((c) => c.ts <= cut.cutTs && c.writes.some((w) => inChild(w.key)));
    const firstSample = new Map<string, number>();
    for (const s of h.tSafe) if (s.split === cut.child && !firstSample.has(s.node)) firstSample.set(s.node, s.atUs);
    for (const [node, atUs] of firstSample)
      for (const c of before) {
        const seen = visible.get(node)?.get(c.ts);
        if (seen === undefined || seen > atUs) {
          if (out.length < 5)
            out.push({ checker: 'childStartsComplete', detail: `${node} reported t_safe for ${cut.child} (cut from ${cut.split} at ${cut.cutTs}) at ${atUs}, but ${c.txn} (ts ${c.ts}, ${c.split} slot ${c.slot}) in its range was ${seen === undefined ? 'never' : `only at ${seen}`} durably visible there`, atUs });
          break;
        }
      }
  }
  return out;
}

/**
 * A parent replica that has not applied a cut yet keeps its t_safe below T_cut
 * (docs/transactions.md, the note under rule 22): it may still serve the upper half there, where
 * the child writes only above T_cut. Its closed timestamps are capped below T_cut while the cut
 * is pending (rule 21); a later one names an applied index past the cut, so it waits for it.
 */
export function parentTSafeBelowCut(h: SpanHistory, cuts: readonly CutApplied[], appliedAt: ReadonlyMap<string, number>): SpanViolation[] {
  const out: SpanViolation[] = [];
  for (const cut of cuts)
    for (const s of h.tSafe) {
      if (s.split !== cut.split || s.tSafe < cut.cutTs) continue;
      const applied = appliedAt.get(`${s.node}|${cut.split}|${cut.child}`);
      if (applied !== undefined && applied <= s.atUs) continue;
      if (out.length < 5)
        out.push({ checker: 'parentTSafeBelowCut', detail: `${s.node} reported t_safe ${s.tSafe} for ${cut.split} at ${s.atUs}, at or above T_cut ${cut.cutTs} of its cut into ${cut.child}, which it ${applied === undefined ? 'never applied' : `applied only at ${applied}`}`, atUs: s.atUs });
    }
  return out;
}

/** What one replica reports about a split it hosts. */
export interface HostedSplit {
  node: string;
  split: string;
  entry: { start: string; end: string; generation: number };
  /** The voters its replica knows for the next slot (the leader's counts). */
  voters: readonly string[];
  leader: boolean;
}

/** The final map covers the key space exactly once: sorted ranges, the first from '', each starting where the last ended, the last to ''. */
export function mapCoversKeySpace(entries: readonly RangeEntry[], atUs: number): SpanViolation[] {
  const out: SpanViolation[] = [];
  const sorted = [...entries].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const fail = (detail: string) => out.push({ checker: 'mapCoversKeySpace', detail, atUs });
  if (sorted.length === 0) return [{ checker: 'mapCoversKeySpace', detail: 'the map is empty', atUs }];
  if (sorted[0]!.start !== '') fail(`the first range starts at ${JSON.stringify(sorted[0]!.start)}, not ''`);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (a.end !== b.start) fail(`${a.split} ends at ${JSON.stringify(a.end)} but ${b.split} starts at ${JSON.stringify(b.start)}`);
  }
  for (const e of sorted) if (e.end !== '' && e.end <= e.start) fail(`${e.split} is empty or reversed: [${JSON.stringify(e.start)}, ${JSON.stringify(e.end)})`);
  if (sorted[sorted.length - 1]!.end !== '') fail(`the last range ends at ${JSON.stringify(sorted[sorted.length - 1]!.end)}, not ''`);
  return out;
}

/**
 * After the heal, every split's replicas (the map's) host it with the map's range and generation,
 * its leader counts exactly those voters, and no other node still hosts it.
 */
export function replicasAgree(entries: readonly RangeEntry[], hosted: readonly HostedSplit[], atUs: number): SpanViolation[] {
  const out: SpanViolation[] = [];
  const fail = (detail: string) => out.push({ checker: 'replicasAgree', detail, atUs });
  for (const e of entries) {
    const at = hosted.filter((h) => h.split === e.split);
    for (const r of e.replicas) {
      const h = at.find((x) => x.node === r);
      if (!h) fail(`${r} is a replica of ${e.split} in the map but does not host it`);
      else if (h.entry.start !== e.start || h.entry.end !== e.end || h.entry.generation !== e.generation)
        fail(`${r} serves ${e.split} as [${JSON.stringify(h.entry.start)}, ${JSON.stringify(h.entry.end)}) generation ${h.entry.generation}; the map says [${JSON.stringify(e.start)}, ${JSON.stringify(e.end)}) generation ${e.generation}`);
    }
    for (const h of at) if (!e.replicas.includes(h.node)) fail(`${h.node} still hosts ${e.split}, whose replicas are ${e.replicas.join(',')}`);
    const leader = at.find((h) => h.leader);
    if (leader && (leader.voters.length !== e.replicas.length || !leader.voters.every((v) => e.replicas.includes(v))))
      fail(`${e.split}'s leader ${leader.node} counts voters ${leader.voters.join(',')}; the map says ${e.replicas.join(',')}`);
  }
  for (const h of hosted) if (!entries.some((e) => e.split === h.split)) fail(`${h.node} hosts ${h.split}, which the map does not know`);
  return out;
}
