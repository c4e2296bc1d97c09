import { COMMIT_LATENCY_BOUNDS_MS } from '@synod/codec';

/** What node.status reports under `commits` (libs/codec kv-messages.ts). */
export interface CommitFigures {
  count: number;
  latencyUsSum: number;
  commitWaitUsSum: number;
  latencyBuckets: number[];
}

/**
 * Cumulative figures of the commits this process acknowledged as a split leader, for node.status:
 * the Prometheus histograms hold the same facts, but only behind an HTTP port a reader on the bus
 * may not know (the gateway's live picture reads them from node.status, docs/picture.md).
 */
export class CommitTally {
  private count = 0;
  private latencyUsSum = 0;
  private commitWaitUsSum = 0;
  private readonly buckets = new Array<number>(COMMIT_LATENCY_BOUNDS_MS.length + 1).fill(0);

  record(latencyUs: number, commitWaitUs: number): void {
    const latency = Math.max(0, Math.round(latencyUs));
    this.count++;
    this.latencyUsSum += latency;
    this.commitWaitUsSum += Math.max(0, Math.round(commitWaitUs));
    const ms = latency / 1000;
    const i = COMMIT_LATENCY_BOUNDS_MS.findIndex((b) => ms <= b);
    this.buckets[i < 0 ? COMMIT_LATENCY_BOUNDS_MS.length : i]!++;
  }

  figures(): CommitFigures {
    return { count: this.count, latencyUsSum: this.latencyUsSum, commitWaitUsSum: this.commitWaitUsSum, latencyBuckets: [...this.buckets] };
  }
}
