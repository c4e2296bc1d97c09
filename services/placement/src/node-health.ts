import type { NodeHealth, RangeMap } from '@synod/placement';

/** Three missed reports at the spanservers' default 1 s interval: a node this quiet is late. */
export const LATE_AFTER_MS = 3_000;

/**
 * When each node last reported (in memory, local clock). A node is dead once it has been silent
 * for `deadAfterMs`; a node never heard from counts from when this replica started, so a new
 * placement leader does not declare the whole cluster dead at once (docs/placement.md, "Health").
 * A node silent for LATE_AFTER_MS (or deadAfterMs, if shorter) is late before it is dead.
 */
export class NodeRegistry {
  private readonly lastSeenMs = new Map<string, number>();

  constructor(
    private readonly startedMs: number,
    private readonly deadAfterMs: number,
    private readonly maxNodes = 1000,
  ) {}

  seen(node: string, nowMs: number): void {
    if (this.lastSeenMs.has(node) || this.lastSeenMs.size < this.maxNodes) this.lastSeenMs.set(node, nowMs);
  }

  health(map: RangeMap, draining: readonly string[], nowMs: number): NodeHealth {
    const dead = new Set<string>();
    const late = new Set<string>();
    const lateAfterMs = Math.min(LATE_AFTER_MS, this.deadAfterMs);
    for (const n of map.nodes()) {
      const silentMs = nowMs - (this.lastSeenMs.get(n.id) ?? this.startedMs);
      if (silentMs > this.deadAfterMs) dead.add(n.id);
      else if (silentMs > lateAfterMs) late.add(n.id);
    }
    return { dead, draining: new Set(draining), late };
  }
}
