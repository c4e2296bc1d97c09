/**
 * Timestamp rules of one split (DESIGN §7), kept pure so the simulator and tests can drive them.
 *
 * The split's log is totally ordered by commit timestamp: an entry whose timestamp is not above
 * every timestamp applied before it is refused at apply time, by every replica alike. That makes
 * "everything at or below the highest applied timestamp is applied here" true on every replica,
 * which is exactly t_paxos_safe, and it keeps a deposed leader's late entry from slipping a write
 * under a timestamp that readers have already been served at.
 */
export class TimestampOracle {
  private floor = 0;

  /** A fresh commit (or closed) timestamp: after `nowLatest` (TT.now().latest) and after anything handed out or seen. */
  assign(nowLatest: number): number {
    const ts = Math.max(Math.ceil(nowLatest) + 1, this.floor + 1);
    this.floor = ts;
    return ts;
  }

  /** Everything handed out or observed so far is at or below this. */
  get floorTs(): number {
    return this.floor;
  }

  /** Raises the floor to `ts`: applied entries and closed timestamps from earlier leaders. */
  observe(ts: number): void {
    if (ts > this.floor) this.floor = ts;
  }
}

/** The apply-time rule: a commit applies only above every timestamp already applied. */
export const commitApplies = (maxAppliedTs: number, ts: number) => ts > maxAppliedTs;

/**
 * Which timestamp a lock-free read runs at (DESIGN §7): a snapshot read's own, a bounded-stale
 * read's newest already-safe timestamp within the bound, or a strong read's now.latest.
 * `needsWait` is true when the replica must wait for t_safe to reach the returned timestamp.
 */
export function readTimestamp(req: { ts?: number | undefined; maxStalenessUs?: number | undefined }, now: { earliest: number; latest: number }, tSafe: number): { ts: number; needsWait: boolean } {
  if (req.ts !== undefined) return { ts: req.ts, needsWait: req.ts > tSafe };
  if (req.maxStalenessUs !== undefined) {
    const oldestAllowed = Math.floor(now.latest - req.maxStalenessUs);
    return tSafe >= oldestAllowed ? { ts: Math.min(tSafe, Math.floor(now.latest)), needsWait: false } : { ts: oldestAllowed, needsWait: true };
  }
  const ts = Math.ceil(now.latest);
  return { ts, needsWait: ts > tSafe };
}
