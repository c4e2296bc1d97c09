import type { ReplicaConfig } from '@synod/paxos';
import type { CutRequest, TxnError, TxnReplyBody } from '@synod/txn';
import type { Prng } from '../prng.js';
import type { Scheduler } from '../scheduler.js';
import type { SpanNet, SpanPayload } from './net.js';
import type { SpanNode } from './node.js';
import { inRange, type RangeMap } from './placement-map.js';

export type PlacementOp = 'cut' | 'move' | 'transfer';

export interface PlacementDriverOptions {
  /** Between two operations of the fault phase. */
  gapUs: [number, number];
  weights: Record<PlacementOp, number>;
  /** No cut past this many splits. */
  maxSplits: number;
  /** Probability that a cut names no key (the leader's load median, rule 19). */
  loadMedianProb: number;
  requestTimeoutUs: number;
  /** How long a leader may park the cut request. */
  cutWaitUs: number;
  /** How often a move looks at its group's membership again. */
  pollUs: number;
  /**
   * 'immediate' (the default): Replica.transferLeadership at once; the Paxos core drains the
   * lease before it hands over (docs/paxos.md, "Learners and leader transfer"), which is what
   * made it safe (docs/placement-sim.md, finding 1). 'quiesced': the leader's core is also told
   * it holds no lease for `quiesceUs` before the hand-over (the workaround before that fix).
   */
  transfer: 'quiesced' | 'immediate';
  /** At least the lease (plus drift): closed timestamps reach at most one lease past true time. */
  quiesceUs: number;
  /**
   * After this many refusals in a row of a cut by one leader as busy with 2PC work, its leadership
   * is handed to another voter (0, the default: never). A leader used to refuse forever:
   * docs/placement-sim.md, finding 2 (fixed in the txn core).
   */
  handOverAfterRefusals: number;
}

export const DEFAULT_PLACEMENT_DRIVER: PlacementDriverOptions = {
  gapUs: [200_000, 500_000],
  weights: { cut: 3, move: 2, transfer: 2 },
  maxSplits: 9,
  loadMedianProb: 0.3,
  requestTimeoutUs: 600_000,
  cutWaitUs: 400_000,
  pollUs: 30_000,
  transfer: 'immediate',
  quiesceUs: 0,
  handOverAfterRefusals: 0,
};

export interface PlacementCounts {
  cuts: number;
  moves: number;
  transfers: number;
  /** Cut requests answered other than with the cut (retried). */
  cutRetries: number;
  /** Membership changes the leader queued. */
  reconfigurations: number;
}

type Answer = { ok: true; body: TxnReplyBody } | { ok: false; error?: TxnError };

/**
 * A simulated placement service (issue 14; docs/placement-sim.md), driven by the scheduler: during
 * the fault phase it cuts splits, moves a replica of a split to another node of the same DC and
 * transfers leaderships (cuts and moves one at a time), and keeps the range map. A cut is the core's
 * `split.cut` request sent to the split's leader over the simulated network (retried on
 * NOT_LEADER, UNAVAILABLE and silence with the same child id and generation: it is idempotent), and
 * the map changes only once the core answered it. A move hosts the split on the new node (an empty
 * replica), has the leader add it as a learner, promote it and remove the old voter in one change
 * (retried while 'busy' or 'behind'), and once that configuration governs and the old replica has
 * applied as far as the leader, the old node drops its replica. Moves and transfers act on the
 * nodes directly (an RPC to a node the driver knows is up). Operations started in the fault phase
 * finish after it.
 */
export class PlacementDriver {
  readonly counts: PlacementCounts = { cuts: 0, moves: 0, transfers: 0, cutRetries: 0, reconfigurations: 0 };
  /** The operation under way (one at a time, so the map's replicas are a group's voters when a cut applies). */
  current: string | null = null;
  private creq = 0;
  private nextChild: number;
  private nextNoop = 0;
  /** A quiesced hand-over of this split is waiting for the old leader's lease to pass. */
  private readonly handingOver = new Set<string>();
  private readonly pending = new Map<number, (a: Answer) => void>();

