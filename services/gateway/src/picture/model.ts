/**
 * The live picture's model (docs/picture.md): pure functions from what the poller gathered (node
 * status replies, the fault picture, clock faults, the range map, recent samples) to the JSON
 * snapshot the page draws. No I/O here, so every rule is unit-tested with plain values.
 */
import { COMMIT_LATENCY_BOUNDS_MS, type ChaosState, type MessageBody } from '@synod/codec';
import { faultOnLink } from '@synod/transport';

export type NodeStatus = MessageBody<'node.status.reply'>;
export type CommitFigures = NonNullable<NodeStatus['commits']>;

export interface MapSplit {
  id: string;
  start: string;
  end: string;
  replicas: readonly string[];
  learners?: readonly string[];
  generation: number;
}

export interface PictureInput {
  /** Wall-clock ms of the poll. */
  at: number;
  /** The range map's nodes (in its order) and splits. */
  nodes: ReadonlyArray<{ id: string; dc: string }>;
  generation: number;
  splits: readonly MapSplit[];
  /** Each node's reply to node.status this poll; absent or an error: it did not answer. */
  replies: ReadonlyMap<string, { status: NodeStatus } | { error: string }>;
  chaos: ChaosState;
  clockFaults: ReadonlyArray<{ node: string; skewMs: number; driftPpm: number }>;
  series: readonly Sample[];
}

/** One point of the charts: commits acknowledged by split leaders between two polls. */
export interface Sample {
  t: number;
  opsPerSec: number;
  /** Estimated from the latency buckets; null when nothing committed in the interval. */
  p50Ms: number | null;
  p99Ms: number | null;
  /** Commit wait's part of the commit latency (summed over the interval's commits), 0..1. */
  commitWaitShare: number | null;
}

export interface PictureNode {
  id: string;
  up: boolean;
  error?: string;
  epsilonMs: number | null;
  serving: boolean | null;
  /**
   * The largest t_safe lag (TT.now().latest − t_safe) over the splits it hosts that are not
   * quiescent, ms (a quiet split's t_safe stands still by design: docs/spanserver.md, "Quiescent splits").
   */
  tSafeLagMs: number | null;
  isolated: boolean;
  skewMs?: number;
  driftPpm?: number;
}

export interface PictureSplit {
  id: string;
  start: string;
  end: string;
  generation: number;
  replicas: string[];
  learners: string[];
  leader: string | null;
  leaderDc: string | null;
  /** t_safe lag per replica that answered, ms. */
  tSafeLagMs: Record<string, number>;
  /** Every replica that answered reports the split quiescent: its t_safe lag grows by design. */
  quiet: boolean;
}

export interface PictureLink {
  from: string;
  to: string;
  /** Cut in at least one direction; `oneWay` says only one is. */
  down: boolean;
  oneWay: boolean;
  /** The larger one-way latency (plus jitter) of the two directions, ms. */
  latencyMs: number;
  /** The larger loss of the two directions, 0..1. */
  loss: number;
}

export interface PictureSnapshot {
  at: number;
  generation: number;
  chaosVersion: number;
  dcs: Array<{ name: string; nodes: PictureNode[] }>;
  splits: PictureSplit[];
  links: PictureLink[];
  series: Sample[];
}

const ms = (us: number) => Math.round(us / 100) / 10;

/** The split's leader: of the replicas that say they lead, the one most replicas name (a deposed leader may still claim it). */
export function leaderOf(split: MapSplit, replies: PictureInput['replies']): string | null {
  const claims: string[] = [];
  const named = new Map<string, number>();
  for (const node of [...split.replicas, ...(split.learners ?? [])]) {
    const r = replies.get(node);
    const g = r && 'status' in r ? r.status.groups.find((x) => x.id === split.id) : undefined;
    if (!g) continue;
    if (g.isLeader) claims.push(node);
    if (g.leader) named.set(g.leader, (named.get(g.leader) ?? 0) + 1);
  }
  if (claims.length === 0) return null;
  return claims.reduce((best, c) => ((named.get(c) ?? 0) > (named.get(best) ?? 0) ? c : best));
}

/** Every pair of DCs once, with the faults of both directions folded together. */
export function linksBetween(dcs: readonly string[], chaos: ChaosState): PictureLink[] {
  const out: PictureLink[] = [];
  for (let i = 0; i < dcs.length; i++)
    for (let j = i + 1; j < dcs.length; j++) {
      const [a, b] = [dcs[i]!, dcs[j]!];
      const ab = faultOnLink(chaos, a, b);
      const ba = faultOnLink(chaos, b, a);
      const cut = [ab?.down === true, ba?.down === true];
      const delay = (l: typeof ab) => (l ? l.latencyMs + l.jitterMs : 0);
      out.push({ from: a, to: b, down: cut[0]! || cut[1]!, oneWay: cut[0] !== cut[1], latencyMs: Math.max(delay(ab), delay(ba)), loss: Math.max(ab?.loss ?? 0, ba?.loss ?? 0) });
    }
  return out;
}

