import { appliedRecordOf, InvariantViolation, ReadyPipeline, Replica, type AppliedRecord, type ApplyEntry, type Command, type Membership, type PeerProgress, type Ready, type ReplicaConfig } from '@synod/paxos';
import { MemoryMvccStore } from '@synod/storage/memory-mvcc';
import { SplitTxnCore, type ChildInit, type CoreLimits, type CoreNow, type CutRequest, type DecidedOutcome, type LeadershipView, type SplitHeader, type TxnBroken, type TxnOutput, type TxnRequest } from '@synod/txn';
import { DurableStore } from '../disk.js';
import { NodeLiveness } from '../node-liveness.js';
import type { Prng } from '../prng.js';
import type { Scheduler } from '../scheduler.js';
import type { SpanNet, SpanPayload } from './net.js';
import type { SpanRecorder } from './recorder.js';
import { NodeClock, NodeTime, type TimeSyncTiming } from './time.js';

export interface SplitSpec {
  id: string;
  start: string;
  end: string;
}

export interface SpanNodeOptions {
  tickUs: number;
  fsyncMinUs: number;
  fsyncMaxUs: number;
  maxDriftPpm: number;
  maxBootErrorUs: number;
  time: TimeSyncTiming;
  coreLimits: Partial<CoreLimits>;
  broken: TxnBroken;
  /** As production: while TrueTime does not serve, the node's replicas do not tick (leases lapse). */
  pauseWhenNotServing: boolean;
  /** How often a serving node raises its persisted time high-water mark. */
  timeMarkEveryUs: number;
  /** Splits whose replicas on this node do not tick before this virtual time (a test choosing leaders). */
  holdTicksUntil?: Record<string, number> | undefined;
  /**
   * The placement scenario (docs/placement-sim.md): the nodes a 2PC message for a split goes to
   * (default: the split's configured peers), and whether a request for a split this node does not
   * host is answered UNAVAILABLE (default: dropped, as the span scenario never asks one).
   */
  peersOf?: ((split: string) => readonly string[]) | undefined;
  answerUnhosted?: boolean | undefined;
  /** Deliberately broken shell (teeth of childStartsComplete): the child is hosted when the cut applies, before the parent's applies are durable. */
  hostChildAtApply?: boolean | undefined;
  /** Quiescent groups (docs/paxos.md): beat to every other node this often (0 or unset: no beats, no liveness). */
  beatEveryUs?: number | undefined;
  /** A node heard from within this (own clock) is live. */
  liveForUs?: number | undefined;
  /** Every node id: only these count for liveness and get beats. */
  nodes?: readonly string[] | undefined;
}

/** What one split has on one node's disk: the Paxos acceptor state and the applied state. */
interface SplitDisk {
  paxos: DurableStore;
  appliedIndex: number;
  /**
   * `appliedRecordOf` of every entry below appliedIndex, written with it, as the spanserver's
   * PaxosHost persists them: a restarted replica resumes at the applied index knowing the
   * configurations it applied (without them, replicas that all restarted after a move knew
   * only the membership they were hosted with, and none could campaign: placement seed 111).
   */
  appliedRecords: AppliedRecord[];
  header: SplitHeader;
  outcomes: Map<string, DecidedOutcome>;
  /** The range the split's core starts from (its log's cuts shrink it), and the group's configuration at slot 0. */
  spec: SplitSpec;
  config: ReplicaConfig;
  /** A child made by a cut (docs/transactions.md rule 22): its generation and T_cut, which floors its core. */
  child?: { generation: number; cutTs: number } | undefined;
  /** The range as of the last durable apply (rules 20 and 22): what this replica may serve. */
  range: { start: string; end: string };
}

/** What one split has in one node incarnation's memory (lost at a crash). */
interface SplitLive {
  spec: SplitSpec;
  replica: Replica;
  pipeline: ReadyPipeline;
  core: SplitTxnCore;
  /** Core request id -> the client request it answers (and the keys it names, for the served-range check). */
  reqs: Map<number, { client: string; creq: number; keys: readonly string[] }>;
  nextReq: number;
  /** Entries below this were applied durably before the last crash: the core resumed past them. */
  skipBelow: number;
  /** Before a leader transfer (placement): until this monotonic instant the core is told it holds no lease. */
  quiescedUntilMono: number;
  /** The range this replica has applied (shrunk at the cut's apply): served keys must lie in it. */
  range: { start: string; end: string };
  wakeAtMono: number | null;
  /** A pump is scheduled for the requests given to the core with `deferPump` (owePump). */
  pumpQueued: boolean;
}