  constructor(
    readonly addr: string,
    dc: string,
    private readonly map: RangeMap,
    private readonly nodes: readonly SpanNode[],
    /** A group's Paxos configuration for a replica on `self` with slot-0 peers `peers`. */
    private readonly configFor: (split: string, self: string, peers: string[]) => ReplicaConfig,
    /** The slot after the last cut `split` applied (0: none): a removed voter must have applied that far (it hosts the child from that write). */
    private readonly cutSlotEnd: (split: string) => number,
    /** The workload's keys, sorted: cut keys are drawn from them (so cuts fall between accounts, registers and lists). */
    private readonly keys: readonly string[],
    private readonly sched: Scheduler,
    private readonly net: SpanNet,
    private readonly rng: Prng,
    private readonly o: PlacementDriverOptions,
    private readonly trace: (line: string) => void,
  ) {
    this.nextChild = map.entries().length;
    net.register(addr, dc, (_from, p) => this.receive(p));
  }

  get busy(): boolean {
    return this.current !== null;
  }

  start(faultPhaseUs: number): void {
    const step = (): void => {
      if (this.sched.nowUs >= faultPhaseUs) return;
      // Cuts and moves go one at a time (a cut's child takes the parent's voters from the map); a
      // leader transfer changes no map entry and may come in between.
      const op = this.pickOp();
      if (op === 'transfer' || !this.current) this.act(op);
      this.sched.after(this.rng.range(...this.o.gapUs), step);
    };
    this.sched.after(this.rng.range(...this.o.gapUs), step);
  }

  private pickOp(): PlacementOp {
    const ops = (Object.entries(this.o.weights) as Array<[PlacementOp, number]>).filter(([, w]) => w > 0);
    let x = this.rng.next() * ops.reduce((s, [, w]) => s + w, 0);
    for (const [op, w] of ops) {
      if (x < w) return op;
      x -= w;
    }
    return ops[0]![0];
  }

  private act(op: PlacementOp): void {
    if (op === 'cut') return this.startCut();
    if (op === 'move') return this.startMove();
    return this.transfer();
  }

  private finish(what: string): void {
    this.trace(`placement ${what}`);
    this.current = null;
  }

  private leaderOf(split: string): SpanNode | undefined {
    return this.nodes.find((n) => n.up && n.isLeaderOf(split));
  }

  private node(id: string): SpanNode {
    return this.nodes.find((n) => n.id === id)!;
  }

  // ------------------------------------------------------------------ cuts

  private startCut(): void {
    const entries = this.map.entries();
    if (entries.length >= this.o.maxSplits) return;
    const candidates = entries.filter((e) => this.keys.some((k) => inRange(k, e) && k > e.start));
    if (candidates.length === 0) return;
    const e = this.rng.pick(candidates);
    const inside = this.keys.filter((k) => inRange(k, e) && k > e.start);
    const atKey = this.rng.chance(this.o.loadMedianProb) ? undefined : this.rng.pick(inside);
    const child = `s${this.nextChild++}`;
    const req: CutRequest = { kind: 'cut', child, generation: this.map.version + 1, atKey, waitUs: this.o.cutWaitUs };
    this.current = `cut ${e.split} -> ${child}`;
    this.trace(`placement cut ${e.split} into ${child} at ${atKey === undefined ? '(load median)' : JSON.stringify(atKey)} generation ${req.generation}`);
    this.sendCut(e.split, req, this.rng.pick(e.replicas), inside);
  }

