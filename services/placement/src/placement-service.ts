import { SynodError, type Envelope, type MessageInput } from '@synod/codec';
import type { Logger } from '@synod/config';
import type { Replica } from '@synod/paxos';
import { monotonicMicros, type PaxosHost } from '@synod/paxos-host';
import {
  DEFAULT_EXECUTOR_LIMITS,
  DEFAULT_THRESHOLDS,
  LOG_LIMITS,
  OpExecutor,
  PlacementLog,
  ReportWindow,
  describeOp,
  nextSplitId,
  planPlacement,
  type ExecutorLimits,
  type Op,
  type PlacementCommandInput,
  type PlacementThresholds,
  type RangeMapInput,
} from '@synod/placement';
import { subjects, type Bus } from '@synod/transport';
import { NodeRegistry } from './node-health.js';
import { SplitRequester } from './split-requests.js';

export const PLACEMENT_GROUP = 'placement';
/** Stats entries in one placement.map reply, so that it stays far below the wire's max payload. */
export const MAX_STATS = 2_000;

/**
 * The placement group beats 5x slower than a split's group (50 ms): nothing waits on it per
 * request, its leader acts about once a second, and at split pace its three replicas spent about
 * 85 ms of CPU a second doing nothing else, idle or under load (docs/placement.md, "Timing").
 * Its election timeout is 4 beats, not 10: a fresh cluster has no placement leader until the
 * first timeout (randomized up to twice it) has run, and `synod split` right after `synod up`
 * waits that long.
 */
export const PLACEMENT_HEARTBEAT_MS = 250;
export const PLACEMENT_ELECTION_TIMEOUT_MS = 1_000;

export interface PlacementServiceOptions {
  bus: Bus;
  host: PaxosHost;
  /** Every replica of the placement group (one per DC), including this one. */
  peers: string[];
  /** Seeds the group's log when it has no map yet (the static placement.json shape). */
  initialMap?: RangeMapInput;
  thresholds?: PlacementThresholds;
  executorLimits?: ExecutorLimits;
  planIntervalMs?: number;
  deadAfterMs?: number;
  /** Timeout of one request to a split replica or node. */
  requestTimeoutMs?: number;
  /** How often the leader drives the executor. */
  tickMs?: number;
  /** The placement group's heartbeat interval (default PLACEMENT_HEARTBEAT_MS). */
  heartbeatMs?: number;
  /** The placement group's election timeout (default PLACEMENT_ELECTION_TIMEOUT_MS). */
  electionTimeoutMs?: number;
  snapshotIntervalEntries?: number;
  /** The PaxosHost's clock (lease checks), in µs; also op times, cooldowns and health (ms). */
  clockUs?: () => number;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
}

/**
 * The placement service replica (docs/placement.md): the range map is the state of the
 * 'placement' Paxos group; any replica serves it; the leader plans and executes one op at a
 * time, logging every step through the group so that its successor resumes the op.
 */
export class PlacementService {
  readonly log = new PlacementLog();
  readonly reports = new ReportWindow();
  private replica!: Replica;
  private executor: OpExecutor;
  private readonly requester: SplitRequester;
  private readonly nodes: NodeRegistry;
  private readonly clockUs: () => number;
  private readonly t: PlacementThresholds;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  /** The ballot the executor was made for: a new leadership starts from the log alone. */
  private executorBallot = '';
  /** The ballot whose barrier is applied here: the log the executor reads is complete. */
  private caughtUpBallot = '';
  private lastPlanUs = -Infinity;
  private seq = 0;
  /** Operator ops being logged, by their JSON: a duplicate request waits for the same opId. */
  private readonly pendingAdmin = new Map<string, Promise<string>>();
  private closed = false;

  constructor(private readonly opts: PlacementServiceOptions) {
    this.clockUs = opts.clockUs ?? monotonicMicros;
    this.t = opts.thresholds ?? DEFAULT_THRESHOLDS;
    this.executor = new OpExecutor(opts.executorLimits ?? DEFAULT_EXECUTOR_LIMITS);
    this.requester = new SplitRequester(opts.bus, opts.requestTimeoutMs ?? 2_000);
    this.nodes = new NodeRegistry(this.nowMs(), opts.deadAfterMs ?? 10_000);
  }

  private nowMs(): number {
    return this.clockUs() / 1000;
  }