const MIN_WAKE_GAP_US = 500;
const MAX_DRAIN_ROUNDS = 50;

/**
 * A simulated spanserver of the span scenario: per split the real Paxos Replica driven through
 * the shared ReadyPipeline, a SplitTxnCore, and one MVCC store and one disk for the node.
 *
 * The shell does what production's will (services/spanserver): a client request goes to
 * `core.request`; the core's outputs are carried out ('propose' through the replica, 'reply' and
 * 'error' to the client, 'closed' to the split's other replicas); every applied entry goes to
 * `core.apply`, whose write (versions, header, outcomes, applied index) is queued on the node's
 * disk behind the Paxos persists, and once durable the versions become visible and the core hears
 * `durable`. `setLeadership` comes before every input. A crash loses memory, timers and the disk
 * queue; a restart rebuilds the replica from its durable Paxos state and the core from the durable
 * header, outcomes and applied index.
 *
 * One deviation: the restarted replica is not handed its applied records, so it re-learns the log
 * from its durable accepts and peers and can serve catch-up below its applied index (production
 * compacts at start-up for that); entries below the durable applied index are not applied again.
 */
export class SpanNode {
  up = true;
  incarnation = 0;
  readonly clock: NodeClock;
  /** The node's MVCC store: durable versions only (an apply's versions are put when its disk write completes). */
  readonly mvcc = new MemoryMvccStore();
  time!: NodeTime;
  private readonly disks = new Map<string, SplitDisk>();
  private readonly live = new Map<string, SplitLive>();
  /** The disk's two write queues (each completes in order): Paxos state, and applied entries. */
  private readonly diskFreeAtUs = { paxos: 0, apply: 0 };
  /**
   * Disk stall fault: this fraction of the writes of the named queues takes `delayUs` longer (and
   * every write queued behind it). 'apply': the applied entries only (the replica keeps voting).
   */
  stall: { prob: number; delayUs: number; queues: 'apply' | 'both' } | null = null;
  private timeMark = 0;
  /** split -> virtual time before which its replica here does not tick (tests choosing leaders). */
  private readonly heldTicks = new Map<string, number>();
  leaderships = 0;
  crashes = 0;
  quietLeaderTicks = 0;
  /** The liveness every replica here gets (docs/paxos.md, "Quiescent groups"). */
  private readonly liveness: NodeLiveness;
  stalledWrites = 0;
  /** Told of every proposal this node's replicas queued (the nemesis times faults by them). */
  onProposed: ((split: string, payloads: readonly unknown[]) => void) | null = null;

  constructor(
    readonly id: string,
    readonly dc: string,
    private readonly splits: readonly SplitSpec[],
    private readonly replicaConfig: (split: string) => ReplicaConfig,
    private readonly masters: () => readonly string[],
    private readonly sched: Scheduler,
    private readonly net: SpanNet,
    private readonly rng: Prng,
    private readonly rec: SpanRecorder,
    private readonly o: SpanNodeOptions,
    private readonly trace: (line: string) => void,
  ) {
    this.liveness = new NodeLiveness(o.nodes ?? [], o.liveForUs ?? 0);
    this.clock = new NodeClock(rng.fork('clock'), o.maxDriftPpm, sched, o.maxBootErrorUs);
    for (const [split, until] of Object.entries(o.holdTicksUntil ?? {})) this.heldTicks.set(split, until);
    for (const s of splits) this.disks.set(s.id, this.emptyDisk(s, replicaConfig(s.id)));
    net.register(id, dc, (from, p) => this.receive(from, p));
    this.boot();
  }

  // ------------------------------------------------------------------ queries

  core(split: string): SplitTxnCore | undefined {
    return this.live.get(split)?.core;
  }

  replica(split: string): Replica | undefined {
    return this.live.get(split)?.replica;
  }

