import type { SynodClient } from '@synod/client';
import { SynodError, type MessageBody } from '@synod/codec';
import type { z } from 'zod';
import type { clusterResponse } from './schemas.js';

type NodeStatus = MessageBody<'node.status.reply'>;
const STATUS_TIMEOUT_MS = 1_000;

/** Most split ids /readyz lists as leaderless. */
const MAX_LISTED_SPLITS = 32;
/**
 * A replica whose t_safe is further behind its clock than this hears no live leader: closed
 * timestamps reach every replica of a led split every few tens of ms, also when idle
 * (docs/transactions.md, rule 11), while a replica cut off from the majority may still name the
 * leader it last heard of.
 */
export const LEADERLESS_TSAFE_LAG_US = 5_000_000;

/**
 * What the gateway knows of its reach to the cluster, for /readyz (docs/gateway.md, "Health"):
 * the time of the last call the cluster answered, and whether the last spanserver that answered
 * the probe heard a live leader for each of its splits (one it names, whose closed timestamps
 * keep its t_safe within LEADERLESS_TSAFE_LAG_US of its clock). Handlers report their successes, and a probe
 * asks a spanserver for its status every `probeEveryMs` while the gateway is otherwise idle.
 *
 * A gateway cut off with a minority of the DCs still gets answers from its own DC (bounded-
 * staleness reads succeed there), but nothing commits: its DC's spanservers then hear no live
 * leader, and the gateway is not ready until a probe answer shows every split led again, so a
 * load balancer sends requests to gateways that can commit.
 */
export class ClusterReach {
  private lastOkAt: number | undefined;
  private leaderless: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private next = 0;

  constructor(
    private readonly client: SynodClient,
    readonly readyWindowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  ok(): void {
    this.lastOkAt = this.now();
  }

  /** Ready when the cluster answered within the last `readyWindowMs` and the last probe answer had a leader for every split. */
  readiness(): { ready: boolean; lastClusterOkAgoMs: number | null; leaderlessSplits: string[] } {
    const ago = this.lastOkAt === undefined ? null : this.now() - this.lastOkAt;
    return { ready: ago !== null && ago <= this.readyWindowMs && this.leaderless.length === 0, lastClusterOkAgoMs: ago, leaderlessSplits: this.leaderless };
  }

  /** Asks one spanserver (in turn) for its status; no answer leaves everything as it was. */
  async probe(): Promise<void> {
    const nodes = this.client.rangeMap.nodes();
    const node = nodes[this.next++ % nodes.length]!;
    try {
      const r = await this.client.bus.request(node.id, 'node.status', {}, { timeoutMs: STATUS_TIMEOUT_MS });
      const status = r.body as NodeStatus;
      this.leaderless = status.groups.filter((g) => !g.leader || status.tt.latest - g.tSafe > LEADERLESS_TSAFE_LAG_US).map((g) => g.id).slice(0, MAX_LISTED_SPLITS);
      if (this.leaderless.length === 0) this.ok();
    } catch (err) {
      // Not ready is the report; anything but a cluster error is a bug and must surface.
      if (!(err instanceof SynodError)) throw err;
    }
  }

  start(probeEveryMs: number, onError: (err: unknown) => void): void {
    const again = () => {
      if (!this.stopped) this.timer = setTimeout(tick, probeEveryMs);
    };
    const tick = () => {
      this.probe().then(again, (err) => {
        onError(err);
        again();
      });
    };
    tick();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}

/** Every spanserver's status (unreachable ones as down) and the range map with the leader each split's replicas report. */
export async function clusterStatus(client: SynodClient): Promise<z.infer<typeof clusterResponse>> {
  const nodes = client.rangeMap.nodes();
  const rows = await Promise.all(
    nodes.map(async (n): Promise<{ node: string; dc: string; status?: NodeStatus; error?: string }> => {
      try {
        const r = await client.bus.request(n.id, 'node.status', {}, { timeoutMs: STATUS_TIMEOUT_MS });
        return { node: n.id, dc: n.dc, status: r.body as NodeStatus };
      } catch (err) {
        if (!(err instanceof SynodError)) throw err;
        return { node: n.id, dc: n.dc, error: `${err.code}: ${err.message}` };
      }
    }),
  );
  const leaderOf = (split: string) => rows.find((r) => r.status?.groups.some((g) => g.id === split && g.isLeader))?.node ?? null;
  return {
    nodes: rows.map((r) => ({
      node: r.node,
      dc: r.dc,
      up: r.status !== undefined,
      ...(r.error !== undefined ? { error: r.error } : {}),
      ...(r.status ? { epsilonUs: r.status.tt.epsilonUs, serving: r.status.tt.serving } : {}),
      groups: (r.status?.groups ?? []).map((g) => ({ id: g.id, isLeader: g.isLeader, leader: g.leader, appliedUpTo: g.appliedUpTo, tSafe: g.tSafe })),
    })),
    splits: client.rangeMap.all().map((s) => ({ id: s.id, start: s.start, end: s.end, replicas: [...s.replicas], leader: leaderOf(s.id) })),
  };
}
