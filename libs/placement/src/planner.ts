import type { Op } from './ops.js';
import type { RangeMap, Split } from './range-map.js';
import type { ReportWindow } from './reports.js';

/** The planner's knobs; defaults and the reasons for them are in docs/placement.md. */
export interface PlacementThresholds {
  /** Cut a split whose leader reports more committed writes/s than this… */
  maxSplitWritesPerSec: number;
  /** …or more bytes than this… */
  maxSplitBytes: number;
  /** …in each of this many consecutive reports. */
  consecutiveReports: number;
  /** No op on a split until this long after its last op ended (µs). */
  cooldownUs: number;
  /** Never cut beyond this many splits. */
  maxSplits: number;
  /** Move a replica between two nodes of a DC when their replica counts differ by this much. */
  balanceSlack: number;
}

export const DEFAULT_THRESHOLDS: PlacementThresholds = {
  maxSplitWritesPerSec: 20,
  maxSplitBytes: 64 * 1024 * 1024,
  consecutiveReports: 5,
  cooldownUs: 10_000_000,
  maxSplits: 128,
  balanceSlack: 2,
};

export interface NodeHealth {
  /** Nodes that have not reported for the dead-after interval. */
  dead: ReadonlySet<string>;
  /** Nodes an operator is draining (`synod drain`). */
  draining: ReadonlySet<string>;
  /**
   * Nodes silent for a few reports but not yet dead (a DC just cut off, say): no leadership is
   * moved to them, since the split's leader most likely cannot reach them either.
   */
  late: ReadonlySet<string>;
}

export interface PlanContext {
  nowUs: number;
  /** When an op on each split last ended (PlacementLog state). */
  lastChangedAt: Readonly<Record<string, number>>;
}

/**
 * The next placement op, or null (docs/placement.md, "Planner"). Pure and deterministic: the
 * same map, reports, health and time give the same answer. Rules in priority order: repair
 * (replicas off dead or draining nodes), cut (load or size), balance within a DC, leader DC.
 */
export function planPlacement(map: RangeMap, reports: ReportWindow, health: NodeHealth, t: PlacementThresholds, ctx: PlanContext): Op | null {
  return repair(map, health) ?? cut(map, reports, t, ctx) ?? balance(map, health, t, ctx) ?? leaderPlacement(map, reports, health, ctx, t);
}

const gone = (h: NodeHealth, n: string) => h.dead.has(n) || h.draining.has(n);
const holds = (s: Split, n: string) => s.replicas.includes(n) || s.learners.includes(n);
const cooling = (s: Split, t: PlacementThresholds, ctx: PlanContext) => ctx.nowUs - (ctx.lastChangedAt[s.id] ?? -Infinity) < t.cooldownUs;

/** Replicas (voting and learning) per node, for "the node with the fewest replicas". */
function replicaCounts(map: RangeMap): Map<string, number> {
  const counts = new Map(map.nodes().map((n) => [n.id, 0]));
  for (const s of map.all()) for (const n of [...s.replicas, ...s.learners]) counts.set(n, (counts.get(n) ?? 0) + 1);
  return counts;
}

/** The live node to take `from`'s replica of `s`: same DC first, fewest replicas, then id. */
function targetFor(map: RangeMap, s: Split, from: string, health: NodeHealth, counts: Map<string, number>): string | undefined {
  const candidates = map.nodes().filter((n) => !gone(health, n.id) && !holds(s, n.id));
  const fromDc = map.dc(from);
  const rank = (a: { id: string; dc: string }, b: { id: string; dc: string }) =>
    Number(b.dc === fromDc) - Number(a.dc === fromDc) || counts.get(a.id)! - counts.get(b.id)! || (a.id < b.id ? -1 : 1);
  return candidates.sort(rank)[0]?.id;
}

function repair(map: RangeMap, health: NodeHealth): Op | null {
  const counts = replicaCounts(map);
  for (const s of map.all()) {
    // A reconfiguration needs a quorum of the current voters; without one, a move cannot finish.
    const live = s.replicas.filter((r) => !health.dead.has(r)).length;
    if (live < Math.floor(s.replicas.length / 2) + 1) continue;
    for (const from of s.replicas) {
      if (!gone(health, from)) continue;
      const to = targetFor(map, s, from, health, counts);
      if (to) return { type: 'move', split: s.id, from, to, reason: health.dead.has(from) ? `${from} is dead` : `${from} is draining` };
    }
  }
  return null;
}