  isLeaderOf(split: string): boolean {
    return this.live.get(split)?.replica.isLeader() === true;
  }

  /** The splits this node hosts now (a crashed node: none). */
  hosted(): string[] {
    return [...this.live.keys()];
  }

  /** The splits this node has a disk record of (hosted, or hosted again at restart). */
  onDisk(): string[] {
    return [...this.disks.keys()];
  }

  /** The applied index of `split` that is durable here (0: none). */
  durableApplied(split: string): number {
    return this.disks.get(split)?.appliedIndex ?? 0;
  }

  /** The membership the replica of `split` here knows for the next slot. */
  membership(split: string): Membership | undefined {
    return this.live.get(split)?.replica.membership();
  }

  /** At the leader of `split`: how far each replication target is (Replica.progress). */
  progress(split: string): PeerProgress[] {
    return this.live.get(split)?.replica.progress() ?? [];
  }

  isLeaderOfAny(): boolean {
    for (const l of this.live.values()) if (l.replica.isLeader()) return true;
    return false;
  }

  coreNow(): CoreNow {
    return this.time.coreNow();
  }

  /** The replica of `split` here does not tick (so it does not campaign) before `untilUs`: scripted scenarios choose leaders with it. */
  holdTicks(split: string, untilUs: number): void {
    this.heldTicks.set(split, untilUs);
  }

  // ------------------------------------------------------------------ placement (docs/placement-sim.md)

  /**
   * Hosts `spec.id` as a new replica with an empty disk (a learner the leader is about to add):
   * its replica starts from the group's slot-0 configuration `config` and learns the rest (cuts,
   * configuration changes) from the log by catch-up; its core starts from the range at slot 0.
   */
  host(spec: SplitSpec, config: ReplicaConfig): void {
    if (this.disks.has(spec.id)) return;
    this.disks.set(spec.id, this.emptyDisk(spec, { ...config, self: this.id }));
    if (this.up) this.bootSplit(spec.id, this.incarnation, this.clock.monoNow());
  }

  /** No longer a replica of `split` (removed from its group): memory and disk record go. */
  drop(split: string): void {
    this.live.delete(split);
    this.disks.delete(split);
    this.trace(`${this.id}/${split} dropped`);
  }

  /** The leader of `split` here proposes a membership change (Replica.reconfigure); its status, or 'absent'. */
  reconfigure(split: string, change: { peers: string[]; learners?: string[] }): string {
    const l = this.live.get(split);
    if (!l || !this.up) return 'absent';
    const ready = l.pipeline.run(() => l.replica.reconfigure(change, this.clock.monoNow()));
    return this.adminStatus(ready, 'reconfigureResult');
  }

  /**
   * For `forUs` of this node's monotonic clock the core of `split` is told its replica holds no
   * lease, so it closes no timestamp, serves no lease read and commits nothing: once the closed
   * timestamps it issued before are past, a leader transfer cannot put a successor's commits
   * below them (see docs/placement-sim.md, the leader-transfer finding). Lost at a crash.
   */
  quiesce(split: string, forUs: number): void {
    const l = this.live.get(split);
    if (!l || !this.up) return;
    l.quiescedUntilMono = this.clock.monoNow() + forUs;
    this.trace(`${this.id}/${split} quiesced for ${forUs}us`);
  }

  /** The leader of `split` here hands its leadership to `to` (Replica.transferLeadership); its status, or 'absent'. */
  transferLeadership(split: string, to: string): string {
    const l = this.live.get(split);
    if (!l || !this.up) return 'absent';
    const ready = l.pipeline.run(() => l.replica.transferLeadership(to, this.clock.monoNow()));
    return this.adminStatus(ready, 'transferResult');
  }

  /**
   * Proposes an empty command at the leader of `split` (the core ignores it): a configuration
   * chosen at slot i governs from i + window, so a quiet group needs entries for it to take effect.
   */
  nudge(split: string, id: string): void {
    const l = this.live.get(split);
    if (!l || !this.up || !l.replica.isLeader()) return;
    l.pipeline.run(() => l.replica.propose([{ id, payload: { t: 'noop' } }], this.clock.monoNow()));
  }

