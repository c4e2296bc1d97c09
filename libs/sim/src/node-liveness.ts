import type { PeerLiveness } from '@synod/paxos';

/**
 * A simulated node's view of which other nodes are live (docs/paxos.md, "Quiescent groups"): when
 * it last heard anything from each, on its own clock. Memory only: a crash clears it.
 */
export class NodeLiveness implements PeerLiveness {
  private readonly heard = new Map<string, number>();

  constructor(
    /** Only these count (clients and time masters send too). */
    private readonly nodes: readonly string[],
    private readonly liveForUs: number,
  ) {}

  heardFrom(node: string, nowUs: number): void {
    if (this.nodes.includes(node)) this.heard.set(node, nowUs);
  }

  isLive(node: string, nowUs: number): boolean {
    const at = this.heard.get(node);
    return at !== undefined && nowUs - at < this.liveForUs;
  }

  clear(): void {
    this.heard.clear();
  }
}