  async start(): Promise<void> {
    const { bus, host } = this.opts;
    this.replica = await host.addGroup({
      config: {
        group: PLACEMENT_GROUP,
        self: bus.nodeId,
        peers: this.opts.peers,
        heartbeatIntervalUs: (this.opts.heartbeatMs ?? PLACEMENT_HEARTBEAT_MS) * 1000,
        electionTimeoutUs: (this.opts.electionTimeoutMs ?? PLACEMENT_ELECTION_TIMEOUT_MS) * 1000,
        snapshotIntervalEntries: this.opts.snapshotIntervalEntries ?? 1_000,
      },
      apply: (entry) => {
        for (const c of entry.commands) {
          const r = this.log.apply(c.payload);
          if (!r.applied) this.opts.logger?.info({ command: (c.payload as { type?: string })?.type, reason: r.reason }, 'placement command skipped');
        }
        const map = this.log.map();
        if (map) this.reports.prune(map);
      },
      snapshot: () => this.log.exportSnapshot(),
      restore: (data) => this.log.restore(data),
    });
    bus.on('placement.get', (env) => this.onGet(env));
    bus.on('placement.report', (env) => this.onReport(env));
    bus.on('placement.admin', (env) => this.onAdmin(env));
    await bus.serve(subjects(bus.cluster).placement);
    this.timer = setInterval(() => this.tick(), this.opts.tickMs ?? 50);
  }

  private ballot(): string {
    return JSON.stringify(this.replica.ballot());
  }

  isLeader(): boolean {
    return this.replica?.isLeader() ?? false;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
  }

  private onGet(env: Envelope<'placement.get'>) {
    const map = this.log.map();
    if (!map) throw new SynodError('UNAVAILABLE', `${this.opts.bus.nodeId} has no range map yet`);
    if (map.generation < env.body.minGeneration) throw new SynodError('UNAVAILABLE', `${this.opts.bus.nodeId} has generation ${map.generation}, below ${env.body.minGeneration}`, { generation: map.generation });
    const cur = this.log.current();
    return {
      kind: 'placement.map' as const,
      body: { map: map.config, stats: this.reports.latest().slice(0, MAX_STATS), ...(cur ? { op: `${cur.opId}: ${describeOp(cur.op)}`.slice(0, 1024) } : {}) },
    };
  }

  private onReport(env: Envelope<'placement.report'>): void {
    const map = this.log.map();
    // Reports from nodes outside the map are not evidence about any split.
    if (map && !map.dc(env.body.node)) return;
    this.nodes.seen(env.body.node, this.nowMs());
    for (const r of env.body.splits) this.reports.record(env.body.node, r);
  }

  /**
   * Only the leader answers (the request goes to every replica on the placement subject); the
   * others stay silent so that one operator request becomes one logged op.
   */
  private async onAdmin(env: Envelope<'placement.admin'>) {
    if (!this.isLeader()) return;
    const map = this.log.map();
    if (!map) throw new SynodError('UNAVAILABLE', 'no range map yet');
    const req = env.body;
    if (req.op === 'drain') {
      if (!map.dc(req.node)) throw new SynodError('INVALID_ARGUMENT', `unknown node ${req.node}`);
      await this.propose({ type: 'node.drain', node: req.node, draining: true });
      return { kind: 'placement.admin-ok' as const, body: { opId: `drain-${req.node}`, description: `drain ${req.node}: its replicas move off it one at a time` } };
    }
    const op = this.adminOp(req);
    const key = JSON.stringify(op);
    const same = [...this.log.state.queue, ...(this.log.current() ? [this.log.current()!] : [])].find((q) => JSON.stringify(q.op) === key);
    // A retried request, or the same one racing itself, is the same op: one opId, one execution.
    const opId = same?.opId ?? (await (this.pendingAdmin.get(key) ?? this.enqueue(key, op)));
    return { kind: 'placement.admin-ok' as const, body: { opId, description: describeOp(op) } };
  }

  private enqueue(key: string, op: Op): Promise<string> {
    if (this.pendingAdmin.size >= LOG_LIMITS.queuedOps) return Promise.reject(new SynodError('UNAVAILABLE', 'too many operator requests in flight; try again later'));
    const opId = this.newOpId('a');
    const p = this.propose({ type: 'op.enqueue', opId, op })
      .then(() => {
        const s = this.log.state;
        if (!s.queue.some((q) => q.opId === opId) && this.log.current()?.opId !== opId && !s.history.some((h) => h.opId === opId))
          throw new SynodError('UNAVAILABLE', 'the placement op queue is full; try again later');
        return opId;
      })
      .finally(() => this.pendingAdmin.delete(key));
    this.pendingAdmin.set(key, p);
    return p;
  }