  private adminStatus(ready: Ready | undefined, field: 'reconfigureResult' | 'transferResult'): string {
    const status = ready?.[field]?.status ?? 'stopped';
    this.trace(`${this.id} ${field} ${status}`);
    return status;
  }

  private emptyDisk(spec: SplitSpec, config: ReplicaConfig): SplitDisk {
    return { paxos: new DurableStore(), appliedIndex: 0, appliedRecords: [], header: { maxAppliedTs: 0, lastCommitTs: 0 }, outcomes: new Map(), spec, config, range: { start: spec.start, end: spec.end } };
  }

  // ------------------------------------------------------------------ faults

  crash(): void {
    if (!this.up) return;
    this.up = false;
    this.incarnation++; // orphans every pending disk completion, timer and sync round
    this.crashes++;
    this.live.clear();
    this.liveness.clear();
    this.diskFreeAtUs.paxos = 0;
    this.diskFreeAtUs.apply = 0;
    this.trace(`crash ${this.id}`);
  }

  restart(): void {
    if (this.up) return;
    this.up = true;
    this.incarnation++;
    this.trace(`restart ${this.id}`);
    this.boot();
  }

  private boot(): void {
    const inc = this.incarnation;
    this.time = new NodeTime(this.id, this.clock, this.sched, this.net, this.masters, this.o.time, () => this.up && inc === this.incarnation, this.rng.fork(`time#${inc}`), (out) =>
      this.trace(`${this.id} sync ${out.ok ? 'ok' : out.failure} eps=${Math.round(out.epsilonAfterUs)}${out.rejected.length ? ` rejected=${out.rejected.join(',')}` : ''}`),
    );
    this.time.start();
    const mono = this.clock.monoNow();
    for (const split of this.disks.keys()) this.bootSplit(split, inc, mono);
    this.sched.after(this.rng.int(this.o.tickUs), () => this.tickLoop(inc));
    this.sched.after(this.o.timeMarkEveryUs, () => this.raiseTimeMark(inc));
    if (this.o.beatEveryUs) this.sched.after(this.rng.int(this.o.beatEveryUs), () => this.beatLoop(inc));
  }

  /** One beat to every other node per interval (production's transport sends one when nothing else went to a peer). */
  private beatLoop(inc: number): void {
    if (!this.alive(inc)) return;
    for (const node of this.o.nodes ?? []) if (node !== this.id) this.net.send(this.id, node, { kind: 'beat' });
    this.sched.after(this.o.beatEveryUs!, () => this.beatLoop(inc));
  }

  /** Builds the replica and core of `split` from its disk record (at boot, or when it starts being hosted here). */
  private bootSplit(split: string, inc: number, mono: number): void {
    const disk = this.disks.get(split)!;
    const { spec, child } = disk;
    const applied = { upTo: disk.appliedIndex, records: disk.appliedRecords };
    const replica = new Replica(disk.config, this.rng.fork(`${spec.id}#${inc}`), { durable: disk.paxos.snapshotState(), nowUs: mono, applied, ...(this.o.beatEveryUs ? { liveness: this.liveness } : {}) });
    // A child resumes from the header its cut wrote, at applied index 0 (rule 22).
    const resume = disk.appliedIndex > 0 || child ? { header: { ...disk.header }, appliedIndex: disk.appliedIndex, outcomes: [...disk.outcomes] } : undefined;
    const floor = Math.max(this.timeMark, child?.cutTs ?? 0);
    const core = new SplitTxnCore({
      splitId: spec.id,
      range: { start: spec.start, end: spec.end },
      ...(child ? { generation: child.generation } : {}),
      self: this.id,
      reader: this.mvcc,
      commandPrefix: `${this.id}#${inc}`,
      resume,
      floorTs: floor > 0 ? floor : undefined,
      limits: this.o.coreLimits,
      broken: this.o.broken,
    });
    const l: SplitLive = { spec, replica, pipeline: undefined as unknown as ReadyPipeline, core, reqs: new Map(), nextReq: 0, skipBelow: disk.appliedIndex, wakeAtMono: null, range: { ...disk.range }, quiescedUntilMono: 0, pumpQueued: false };
    l.pipeline = this.newPipeline(spec.id, inc);
    this.live.set(spec.id, l);
    this.rec.forgetTSafe(this.id, spec.id);
  }

