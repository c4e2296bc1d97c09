import {
  InvariantViolation,
  ReadyPipeline,
  Replica,
  type ApplyEntry,
  type PersistRequest,
  type Ready,
  type ReplicaConfig,
} from '@synod/paxos';
import type { History } from './checkers.js';
import { DriftingClock } from './clock.js';
import { DurableStore } from './disk.js';
import { NodeLiveness } from './node-liveness.js';
import { describePayload, type SimPayload } from './messages.js';
import type { SimNetwork } from './network.js';
import type { Prng } from './prng.js';
import type { Scheduler } from './scheduler.js';
import { SimStateMachine } from './state-machine.js';

export interface NodeTiming {
  tickUs: number;
  fsyncMinUs: number;
  fsyncMaxUs: number;
  /** Start ticking at a random phase (false: every node ticks in lockstep). */
  tickPhaseJitter: boolean;
  /** Bound on this node's clock-rate error (ppm); 0: the node's clock is true time. */
  maxDriftPpm: number;
  /** Quiescent groups: beat to every other node this often (0: no beats, no liveness). */
  beatEveryUs?: number;
  /** A node heard from within this (own clock) is live. */
  liveForUs?: number;
  /** Every node id: only these count for liveness. */
  peers?: readonly string[];
}

interface PendingRead {
  client: string;
  id: string;
  key: string;
  atIndex: number;
}

/**
 * A simulated spanserver: one replica per group, one disk, one tick timer.
 *
 * It is a shell of DESIGN §3 running the same ReadyPipeline as production's PaxosHost: a
 * Ready's persist goes to a disk queue that completes after a simulated fsync, and only then
 * are the Ready's messages sent and its entries applied. Disk writes complete in order (group
 * commit). A crash loses the disk queue and every timer; a restart rebuilds replicas from what
 * was synced. A broken invariant stops the node (fail-stop) and fails the run.
 */
export class SimNode {
  up = true;
  incarnation = 0;
  private readonly replicas = new Map<string, Replica>();
  private readonly stores = new Map<string, DurableStore>();
  private readonly sms = new Map<string, SimStateMachine>();
  private readonly pendingReads = new Map<string, PendingRead[]>();
  readonly clock: DriftingClock;
  private diskFreeAtUs = 0;
  /** Until then every fsync takes `diskExtraUs` more (the nemesis's slow disk; survives a crash: it is the hardware). */
  private diskSlowUntilUs = 0;
  private diskExtraUs = 0;
  /** One Ready pipeline per group, rebuilt at every boot. */
  private readonly pipelines = new Map<string, ReadyPipeline>();
  /** command id -> client address awaiting its application here. */
  private readonly waiting = new Map<string, string>();
  /** The liveness every replica here gets (docs/paxos.md, "Quiescent groups"). */
  private readonly liveness: NodeLiveness;
  quietLeaderTicks = 0;

  constructor(
    readonly id: string,
    readonly dc: string,
    private readonly groupConfigs: Map<string, ReplicaConfig>,
    private readonly sched: Scheduler,
    private readonly net: SimNetwork,
    private readonly rng: Prng,
    private readonly history: History,
    private readonly timing: NodeTiming,
    private readonly trace: (line: string) => void,
  ) {
    for (const g of groupConfigs.keys()) this.stores.set(g, new DurableStore());
    this.liveness = new NodeLiveness(timing.peers ?? [], timing.liveForUs ?? 0);
    this.clock = new DriftingClock(rng.fork('clock'), timing.maxDriftPpm);
    net.register(id, dc, (from, payload) => this.receive(from, payload as SimPayload));
    this.boot();
  }

  replica(group: string): Replica | undefined {
    return this.replicas.get(group);
  }

  /** Asks this node's replica of `group` (if it leads) to change the membership. */
  reconfigure(group: string, change: { peers: string[]; learners?: string[]; q1: number; q2: number }): string {
    const r = this.replicas.get(group);
    if (!r || !this.up) return 'down';
    const ready = this.guard(group, () => r.reconfigure(change, this.localNow));
    return ready?.reconfigureResult?.status ?? 'failed';
  }