  private adminOp(req: Exclude<MessageInput<'placement.admin'>, { op: 'drain' }>): Op {
    const map = this.log.map()!;
    const bad = (m: string) => new SynodError('INVALID_ARGUMENT', m);
    switch (req.op) {
      case 'split': {
        const s = map.splitFor(req.key);
        if (req.key === s.start) throw bad(`${JSON.stringify(req.key)} is already the start of split ${s.id}`);
        return { type: 'cut', split: s.id, child: this.childId(), atKey: req.key, reason: 'operator' };
      }
      case 'move': {
        const s = map.split(req.split);
        if (!s) throw bad(`no split ${req.split}`);
        if (!s.replicas.includes(req.from)) throw bad(`${req.from} is not a voting replica of ${req.split}`);
        if (!map.dc(req.to)) throw bad(`unknown node ${req.to}`);
        if (s.replicas.includes(req.to) || s.learners.includes(req.to)) throw bad(`${req.to} already holds ${req.split}`);
        return { type: 'move', split: s.id, from: req.from, to: req.to, reason: 'operator' };
      }
      case 'lead': {
        const s = map.split(req.split);
        if (!s) throw bad(`no split ${req.split}`);
        if (!s.replicas.some((r) => map.dc(r) === req.dc)) throw bad(`${req.split} has no voting replica in ${req.dc}`);
        return { type: 'lead', split: s.id, dc: req.dc, reason: 'operator' };
      }
    }
  }

  /** A split id no queued or running cut already claims. */
  private childId(): string {
    const claimed = [...this.log.state.queue.map((q) => q.op), ...(this.log.current() ? [this.log.current()!.op] : [])].flatMap((o) => (o.type === 'cut' ? [o.child] : []));
    let id = nextSplitId(this.log.map()!);
    while (claimed.includes(id)) id = `s${Number(id.slice(1)) + 1}`;
    return id;
  }

  private newOpId(prefix: string): string {
    return `${prefix}-${this.opts.bus.nodeId}-${Math.floor(this.clockUs())}-${++this.seq}`;
  }

  private async propose(command: PlacementCommandInput): Promise<void> {
    await this.opts.host.propose(PLACEMENT_GROUP, [{ id: this.newOpId('c'), payload: command }], 5_000);
  }

  private tick(): void {
    if (this.closed || this.busy) return;
    // Without a lease another replica may already lead (and act); leases never overlap.
    if (!this.isLeader() || !this.replica.hasLease(this.clockUs())) return;
    const ballot = this.ballot();
    // A new leadership starts from the log alone: a fresh executor, no attempt counts carried over.
    if (ballot !== this.executorBallot) {
      this.executor = new OpExecutor(this.opts.executorLimits ?? DEFAULT_EXECUTOR_LIMITS);
      this.executorBallot = ballot;
    }
    this.busy = true;
    this.step()
      .catch((err: unknown) => {
        // Anything but a SynodError is a bug or a broken invariant: rethrown, it is an unhandled
        // rejection, which stops the process (fail-stop) instead of leaving it planning on bad state.
        if (!(err instanceof SynodError)) throw err;
        this.opts.logger?.warn({ err: err.message, code: err.code }, 'placement step did not complete; retrying');
      })
      .finally(() => {
        this.busy = false;
      });
  }

  /** One thing at a time: seed, an executor action, the next queued op, or a plan. */
  private async step(): Promise<void> {
    const ballot = this.ballot();
    if (this.caughtUpBallot !== ballot) {
      await this.propose({ type: 'leader.barrier', node: this.opts.bus.nodeId });
      if (this.ballot() === ballot) this.caughtUpBallot = ballot;
      return;
    }
    const map = this.log.map();
    if (!map) {
      if (this.opts.initialMap) await this.propose({ type: 'map.seed', map: this.opts.initialMap });
      return;
    }
    const nowUs = Math.floor(this.clockUs());
    const cur = this.log.current();
    if (cur) {
      const action = this.executor.next(cur, map, nowUs);
      if (action.type === 'wait') return;
      if (action.type === 'propose') return this.propose(action.command);
      this.opts.logger?.info({ opId: cur.opId, step: action.step, kind: action.request.kind }, 'placement step');
      const result = await this.requester.send(action);
      if (this.closed || !this.isLeader() || this.ballot() !== ballot) return;
      const next = this.executor.onResult(cur, map, action, result, Math.floor(this.clockUs()));
      if (next) await this.propose(next.command);
      return;
    }
    const queued = this.log.state.queue[0];
    if (queued) return this.propose({ type: 'op.begin', opId: queued.opId, op: queued.op, at: nowUs });
    if (nowUs - this.lastPlanUs < (this.opts.planIntervalMs ?? 1_000) * 1000) return;
    this.lastPlanUs = nowUs;
    const health = this.nodes.health(map, this.log.state.draining, this.nowMs());
    const op = planPlacement(map, this.reports, health, this.t, { nowUs, lastChangedAt: this.log.state.lastChangedAt });
    if (!op) return;
    this.opts.logger?.info({ op: describeOp(op) }, 'placement planned an op');
    await this.propose({ type: 'op.begin', opId: this.newOpId('p'), op, at: nowUs });
  }
}