  // ------------------------------------------------------------------ the loop

  private alive(inc: number): boolean {
    return this.up && inc === this.incarnation;
  }

  private tickLoop(inc: number): void {
    if (!this.alive(inc)) return;
    const serving = this.coreNow().serving;
    for (const [split, l] of this.live) {
      const held = this.heldTicks.get(split);
      const paused = (this.o.pauseWhenNotServing && !serving) || (held !== undefined && this.sched.nowUs < held);
      if (!paused) l.pipeline.run(() => l.replica.tick(this.clock.monoNow()));
      if (!this.alive(inc)) return;
      if (l.replica.isLeader() && l.replica.isQuiet()) this.quietLeaderTicks++;
      this.input(split, (core, now) => core.tick(now));
    }
    this.sched.after(this.o.tickUs, () => this.tickLoop(inc));
  }

  /** Persisted time high-water mark (production raises it once a second while serving). */
  private raiseTimeMark(inc: number): void {
    if (!this.alive(inc)) return;
    if (this.time.tt.isServing()) {
      let mark = Math.ceil(this.time.tt.now().latest);
      for (const l of this.live.values()) mark = Math.max(mark, l.core.issuedFloor());
      this.diskWrite(inc, 'paxos', () => {
        this.timeMark = Math.max(this.timeMark, mark);
      });
    }
    this.sched.after(this.o.timeMarkEveryUs, () => this.raiseTimeMark(inc));
  }

  private receive(from: string, p: SpanPayload): void {
    if (!this.up) return;
    this.liveness.heardFrom(from, this.clock.monoNow());
    switch (p.kind) {
      case 'paxos': {
        const l = this.live.get(p.msg.group);
        if (l && p.msg.from === from) l.pipeline.run(() => l.replica.step(p.msg, this.clock.monoNow()));
        return;
      }
      case 'closed':
        return this.input(p.split, (core, now) => core.closedReceived(p.closed, now));
      case 'split2pc':
        // Every replica of the target split hears it; only its leader acts (the core decides).
        return this.input(p.toSplit, (core, now) => core.splitMessage(p.fromSplit, p.msg, now));
      case 'txnReq': {
        const l = this.live.get(p.split);
        if (!l) {
          if (this.o.answerUnhosted) this.net.send(this.id, from, { kind: 'txnReply', creq: p.creq, error: { code: 'UNAVAILABLE', message: `${this.id} does not host ${p.split}` } });
          return;
        }
        // A client needs this split: activity, and a quiet replica wakes (docs/paxos.md, "Quiescent groups").
        const mono = this.clock.monoNow();
        l.replica.touch(mono);
        if (l.replica.isQuiet()) l.pipeline.run(() => l.replica.wake(mono));
        if (!this.live.has(p.split)) return;
        this.input(p.split, (core, now) => {
          const id = ++l.nextReq;
          l.reqs.set(id, { client: from, creq: p.creq, keys: requestKeys(p.req) });
          core.request(id, p.req as TxnRequest | CutRequest, now, true);
        });
        this.owePump(l);
        return;
      }
      case 'timeReply':
        return this.time.onReply(from, p.round, p.earliest, p.latest);
      default:
        return;
    }
  }

  /**
   * As production's shell does (services/spanserver split-shell.ts, owePump): requests reach the
   * core with `deferPump`, and the pass over the parked requests they owe runs once, in an event
   * at the same instant, after whatever else was already due then (more requests among it).
   */
  private owePump(l: SplitLive): void {
    if (l.pumpQueued) return;
    l.pumpQueued = true;
    const inc = this.incarnation;
    this.sched.after(0, () => {
      l.pumpQueued = false;
      if (!this.alive(inc) || this.live.get(l.spec.id) !== l) return;
      this.input(l.spec.id, (core, now) => core.pumpOwed(now));
    });
  }

