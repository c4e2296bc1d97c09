import type { SplitReport } from '@synod/codec';
import type { RangeMap, Split } from './range-map.js';

export interface ReportWindowLimits {
  /** Leader reports kept per split: the planner's "K consecutive reports" reads them. */
  perSplit: number;
  /** (node, split) pairs whose latest report is kept for `placement.map` stats. */
  maxLatest: number;
}

/**
 * What the placement service remembers of the spanservers' reports, in memory only (a new
 * placement leader starts empty and waits for K fresh reports before it cuts anything).
 * Bounded: `perSplit` leader reports per split, `maxLatest` latest reports overall.
 */
export class ReportWindow {
  private readonly leaderReports = new Map<string, Array<SplitReport & { node: string }>>();
  private readonly latestByNodeSplit = new Map<string, SplitReport & { node: string }>();

  constructor(private readonly limits: ReportWindowLimits = { perSplit: 16, maxLatest: 100_000 }) {}

  record(node: string, report: SplitReport): void {
    const key = `${node}/${report.id}`;
    if (this.latestByNodeSplit.has(key) || this.latestByNodeSplit.size < this.limits.maxLatest) this.latestByNodeSplit.set(key, { ...report, node });
    if (!report.leader) return;
    const list = this.leaderReports.get(report.id) ?? [];
    list.push({ ...report, node });
    if (list.length > this.limits.perSplit) list.splice(0, list.length - this.limits.perSplit);
    this.leaderReports.set(report.id, list);
  }

  /**
   * The leader's reports for `split` under its current range, oldest first. A report from
   * before a cut describes the whole old range and is not evidence about either half. The range
   * alone tells: a split's range only ever shrinks, by cuts, and a child gets a new id. (The
   * map's per-split generation also moves with membership changes, which a spanserver's
   * replica does not learn of, so it cannot tell a stale report.)
   */
  currentLeaderReports(split: Split): Array<SplitReport & { node: string }> {
    const list = this.leaderReports.get(split.id) ?? [];
    return list.filter((r) => r.start === split.start && r.end === split.end);
  }

  /** The node that last reported leading `split` under its current entry. */
  leaderOf(split: Split): string | undefined {
    return this.currentLeaderReports(split).at(-1)?.node;
  }

  latest(): Array<SplitReport & { node: string }> {
    return [...this.latestByNodeSplit.values()];
  }

  /** Forgets splits and nodes the map no longer has. */
  prune(map: RangeMap): void {
    for (const id of this.leaderReports.keys()) if (!map.split(id)) this.leaderReports.delete(id);
    for (const [key, r] of this.latestByNodeSplit) if (!map.split(r.id) || !map.dc(r.node)) this.latestByNodeSplit.delete(key);
  }
}