  /** Asks this node's replica of `group` (if it leads) to hand leadership to `to`. */
  transferLeadership(group: string, to: string): string {
    const r = this.replicas.get(group);
    if (!r || !this.up) return 'down';
    const ready = this.guard(group, () => r.transferLeadership(to, this.localNow));
    return ready?.transferResult?.status ?? 'failed';
  }

  /** This node's own clock: the only time its replicas ever see. */
  get localNow(): number {
    return this.clock.local(this.sched.nowUs);
  }

  stateMachine(group: string): SimStateMachine | undefined {
    return this.sms.get(group);
  }

  store(group: string): DurableStore {
    return this.stores.get(group)!;
  }

  isLeaderOfAny(): boolean {
    for (const r of this.replicas.values()) if (r.isLeader()) return true;
    return false;
  }

  crash(): void {
    if (!this.up) return;
    this.up = false;
    this.incarnation++; // orphans every pending disk completion and timer
    this.replicas.clear();
    this.sms.clear();
    this.pendingReads.clear();
    this.waiting.clear();
    this.pipelines.clear();
    this.liveness.clear();
    this.diskFreeAtUs = 0;
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
    for (const [group, config] of this.groupConfigs) {
      const durable = this.stores.get(group)!.snapshotState();
      const rng = this.rng.fork(`${group}#${inc}`);
      this.replicas.set(group, new Replica(config, rng, { durable, nowUs: this.localNow, ...(this.timing.beatEveryUs ? { liveness: this.liveness } : {}) }));
      this.pipelines.set(group, this.newPipeline(group, config));
      // Restart = snapshot + tail: the state machine comes back from the snapshot, the
      // replica re-applies the log after it.
      const snap = durable.snapshot;
      const sm = snap ? SimStateMachine.restore(snap.data, snap.upTo) : new SimStateMachine();
      this.sms.set(group, sm);
      this.history.startIncarnation(group, this.id, inc, sm.upTo);
      if (snap) this.history.recordState(group, `${this.id}#${inc} restored`, sm.upTo, sm.hash);
    }
    const phase = this.timing.tickPhaseJitter ? this.rng.int(this.timing.tickUs) : 0;
    this.sched.after(phase, () => this.tickLoop(inc));
    if (this.timing.beatEveryUs) this.sched.after(phase, () => this.beatLoop(inc));
  }

  private tickLoop(inc: number): void {
    if (inc !== this.incarnation) return;
    for (const [group, r] of this.replicas) {
      this.guard(group, () => r.tick(this.localNow));
      if (r.isLeader() && r.isQuiet()) this.quietLeaderTicks++;
    }
    this.sched.after(this.timing.tickUs, () => this.tickLoop(inc));
  }

  /** One beat to every other node per interval, as production's transport sends when it has nothing else for a peer. */
  private beatLoop(inc: number): void {
    if (inc !== this.incarnation) return;
    const beat: SimPayload = { kind: 'beat' };
    for (const peer of this.timing.peers ?? []) if (peer !== this.id) this.net.send(this.id, peer, beat, describePayload(beat));
    this.sched.after(this.timing.beatEveryUs!, () => this.beatLoop(inc));
  }

  private receive(from: string, p: SimPayload): void {
    if (!this.up) return;
    this.liveness.heardFrom(from, this.localNow);
    if (p.kind === 'paxos') {
      const r = this.replicas.get(p.msg.group);
      if (r) this.guard(p.msg.group, () => r.step(p.msg, this.localNow));
    } else if (p.kind === 'read') {
      this.onRead(from, p.group, p.id, p.key);
    } else if (p.kind === 'propose') {
      const r = this.replicas.get(p.group);
      if (!r) return;
      this.waiting.set(p.cmd.id, from);
      this.guard(p.group, () => r.propose([p.cmd], this.localNow));
    }
  }