/** The id for a new split: one above the highest `s<N>` in the map. */
export function nextSplitId(map: RangeMap): string {
  let max = 0;
  for (const s of map.all()) {
    const m = /^s(\d+)$/.exec(s.id);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return `s${max + 1}`;
}

const strictlyInside = (s: Split, key: string | undefined): key is string => key !== undefined && key > s.start && (s.end === '' || key < s.end);

function cut(map: RangeMap, reports: ReportWindow, t: PlacementThresholds, ctx: PlanContext): Op | null {
  if (map.all().length >= t.maxSplits) return null;
  let best: { op: Op; load: number; size: number } | null = null;
  for (const s of map.all()) {
    if (cooling(s, t, ctx)) continue;
    const recent = reports.currentLeaderReports(s).slice(-t.consecutiveReports);
    if (recent.length < t.consecutiveReports) continue;
    const last = recent.at(-1)!;
    const hot = recent.every((r) => r.writesPerSec > t.maxSplitWritesPerSec) && strictlyInside(s, last.loadMedianKey);
    const big = recent.every((r) => r.sizeBytes > t.maxSplitBytes);
    if (!hot && !big) continue;
    const reason = hot ? `${last.writesPerSec.toFixed(1)} writes/s > ${t.maxSplitWritesPerSec} for ${t.consecutiveReports} reports` : `${last.sizeBytes} bytes > ${t.maxSplitBytes} for ${t.consecutiveReports} reports`;
    // A load cut halves the load at its median; a size cut without a median lets the leader choose.
    const atKey = strictlyInside(s, last.loadMedianKey) ? last.loadMedianKey : undefined;
    const candidate = { op: { type: 'cut' as const, split: s.id, child: '', ...(atKey !== undefined ? { atKey } : {}), reason }, load: last.writesPerSec, size: last.sizeBytes };
    if (!best || candidate.load > best.load || (candidate.load === best.load && candidate.size > best.size)) best = candidate;
  }
  if (!best) return null;
  return { ...best.op, child: nextSplitId(map) } as Op;
}

function balance(map: RangeMap, health: NodeHealth, t: PlacementThresholds, ctx: PlanContext): Op | null {
  const counts = replicaCounts(map);
  const dcs = [...new Set(map.nodes().map((n) => n.dc))].sort();
  for (const dc of dcs) {
    const nodes = map
      .nodes()
      .filter((n) => n.dc === dc && !gone(health, n.id))
      .map((n) => n.id)
      .sort((a, b) => counts.get(a)! - counts.get(b)! || (a < b ? -1 : 1));
    if (nodes.length < 2) continue;
    const min = nodes[0]!;
    const max = nodes.at(-1)!;
    if (counts.get(max)! - counts.get(min)! < t.balanceSlack) continue;
    // Within one DC, so a split keeps its spread over DCs.
    const s = map.all().find((x) => x.replicas.includes(max) && !holds(x, min) && !cooling(x, t, ctx) && x.replicas.every((r) => !health.dead.has(r)));
    if (s) return { type: 'move', split: s.id, from: max, to: min, reason: `balance ${dc}: ${max} holds ${counts.get(max)}, ${min} holds ${counts.get(min)}` };
  }
  return null;
}

function leaderPlacement(map: RangeMap, reports: ReportWindow, health: NodeHealth, ctx: PlanContext, t: PlacementThresholds): Op | null {
  for (const s of map.all()) {
    if (s.leaderDc === undefined || cooling(s, t, ctx)) continue;
    const leader = reports.leaderOf(s);
    if (!leader || map.dc(leader) === s.leaderDc) continue;
    // Only a healthy group: a transfer into a group missing a replica risks its availability.
    if (s.replicas.some((r) => health.dead.has(r))) continue;
    const to = s.replicas.find((r) => map.dc(r) === s.leaderDc && !gone(health, r) && !health.late.has(r));
    if (to) return { type: 'transfer', split: s.id, to, reason: `leader ${leader} is outside ${s.leaderDc}` };
  }
  return null;
}
