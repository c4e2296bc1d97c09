import type { NodeHealth, RangeMap } from '@synod/placement';

/**
 * When each node last reported (in memory, local clock). A node is dead once it has been silent
 * for `deadAfterMs`; a node never heard from counts from when this replica started, so a new
 * placement leader does not declare the whole cluster dead at once (docs/placement.md, "Health").
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
    for (const n of map.nodes()) if (nowMs - (this.lastSeenMs.get(n.id) ?? this.startedMs) > this.deadAfterMs) dead.add(n.id);
    return { dead, draining: new Set(draining) };
  }
}