  /**
   * A lease read: served from the local state machine, without a round trip, if the
   * replica holds a lease; it sees the state at the replica's applied index at this
   * instant (waiting for the applies still queued behind the disk).
   */
  private onRead(client: string, group: string, id: string, key: string): void {
    const r = this.replicas.get(group);
    const sm = this.sms.get(group);
    if (!r || !sm) return;
    const now = this.localNow;
    this.sampleLease(group, r);
    // A client needs this group: it counts as activity, and a quiet replica wakes (its lease comes back).
    r.touch(now);
    if (r.isQuiet()) this.guard(group, () => r.wake(now));
    if (!r.canServeLocalRead(now)) {
      this.readReply(client, id, false, 0, r.leaderHint());
      return;
    }
    const atIndex = r.appliedUpTo();
    this.trace(`${this.id}/${group} lease-read ${id} ${key} at ${atIndex}`);
    if (sm.upTo >= atIndex) this.readReply(client, id, true, sm.read(key), this.id);
    else {
      let list = this.pendingReads.get(group);
      if (!list) this.pendingReads.set(group, (list = []));
      list.push({ client, id, key, atIndex });
    }
  }

  private readReply(to: string, id: string, ok: boolean, value: number, leaderHint: string | null): void {
    const payload: SimPayload = { kind: 'readReply', id, ok, value, leaderHint };
    this.net.send(this.id, to, payload, describePayload(payload));
  }

  /** Tells the lease checker, in true time, about a lease this replica may act on now. */
  private sampleLease(group: string, r: Replica): void {
    const until = r.leaseValidUntil(this.localNow);
    if (until !== null) this.history.recordLease(group, this.id, this.sched.nowUs, this.clock.trueOf(until));
  }

  /** Runs one replica call through the group's Ready pipeline. */
  private guard(group: string, call: () => Ready): Ready | undefined {
    const pipeline = this.pipelines.get(group);
    if (!pipeline) return undefined;
    const ready = pipeline.run(call);
    const r = this.replicas.get(group);
    if (ready && r) this.sampleLease(group, r);
    return ready;
  }

  private newPipeline(group: string, config: ReplicaConfig): ReadyPipeline {
    const inc = this.incarnation;
    return new ReadyPipeline(
      {
        persist: (persist, done) => this.persist(group, inc, persist, done),
        send: (messages) => {
          for (const o of messages) {
            if (o.msg.type === 'timeoutNow') this.history.handOffs++;
            const payload: SimPayload = { kind: 'paxos', msg: o.msg };
            this.net.send(this.id, o.to, payload, describePayload(payload));
          }
        },
        deliverLocal: (messages) => {
          const r = this.replicas.get(group);
          if (r === undefined || inc !== this.incarnation) return;
          for (const msg of messages) this.guard(group, () => r.step(msg, this.localNow));
        },
        installSnapshot: ({ upTo, data }) => {
          const sm = SimStateMachine.restore(data, upTo);
          this.sms.set(group, sm);
          this.trace(`${this.id}/${group} install-snapshot ${upTo}`);
          this.history.recordInstall(group, this.id, this.incarnation, upTo, sm.hash);
        },
        apply: (e) => this.apply(group, e),
        settle: (results) => {
          for (const res of results) {
            if (res.status === 'queued' || res.status === 'forwarded') continue;
            for (const id of res.ids) {
              const client = this.waiting.get(id);
              if (client === undefined) continue;
              this.waiting.delete(id);
              this.reply(client, id, res.status === 'already_applied', res.leaderHint);
            }
          }
        },
        leadership: (l) => this.trace(`${this.id}/${group} leadership leader=${l.isLeader} hint=${l.leaderHint} b=${l.ballot.round}.${l.ballot.node}`),
        fatal: (err) => {
          // Fail-stop, as in production: the node stops; the run fails. Anything but a broken
          // invariant is a bug of the simulator itself and surfaces as a thrown error.
          if (!(err instanceof InvariantViolation)) throw err;
          this.history.fail(`replica assertion: ${err.invariant}`, `${this.id}/${group}: ${err.message}`);
          this.sched.after(0, () => this.crash());
        },
      },
      { ackBeforePersist: config.brokenForTesting?.ackBeforePersist === true },
    );
  }