  private view(l: SplitLive, mono: number): LeadershipView {
    const r = l.replica;
    // A leader handing over refuses proposals (not_leader, hinting the target): the core must not lead meanwhile.
    const target = r.transferTarget();
    if (target !== null) return { leading: null, leaderHint: target, leaseEndMonoUs: null, localReadOk: false };
    if (mono < l.quiescedUntilMono) return { leading: r.isLeader() ? r.ballot() : null, leaderHint: r.leaderHint(), leaseEndMonoUs: null, localReadOk: false };
    return { leading: r.isLeader() ? r.ballot() : null, leaderHint: r.leaderHint(), leaseEndMonoUs: r.leaseValidUntil(mono), localReadOk: r.canServeLocalRead(mono) };
  }

  /** One input into a split's core: leadership first, then the input, then its outputs. */
  private input(split: string, fn: (core: SplitTxnCore, now: CoreNow) => void): void {
    const l = this.live.get(split);
    if (!l) return;
    const inc = this.incarnation;
    const now = this.coreNow();
    l.core.setLeadership(this.view(l, now.monoUs), now);
    fn(l.core, now);
    this.drain(l, inc);
    if (this.alive(inc) && this.live.get(split) === l) this.afterInput(l, inc);
  }

  private afterInput(l: SplitLive, inc: number): void {
    this.rec.recordTSafe(this.id, l.spec.id, l.core.tSafe);
    const now = this.coreNow();
    const w = l.core.nextWakeMonoUs(now);
    if (w === null) return;
    const at = Math.max(w, now.monoUs + MIN_WAKE_GAP_US);
    if (l.wakeAtMono !== null && l.wakeAtMono <= at) return;
    l.wakeAtMono = at;
    this.sched.at(this.clock.schedAtMono(at), () => {
      if (!this.alive(inc) || this.live.get(l.spec.id) !== l || l.wakeAtMono !== at) return;
      l.wakeAtMono = null;
      this.input(l.spec.id, (core, n) => core.tick(n));
    });
  }

  /** Carries out the core's outputs (which may produce more: a rejected proposal). */
  private drain(l: SplitLive, inc: number): void {
    for (let round = 0; round < MAX_DRAIN_ROUNDS; round++) {
      if (!this.alive(inc)) return;
      const outs = l.core.takeOutputs();
      if (outs.length === 0) return;
      for (const o of outs) this.carryOut(l, o);
    }
    this.rec.fail('shell', `${this.id}/${l.spec.id}: the core kept producing outputs for ${MAX_DRAIN_ROUNDS} rounds`);
  }

  private carryOut(l: SplitLive, o: TxnOutput): void {
    switch (o.type) {
      case 'propose': {
        const ids = o.commands.map((c) => c.id);
        const mono = this.clock.monoNow();
        if (!l.replica.isLeader()) {
          l.core.proposalRejected(ids, this.coreNow());
          return;
        }
        const ballot = l.replica.ballot();
        for (const id of ids) this.rec.recordProposal(l.spec.id, id, ballot);
        const ready = l.pipeline.run(() => l.replica.propose(o.commands as Command[], mono));
        const rejected: string[] = [];
        if (!ready) rejected.push(...ids);
        for (const r of ready?.proposalResults ?? []) if (r.status !== 'queued' && r.status !== 'already_applied') rejected.push(...r.ids);
        if (rejected.length > 0) l.core.proposalRejected(rejected, this.coreNow());
        this.trace(`${this.id}/${l.spec.id} propose ${o.commands.map((c) => `${c.id}=${describeCommand(c.payload)}`).join(' ')}${rejected.length ? ' REJECTED' : ''}`);
        if (rejected.length === 0) this.onProposed?.(l.spec.id, o.commands.map((c) => c.payload));
        return;
      }
      case 'reply':
      case 'error': {
        const to = l.reqs.get(o.reqId);
        if (!to) return;
        l.reqs.delete(o.reqId);
        if (o.type === 'reply' && o.body.kind === 'values') this.checkServedInRange(l, to.keys);
        const payload: SpanPayload = o.type === 'reply' ? { kind: 'txnReply', creq: to.creq, body: o.body } : { kind: 'txnReply', creq: to.creq, error: o.error };
        this.net.send(this.id, to.client, payload);
        return;
      }
      case 'closed': {
        for (const peer of l.replica.membership().peers) if (peer !== this.id) this.net.send(this.id, peer, { kind: 'closed', split: l.spec.id, closed: o.closed });
        return;
      }
      case 'send': {
        // As production's split.2pc: to every replica of the target split (this node's too, over
        // the network), since only its leader acts and this node cannot know who leads it.
        for (const node of this.o.peersOf?.(o.toSplit) ?? this.replicaConfig(o.toSplit).peers) this.net.send(this.id, node, { kind: 'split2pc', fromSplit: l.spec.id, toSplit: o.toSplit, msg: o.msg });
        return;
      }
    }
  }

