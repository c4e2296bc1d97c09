import {
  InvariantViolation,
  Replica,
  type ApplyEntry,
  type Ready,
  type ReplicaConfig,
} from '@synod/paxos';
import type { History } from './checkers.js';
import { DurableStore } from './disk.js';
import { describePayload, type SimPayload } from './messages.js';
import type { SimNetwork } from './network.js';
import type { Prng } from './prng.js';
import type { Scheduler } from './scheduler.js';

export interface NodeTiming {
  tickUs: number;
  fsyncMinUs: number;
  fsyncMaxUs: number;
  /** Start ticking at a random phase (false: every node ticks in lockstep). */
  tickPhaseJitter: boolean;
}

/**
 * A simulated spanserver: one replica per group, one disk, one tick timer.
 *
 * It is the "shell" of DESIGN §3: a Ready's persist goes to a disk queue that
 * completes after a simulated fsync, and only then are the Ready's messages
 * sent and its entries applied. Disk writes complete in order (group commit),
 * so a later Ready never overtakes an earlier one. A crash loses the disk queue
 * and every timer; a restart rebuilds replicas from what was synced.
 */
export class SimNode {
  up = true;
  incarnation = 0;
  private readonly replicas = new Map<string, Replica>();
  private readonly stores = new Map<string, DurableStore>();
  private diskFreeAtUs = 0;
  /** Readies not yet released, oldest first. */
  private pipeline: Array<{ group: string; ready: Ready; durable: boolean }> = [];
  /** command id -> client address awaiting its application here. */
  private readonly waiting = new Map<string, string>();

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
    net.register(id, dc, (from, payload) => this.receive(from, payload as SimPayload));
    this.boot();
  }

  replica(group: string): Replica | undefined {
    return this.replicas.get(group);
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
    this.waiting.clear();
    this.pipeline = [];
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
      const durable = this.stores.get(group)!.snapshot();
      const rng = this.rng.fork(`${group}#${inc}`);
      this.replicas.set(group, new Replica(config, rng, { durable, nowUs: this.sched.nowUs }));
      this.history.startIncarnation(group, this.id, inc, 0);
    }
    const phase = this.timing.tickPhaseJitter ? this.rng.int(this.timing.tickUs) : 0;
    this.sched.after(phase, () => this.tickLoop(inc));
  }

  private tickLoop(inc: number): void {
    if (inc !== this.incarnation) return;
    for (const [group, r] of this.replicas) this.guard(group, () => r.tick(this.sched.nowUs));
    this.sched.after(this.timing.tickUs, () => this.tickLoop(inc));
  }

  private receive(from: string, p: SimPayload): void {
    if (!this.up) return;
    if (p.kind === 'paxos') {
      const r = this.replicas.get(p.msg.group);
      if (r) this.guard(p.msg.group, () => r.step(p.msg, this.sched.nowUs));
    } else if (p.kind === 'propose') {
      const r = this.replicas.get(p.group);
      if (!r) return;
      const ready = this.guard(p.group, () => r.propose([p.cmd], this.sched.nowUs));
      for (const res of ready?.proposalResults ?? []) {
        if (res.status === 'queued' || res.status === 'forwarded') this.waiting.set(p.cmd.id, from);
        else this.reply(from, p.cmd.id, res.status === 'already_applied', res.leaderHint);
      }
    }
  }

  /** Runs one replica call and hands its Ready to the shell; an invariant failure stops the run. */
  private guard(group: string, call: () => Ready): Ready | undefined {
    let ready: Ready;
    try {
      ready = call();
    } catch (e) {
      if (e instanceof InvariantViolation) {
        this.history.fail(`replica assertion: ${e.invariant}`, `${this.id}/${group}: ${e.message}`);
        return undefined;
      }
      throw e;
    }
    this.handleReady(group, ready);
    return ready;
  }

  private handleReady(group: string, ready: Ready): void {
    if (ready.leadership) {
      const l = ready.leadership;
      this.trace(`${this.id}/${group} leadership leader=${l.isLeader} hint=${l.leaderHint} b=${l.ballot.round}.${l.ballot.node}`);
    }
    if (ready.send.length === 0 && ready.apply.length === 0 && ready.persist === undefined) return;
    const inc = this.incarnation;
    const entry = { group, ready, durable: ready.persist === undefined };
    this.pipeline.push(entry);
    if (ready.persist) {
      const now = this.sched.nowUs;
      const doneAt = Math.max(now, this.diskFreeAtUs) + this.rng.range(this.timing.fsyncMinUs, this.timing.fsyncMaxUs);
      this.diskFreeAtUs = doneAt;
      const persist = ready.persist;
      this.sched.at(doneAt, () => {
        if (inc !== this.incarnation) return; // crashed before the fsync completed
        this.stores.get(group)!.write(persist);
        const q2 = this.replicas.get(group)!.config.q2;
        for (const e of persist.accepted ?? []) {
          this.history.recordDurableAccept(group, this.id, e.slot, e.ballot, e.value, q2);
        }
        this.trace(`${this.id}/${group} synced promised=${persist.promised ? `${persist.promised.round}.${persist.promised.node}` : '-'} accepted=${(persist.accepted ?? []).map((e) => e.slot).join(',')}`);
        entry.durable = true;
        this.drainPipeline();
      });
    } else {
      this.drainPipeline();
    }
  }

  /** Releases Readies strictly in the order they were produced, each once its own persist is durable. */
  private drainPipeline(): void {
    while (this.pipeline.length > 0 && this.pipeline[0]!.durable) {
      const { group, ready } = this.pipeline.shift()!;
      this.release(group, ready);
    }
  }

  private release(group: string, ready: Ready): void {
    for (const o of ready.send) {
      const payload: SimPayload = { kind: 'paxos', msg: o.msg };
      this.net.send(this.id, o.to, payload, describePayload(payload));
    }
    for (const e of ready.apply) this.apply(group, e);
  }

  private apply(group: string, e: ApplyEntry): void {
    this.trace(`${this.id}/${group} apply ${e.slot} ${e.value.kind === 'noop' ? 'noop' : e.value.cmds.map((c) => c.id).join(',')}${e.duplicates.length ? ` dup=${e.duplicates.join(',')}` : ''}`);
    this.history.recordApply(group, this.id, this.incarnation, e);
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