/** The latency below which a fraction `q` of the bucketed commits fell, interpolated inside its bucket. */
export function bucketQuantile(buckets: readonly number[], q: number): number | null {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    const n = buckets[i]!;
    if (n > 0 && seen + n >= rank) {
      const lo = i === 0 ? 0 : COMMIT_LATENCY_BOUNDS_MS[i - 1]!;
      // Above the last bound there is no upper edge: the last bound is all that is known.
      const hi = COMMIT_LATENCY_BOUNDS_MS[i] ?? lo;
      return lo + ((hi - lo) * (rank - seen)) / n;
    }
    seen += n;
  }
  return COMMIT_LATENCY_BOUNDS_MS.at(-1)!;
}

/**
 * The sample between two polls from each node's cumulative commit figures. A node counts only
 * when it answered both polls; one whose count went down restarted, and counts from zero.
 */
export function commitSample(t: number, dtMs: number, prev: ReadonlyMap<string, CommitFigures>, cur: ReadonlyMap<string, CommitFigures>): Sample {
  let count = 0;
  let latencyUs = 0;
  let waitUs = 0;
  const buckets = new Array<number>(COMMIT_LATENCY_BOUNDS_MS.length + 1).fill(0);
  for (const [node, c] of cur) {
    const p0 = prev.get(node);
    if (!p0) continue;
    const p = c.count < p0.count ? { count: 0, latencyUsSum: 0, commitWaitUsSum: 0, latencyBuckets: buckets.map(() => 0) } : p0;
    count += c.count - p.count;
    latencyUs += c.latencyUsSum - p.latencyUsSum;
    waitUs += c.commitWaitUsSum - p.commitWaitUsSum;
    c.latencyBuckets.forEach((n, i) => (buckets[i]! += n - (p.latencyBuckets[i] ?? 0)));
  }
  const round = (x: number | null) => (x === null ? null : Math.round(x * 10) / 10);
  return {
    t,
    opsPerSec: dtMs > 0 ? Math.round((count * 10_000) / dtMs) / 10 : 0,
    p50Ms: round(bucketQuantile(buckets, 0.5)),
    p99Ms: round(bucketQuantile(buckets, 0.99)),
    commitWaitShare: latencyUs > 0 ? Math.round((1000 * waitUs) / latencyUs) / 1000 : null,
  };
}

/** The snapshot the page draws. */
export function buildPicture(input: PictureInput): PictureSnapshot {
  const faults = new Map(input.clockFaults.map((f) => [f.node, f]));
  const dcNames = [...new Set(input.nodes.map((n) => n.dc))];
  const statusOf = (id: string) => {
    const r = input.replies.get(id);
    return r && 'status' in r ? r.status : undefined;
  };
  const lagMs = (s: NodeStatus, g: NodeStatus['groups'][number]) => Math.max(0, ms(s.tt.latest - g.tSafe));
  const node = (id: string): PictureNode => {
    const r = input.replies.get(id);
    const s = statusOf(id);
    const f = faults.get(id);
    const lags = s ? s.groups.filter((g) => g.quiet !== true).map((g) => lagMs(s, g)) : [];
    return {
      id,
      up: s !== undefined,
      ...(r && 'error' in r ? { error: r.error } : {}),
      epsilonMs: s ? ms(s.tt.epsilonUs) : null,
      serving: s ? s.tt.serving : null,
      tSafeLagMs: lags.length ? Math.max(...lags) : null,
      isolated: input.chaos.isolated.includes(id),
      ...(f && f.skewMs !== 0 ? { skewMs: f.skewMs } : {}),
      ...(f && f.driftPpm !== 0 ? { driftPpm: f.driftPpm } : {}),
    };
  };
  const dcOf = new Map(input.nodes.map((n) => [n.id, n.dc]));
  return {
    at: input.at,
    generation: input.generation,
    chaosVersion: input.chaos.version,
    dcs: dcNames.map((name) => ({ name, nodes: input.nodes.filter((n) => n.dc === name).map((n) => node(n.id)) })),
    splits: input.splits.map((sp) => {
      const leader = leaderOf(sp, input.replies);
      const tSafeLagMs: Record<string, number> = {};
      let answered = 0;
      let quiet = 0;
      for (const id of sp.replicas) {
        const s = statusOf(id);
        const g = s?.groups.find((x) => x.id === sp.id);
        if (!s || !g) continue;
        tSafeLagMs[id] = lagMs(s, g);
        answered++;
        if (g.quiet === true) quiet++;
      }
      return {
        id: sp.id,
        start: sp.start,
        end: sp.end,
        generation: sp.generation,
        replicas: [...sp.replicas],
        learners: [...(sp.learners ?? [])],
        leader,
        leaderDc: leader ? (dcOf.get(leader) ?? null) : null,
        tSafeLagMs,
        quiet: answered > 0 && quiet === answered,
      };
    }),
    links: linksBetween(dcNames, input.chaos),
    series: [...input.series],
  };
}