  // ------------------------------------------------------------------ Paxos shell

  private newPipeline(split: string, inc: number): ReadyPipeline {
    return new ReadyPipeline({
      persist: (persist, done) =>
        this.diskWrite(inc, 'paxos', () => {
          // A replica dropped meanwhile (placement) writes nothing more.
          const disk = this.disks.get(split);
          if (!disk) return;
          disk.paxos.write(persist);
          done();
        }),
      send: (messages) => {
        for (const m of messages) this.net.send(this.id, m.to, { kind: 'paxos', msg: m.msg });
      },
      deliverLocal: (messages) => {
        const l = this.live.get(split);
        if (l === undefined || inc !== this.incarnation) return;
        for (const msg of messages) l.pipeline.run(() => l.replica.step(msg, this.clock.monoNow()));
      },
      installSnapshot: () => {
        this.rec.fail('shell', `${this.id}/${split}: a snapshot install, but the span scenario never compacts`);
      },
      apply: (e) => this.apply(split, inc, e),
      settle: () => undefined,
      leadership: (c) => {
        if (c.isLeader) this.leaderships++;
        this.trace(`${this.id}/${split} leadership leader=${c.isLeader} hint=${c.leaderHint} b=${c.ballot.round}.${c.ballot.node}`);
      },
      fatal: (err) => {
        if (!(err instanceof InvariantViolation)) throw err;
        this.rec.fail(`replica assertion: ${err.invariant}`, `${this.id}/${split}: ${err.message}`);
        this.sched.after(0, () => this.crash());
      },
    });
  }

  private apply(split: string, inc: number, e: ApplyEntry): void {
    const l = this.live.get(split);
    if (!l || !this.alive(inc) || e.slot < l.skipBelow) return;
    const now = this.coreNow();
    l.core.setLeadership(this.view(l, now.monoUs), now);
    const commands = e.value.kind === 'batch' ? e.commands.map((c) => ({ id: c.id, payload: c.payload })) : [];
    const w = l.core.apply({ slot: e.slot, commands, duplicates: e.duplicates }, now);
    this.rec.recordApply(this.id, split, e.slot, w, commands);
    // The cut shrinks what this replica serves at once (rule 20); the child is hosted once the entry is durable.
    if (w.child) l.range = { start: l.range.start, end: w.child.range.start };
    const child = w.child && l.replica.membershipAt(e.slot).peers.includes(this.id) ? this.childDisk(l, w.child, e.slot) : undefined;
    if (child && this.o.hostChildAtApply && !this.disks.has(child.spec.id)) {
      this.disks.set(child.spec.id, child);
      this.bootSplit(child.spec.id, inc, this.clock.monoNow());
    }
    this.trace(`${this.id}/${split} apply ${e.slot} ${commands.map((c) => `${c.id}=${describeCommand(c.payload)}`).join(' ') || e.value.kind}${e.duplicates.length ? ` dup=${e.duplicates.join(',')}` : ''} -> ${w.outcomes.map(([t, o]) => `${t}:${o.committed ? `committed@${o.ts}` : 'aborted'}`).join(' ')}`);
    this.drain(l, inc);
    const upTo = e.slot + 1;
    const record = appliedRecordOf(e);
    this.diskWrite(inc, 'apply', () => {
      const disk = this.disks.get(split);
      if (!disk || this.live.get(split) !== l) return;
      this.mvcc.put(w.versions);
      disk.appliedIndex = upTo;
      disk.appliedRecords.push(record);
      disk.header = { ...w.header };
      for (const [txn, o] of w.outcomes) disk.outcomes.set(txn, o);
      for (const txn of w.forgotten) disk.outcomes.delete(txn);
      if (w.versions.length > 0) this.rec.recordVisible(this.id, split, new Set(w.versions.map((v) => v.ts)));
      if (w.child) disk.range = { start: disk.range.start, end: w.child.range.start };
      if (child && !this.disks.has(child.spec.id)) {
        // Written with the cut entry: the child's disk record exists from this write on (restarts host it).
        this.disks.set(child.spec.id, child);
        this.bootSplit(child.spec.id, inc, this.clock.monoNow());
        this.trace(`${this.id}/${child.spec.id} hosted (cut from ${split} at ${JSON.stringify(child.spec.start)}, peers ${child.config.peers.join(',')})`);
      }
      this.input(split, (core, n) => core.durable(upTo, n));
    });
    if (this.alive(inc) && this.live.get(split) === l) this.afterInput(l, inc);
  }