  /**
   * Sends the cut until the core answers it. A refusal of the load median (none inside the range)
   * is retried with a key: an earlier attempt may still apply under the same child id, and then
   * the answer says where it cut.
   */
  private sendCut(split: string, req: CutRequest, node: string, keys: readonly string[], refusals = new Map<string, number>()): void {
    this.request(split, node, req, (a) => {
      if (a.ok && a.body.kind === 'cut') {
        this.map.cut(split, a.body.child, a.body.atKey, a.body.generation);
        this.counts.cuts++;
        return this.finish(`cut ${split} into ${a.body.child} at ${JSON.stringify(a.body.atKey)} ts ${a.body.cutTs}`);
      }
      this.counts.cutRetries++;
      const error = a.ok ? undefined : a.error;
      const hint = error?.hint?.leader;
      const replicas = this.map.get(split)!.replicas;
      const next = typeof hint === 'string' && replicas.includes(hint) ? hint : this.rng.pick(replicas);
      const retry = error?.code === 'INVALID_ARGUMENT' && req.atKey === undefined ? { ...req, atKey: this.rng.pick(keys) } : req;
      this.trace(`placement cut of ${split} at ${node}: ${error ? `${error.code} ${error.message}` : a.ok ? a.body.kind : 'no answer'}; retry at ${next}`);
      // A leader that keeps refusing the cut as busy with 2PC work hands over (finding 2: it may hold a stale record forever).
      if (error?.code === 'UNAVAILABLE' && error.message.includes('cannot be cut now')) {
        const busy = (refusals.get(node) ?? 0) + 1;
        refusals.set(node, busy);
        const leader = this.nodes.find((n) => n.id === node);
        if (this.o.handOverAfterRefusals > 0 && busy >= this.o.handOverAfterRefusals && leader?.isLeaderOf(split)) {
          refusals.delete(node);
          const others = leader.membership(split)!.peers.filter((p) => p !== node);
          this.trace(`placement ${node} refused the cut of ${split} ${busy} times: ${this.handOver(leader, split, this.rng.pick(others))}`);
        }
      }
      this.sched.after(next === hint ? 0 : this.rng.range(10_000, 50_000), () => this.sendCut(split, retry, next, keys, refusals));
    });
  }

  private request(split: string, node: string, req: CutRequest, cb: (a: Answer) => void): void {
    const creq = ++this.creq;
    this.pending.set(creq, cb);
    this.net.send(this.addr, node, { kind: 'txnReq', split, creq, req });
    this.sched.after(this.o.requestTimeoutUs, () => {
      const waiting = this.pending.get(creq);
      if (!waiting) return;
      this.pending.delete(creq);
      waiting({ ok: false });
    });
  }

  private receive(p: SpanPayload): void {
    if (p.kind !== 'txnReply') return;
    const cb = this.pending.get(p.creq);
    if (!cb) return;
    this.pending.delete(p.creq);
    cb(p.error ? { ok: false, error: p.error } : { ok: true, body: p.body! });
  }

  // ------------------------------------------------------------------ moves

  /**
   * Moves a replica of a root split (its log holds every version of its keys, so a new replica
   * catches up by log: the span scenario never compacts) from a voter to another node of its DC.
   */
  private startMove(): void {
    const options: Array<{ split: string; from: string; to: string }> = [];
    for (const e of this.map.entries()) {
      if (!e.root) continue;
      for (const from of e.replicas) {
        const dc = this.node(from).dc;
        // Not back to a node of the group's slot-0 configuration: its new, empty replica would start
        // out as a voter of that configuration (production's catch-up by snapshot carries the current one).
        for (const n of this.nodes)
          if (n.dc === dc && !e.replicas.includes(n.id) && !e.initialPeers.includes(n.id) && !n.onDisk().includes(e.split)) options.push({ split: e.split, from, to: n.id });
      }
    }
    if (options.length === 0) return;
    const m = this.rng.pick(options);
    this.current = `move ${m.split} ${m.from} -> ${m.to}`;
    this.trace(`placement ${this.current}`);
    this.moveStep(m.split, m.from, m.to);
  }

