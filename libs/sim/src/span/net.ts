import type { PaxosMessage } from '@synod/paxos';
import type { ClosedTimestamp, CutRequest, SplitMessage, TxnError, TxnReplyBody, TxnRequest } from '@synod/txn';
import type { SimNetwork } from '../network.js';

/** Everything that travels over the span simulation's network. */
export type SpanPayload =
  | { kind: 'paxos'; msg: PaxosMessage }
  | { kind: 'closed'; split: string; closed: ClosedTimestamp }
  /** A 2PC message between split leaders (production's split.2pc), to one replica of `toSplit`. */
  | { kind: 'split2pc'; fromSplit: string; toSplit: string; msg: SplitMessage }
  | { kind: 'txnReq'; split: string; creq: number; req: TxnRequest | CutRequest }
  | { kind: 'txnReply'; creq: number; body?: TxnReplyBody; error?: TxnError }
  | { kind: 'timeReq'; round: number }
  | { kind: 'timeReply'; round: number; earliest: number; latest: number }
  /** A node's beat to another node: the node liveness quiescent groups rely on. */
  | { kind: 'beat' };

export function describeSpanPayload(p: SpanPayload): string {
  switch (p.kind) {
    case 'paxos': {
      const m = p.msg;
      const b = 'ballot' in m ? ` b=${m.ballot.round}.${m.ballot.node}` : '';
      return `${m.group}:${m.type}${b}`;
    }
    case 'beat':
      return 'beat';
    case 'closed':
      return `${p.split}:closed ts=${p.closed.ts} idx=${p.closed.appliedIndex}`;
    case 'split2pc': {
      const m = p.msg;
      return `${p.fromSplit}>${p.toSplit}:2pc ${m.kind} ${m.txn}${m.kind === 'prepared' ? ` ts=${m.ts}` : m.kind === 'decision' ? ` ${m.committed ? `commit@${m.ts}` : 'abort'}` : ''}`;
    }
    case 'txnReq': {
      const r = p.req;
      const what =
        r.kind === 'read' || r.kind === 'commit' || r.kind === 'prepare'
          ? `${r.kind} ${r.txn.id}`
          : r.kind === 'snapshot'
            ? `snapshot ${JSON.stringify(r.mode)}`
            : r.kind === 'cut'
              ? `cut ${r.child} gen ${r.generation} at ${r.atKey ?? '(load median)'}`
              : `${r.kind} ${r.txnId}`;
      return `${p.split}:req#${p.creq} ${what}`;
    }
    case 'txnReply':
      return `reply#${p.creq} ${p.error ? `${p.error.code}` : p.body!.kind === 'committed' ? `committed ts=${p.body!.ts}` : p.body!.kind === 'values' ? `values ts=${p.body!.ts ?? '-'}` : p.body!.kind === 'status' ? `status ${p.body!.state}` : p.body!.kind}`;
    case 'timeReq':
      return `time? #${p.round}`;
    case 'timeReply':
      return `time #${p.round}`;
  }
}

/**
 * The span simulation's network: the simulator's SimNetwork (per-DC-pair latency, loss,
 * duplication, jitter, DC partitions) plus cuts of single nodes (a node isolated from everything,
 * its own DC's clients and time masters included), applied at send and at delivery.
 */
export class SpanNet {
  private readonly isolated = new Set<string>();

  /** `verbose`: label every message fully in the trace (otherwise by kind only, which is cheaper). */
  constructor(
    readonly net: SimNetwork,
    private readonly verbose = false,
  ) {}

  register(addr: string, dc: string, handler: (from: string, payload: SpanPayload) => void): void {
    this.net.register(addr, dc, (from, payload) => {
      if (this.isolated.has(addr) || this.isolated.has(from)) return;
      handler(from, payload as SpanPayload);
    });
  }

  send(from: string, to: string, payload: SpanPayload, label?: string): void {
    if (this.isolated.has(from) || this.isolated.has(to)) return;
    this.net.send(from, to, payload, label ?? (this.verbose ? describeSpanPayload(payload) : payload.kind));
  }

  isolateNode(addr: string): void {
    this.isolated.add(addr);
  }

  healNodes(): void {
    this.isolated.clear();
  }

  get isolatedNodes(): string[] {
    return [...this.isolated].sort();
  }
}