  /**
   * The child's disk record (rule 22): its range, the cut's generation and T_cut, the header at
   * applied index 0, and a new Paxos group on the parent's voters at the cut's slot (the same on
   * every replica: the configuration governing a slot is in the log).
   */
  private childDisk(l: SplitLive, c: ChildInit, slot: number): SplitDisk {
    const spec: SplitSpec = { id: c.splitId, start: c.range.start, end: c.range.end };
    const config: ReplicaConfig = { ...this.disks.get(l.spec.id)!.config, group: c.splitId, peers: [...l.replica.membershipAt(slot).peers] };
    return { paxos: new DurableStore(), appliedIndex: 0, appliedRecords: [], header: { ...c.header }, outcomes: new Map(), spec, config, child: { generation: c.generation, cutTs: c.cutTs }, range: { ...c.range } };
  }

  /** A replica serves values only for keys inside the range it has applied (rules 20 and 22); the placement scenario's servedInRange. */
  private checkServedInRange(l: SplitLive, keys: readonly string[]): void {
    const { start, end } = l.range;
    const out = keys.find((k) => k < start || (end !== '' && k >= end));
    if (out !== undefined) this.rec.fail('servedInRange', `${this.id}/${l.spec.id} served ${out}, outside its applied range [${JSON.stringify(start)}, ${JSON.stringify(end)})`);
  }

  /**
   * The node's disk: the writes of each queue complete in order after a simulated fsync; a crash
   * loses what is queued. Applied entries have their own queue (an apply write that stalls holds
   * back later applies, not the replica's votes), as a store with its own commit chain would.
   */
  private diskWrite(inc: number, queue: 'paxos' | 'apply', work: () => void): void {
    let delay = this.rng.range(this.o.fsyncMinUs, this.o.fsyncMaxUs);
    if (this.stall && (queue === 'apply' || this.stall.queues === 'both') && this.rng.chance(this.stall.prob)) {
      delay += this.stall.delayUs;
      this.stalledWrites++;
    }
    const doneAt = Math.max(this.sched.nowUs, this.diskFreeAtUs[queue]) + delay;
    this.diskFreeAtUs[queue] = doneAt;
    this.sched.at(doneAt, () => {
      if (this.alive(inc)) work();
    });
  }
}

function describeCommand(p: unknown): string {
  const c = p as { t?: string; ts?: number; txn?: string };
  if (c.t === 'commit') {
    const parts = (p as { participants?: string[] }).participants;
    return `commit(${c.txn}@${c.ts}${parts?.length ? ` +${parts.join('+')}` : ''})`;
  }
  if (c.t === 'closed') return `closed(${c.ts})`;
  if (c.t === 'cut') return `cut(${(p as { child?: string }).child}@${c.ts})`;
  if (c.t === 'abort') return `abort(${c.txn})`;
  if (c.t === 'prepare') return `prepare(${c.txn}@${c.ts})`;
  if (c.t === 'decide') {
    const d = p as { committed?: boolean };
    return `decide(${c.txn}:${d.committed ? `commit@${c.ts}` : 'abort'})`;
  }
  return '?';
}

/** The keys a request names (what a 'values' answer serves). */
function requestKeys(req: unknown): readonly string[] {
  const r = req as { kind?: string; keys?: string[] };
  return r.kind === 'read' || r.kind === 'snapshot' ? (r.keys ?? []) : [];
}