  /** From now until `untilUs` every fsync of this node takes `extraUs` longer. */
  slowDisk(untilUs: number, extraUs: number): void {
    this.diskSlowUntilUs = untilUs;
    this.diskExtraUs = extraUs;
    this.trace(`slow-disk ${this.id} +${extraUs}us until ${untilUs}`);
  }

  /** The simulated disk: writes complete in order after a random fsync time; a crash loses what is queued. */
  private persist(group: string, inc: number, persist: PersistRequest, done: () => void): void {
    const extra = this.sched.nowUs < this.diskSlowUntilUs ? this.diskExtraUs : 0;
    const doneAt = Math.max(this.sched.nowUs, this.diskFreeAtUs) + this.rng.range(this.timing.fsyncMinUs, this.timing.fsyncMaxUs) + extra;
    this.diskFreeAtUs = doneAt;
    this.sched.at(doneAt, () => {
      if (inc !== this.incarnation) return; // crashed before the fsync completed
      this.stores.get(group)!.write(persist);
      for (const e of persist.accepted ?? []) this.history.recordDurableAccept(group, this.id, e.slot, e.ballot, e.value);
      this.trace(`${this.id}/${group} synced promised=${persist.promised ? `${persist.promised.round}.${persist.promised.node}` : '-'} accepted=${(persist.accepted ?? []).map((e) => e.slot).join(',')}${persist.snapshot ? ` snapshot=${persist.snapshot.upTo}` : ''}`);
      done();
    });
  }

  private apply(group: string, e: ApplyEntry): void {
    const v = e.value;
    this.trace(`${this.id}/${group} apply ${e.slot} ${v.kind === 'batch' ? v.cmds.map((c) => c.id).join(',') : v.kind === 'config' ? `config ${v.peers.join(',')}${v.learners?.length ? ` learners=${v.learners.join(',')}` : ''} q=${v.q1}/${v.q2}` : 'noop'}${e.duplicates.length ? ` dup=${e.duplicates.join(',')}` : ''}`);
    this.history.recordApply(group, this.id, this.incarnation, e);
    const sm = this.sms.get(group);
    if (sm) {
      sm.apply(e);
      this.history.recordState(group, `${this.id}#${this.incarnation}`, sm.upTo, sm.hash);
      const reads = this.pendingReads.get(group);
      if (reads && reads.length > 0) {
        const ready = reads.filter((rd) => rd.atIndex <= sm.upTo);
        this.pendingReads.set(group, reads.filter((rd) => rd.atIndex > sm.upTo));
        for (const rd of ready) this.readReply(rd.client, rd.id, true, sm.read(rd.key), this.id);
      }
      if (e.takeSnapshot) {
        // Captured now, at exactly slot + 1; handed to the replica outside this release
        // so the Ready it returns queues behind the ones being released.
        const data = sm.export();
        const inc = this.incarnation;
        this.sched.after(0, () => {
          const r = this.replicas.get(group);
          if (inc === this.incarnation && r) this.guard(group, () => r.snapshotTaken(e.slot + 1, data, this.localNow));
        });
      }
    }
    for (const id of [...e.commands.map((c) => c.id), ...e.duplicates]) {
      const client = this.waiting.get(id);
      if (client !== undefined) {
        this.waiting.delete(id);
        this.reply(client, id, true, this.id);
      }
    }
  }

  private reply(to: string, id: string, ok: boolean, leaderHint: string | null): void {
    const payload: SimPayload = { kind: 'reply', id, ok, leaderHint };
    this.net.send(this.id, to, payload, describePayload(payload));
  }
}