  private moveStep(split: string, from: string, to: string): void {
    const again = (): void => void this.sched.after(this.o.pollUs, () => this.moveStep(split, from, to));
    const e = this.map.get(split)!;
    const target = this.node(to);
    if (!target.onDisk().includes(split)) {
      if (!target.up) return again();
      target.host({ id: split, start: e.initialStart, end: e.initialEnd }, this.configFor(split, to, e.initialPeers));
    }
    const final = [...e.replicas.filter((r) => r !== from), to];
    const leader = this.leaderOf(split);
    if (!leader) return again();
    const m = leader.membership(split)!;
    if (sameSet(m.peers, final) && (m.learners ?? []).length === 0) {
      this.map.setReplicas(split, final);
      this.trace(`placement ${split} replicas ${final.join(',')}`);
      return this.dropWhenCaughtUp(split, from, this.cutSlotEnd(split));
    }
    let status: string;
    const old = this.node(from);
    if ((m.learners ?? []).includes(to)) {
      // A leader about to be removed hands over first.
      if (leader.id === from) status = `transfer ${this.handOver(leader, split, this.rng.pick(m.peers.filter((p) => p !== from)))}`;
      // Removed, the old voter hears nothing more of the group: it must hold the split's last
      // cut (and so its children) before, or it never does and is never dropped (seed 148).
      else if (old.onDisk().includes(split) && (!old.up || old.durableApplied(split) < this.cutSlotEnd(split))) status = 'waiting';
      else status = leader.reconfigure(split, { peers: final });
    } else if (!m.peers.includes(to)) status = leader.reconfigure(split, { peers: m.peers, learners: [to] });
    else status = 'waiting';
    if (status === 'queued') this.counts.reconfigurations++;
    // A configuration chosen at slot i governs from i + window: a quiet group needs entries.
    if (status === 'busy' || status === 'queued') leader.nudge(split, `placement-noop-${++this.nextNoop}`);
    again();
  }

  /**
   * The old voter drops its replica once it is up and has durably applied the split's last cut
   * (no cut runs during a move): by then it hosts every child a cut gave it (a child is hosted
   * from the cut entry's durable write). Removed, it hears nothing more of the group.
   */
  private dropWhenCaughtUp(split: string, from: string, upTo: number): void {
    const old = this.node(from);
    if (!old.onDisk().includes(split)) return this.finishMove(split, from);
    if (!old.up || old.durableApplied(split) < upTo) return void this.sched.after(this.o.pollUs, () => this.dropWhenCaughtUp(split, from, upTo));
    old.drop(split);
    this.finishMove(split, from);
  }

  private finishMove(split: string, from: string): void {
    this.counts.moves++;
    this.finish(`moved ${split} off ${from}`);
  }

  // ------------------------------------------------------------------ leader transfers

  private transfer(): void {
    const led = this.map.entries().filter((e) => this.leaderOf(e.split));
    if (led.length === 0) return;
    const e = this.rng.pick(led);
    const leader = this.leaderOf(e.split)!;
    const to = this.rng.pick(leader.membership(e.split)!.peers.filter((p) => p !== leader.id));
    const status = this.handOver(leader, e.split, to);
    this.trace(`placement transfer ${e.split} ${leader.id} -> ${to}: ${status}`);
  }

  /** Hands `split`'s leadership from `leader` to `to`, at once or after quiescing its core (options.transfer). */
  private handOver(leader: SpanNode, split: string, to: string): string {
    if (this.handingOver.has(split)) return 'quiescing';
    const go = (): string => {
      const status = leader.transferLeadership(split, to);
      if (status === 'started') this.counts.transfers++;
      return status;
    };
    if (this.o.transfer === 'immediate') return go();
    leader.quiesce(split, this.o.quiesceUs + 200_000);
    this.handingOver.add(split);
    const inc = leader.incarnation;
    this.sched.after(this.o.quiesceUs, () => {
      this.handingOver.delete(split);
      if (leader.up && leader.incarnation === inc && leader.isLeaderOf(split)) this.trace(`placement transfer ${split} ${leader.id} -> ${to} after quiescing: ${go()}`);
    });
    return 'quiescing';
  }
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}
