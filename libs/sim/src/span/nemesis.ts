import type { NetworkFaults } from '../network.js';
import type { Prng } from '../prng.js';
import type { Scheduler } from '../scheduler.js';
import type { SpanNet } from './net.js';
import type { SpanNode } from './node.js';
import type { TimeMaster } from './time.js';

export type SpanFault = 'isolate-dc' | 'isolate-node' | 'one-way' | 'heal' | 'crash' | 'crash-leader' | 'stall' | 'step' | 'asym' | 'depose' | 'eps-failover';
export const SPAN_FAULTS: readonly SpanFault[] = ['isolate-dc', 'isolate-node', 'one-way', 'heal', 'crash', 'crash-leader', 'stall', 'step', 'asym', 'depose', 'eps-failover'];

/** What the network does during the fault phase (drawn per seed) and after it. */
export const SPAN_CALM_NETWORK: NetworkFaults = { lossProb: 0, dupProb: 0, jitterUs: 500, longDelayProb: 0, longDelayUs: 0 };

export interface SpanNemesisOptions {
  /** Fault kinds and their weights (0 or absent: never). */
  weights: Partial<Record<SpanFault, number>>;
  gapUs: [number, number];
  /** Probability that a partition or crash aims at a leader's DC/node when there is one. */
  leaderBias: number;
  /** Disk stall: this fraction of writes delayed by `delayUs`, for a while. */
  stallProb: number;
  stallDelayUs: number;
  /** Leader-ε asymmetry: the leader DC's masters answer with this uncertainty (and no error). */
  asymUncertaintyUs: number;
  /** Clock steps: |step| in this range (µs), either direction. */
  stepUs: [number, number];
  /** `depose` aims at this split's leader when it has one (otherwise any leader's). */
  deposeSplit?: string | undefined;
  /** `depose` also makes the cut-off leader's DC masters uncertain (asymUncertaintyUs) with this probability. */
  deposeAsymProb: number;
  /** `depose` heals the cut around the cut-off leader's lease end (no crash) with this probability. */
  deposeHealAtLeaseEndProb: number;
  /** `depose` crashes the successor within this long of its taking over. */
  deposeCrashWithinUs: number;
  /** The replicas' lease duration: the other `depose` heals the cut just around the cut-off leader's lease end. */
  leaseUs: number;
  /** `eps-failover` aims at this split's leader when it has one (otherwise any leader's). */
  failoverSplit?: string | undefined;
  /** `eps-failover`: the leader DC's far masters lean ahead by this fraction of their uncertainty (asymUncertaintyUs). */
  farBiasFraction: number;
}

export interface NemesisCounts {
  crashes: number;
  clockSteps: number;
  partitions: number;
  stalls: number;
  asym: number;
}

/**
 * The span scenario's faults, each undone on its own after a while (so faults overlap but the
 * cluster keeps coming back): DC and node partitions and one-way cuts, crashes (of leaders too)
 * with restarts, disk stalls, clock steps (TrueTime must stop serving at once), and the leader-ε
 * asymmetry (a leader DC's time masters far and uncertain: its ε near 150 ms, the others' near
 * 1 ms), and `depose`: a leader's DC is cut off (its own clients still reach it, and it may go on
 * proposing what it cannot get chosen, often with a large ε), then either the successor crashes
 * as soon as it leads and the cut heals, or the cut heals just around the first leader's lease end:
 * the next leader's phase 1 may find the first one's late proposals. `eps-failover`: a leader's
 * DC's masters become far (uncertain, and leaning ahead), so its ε is large and its TT.now().latest
 * lies far ahead of true time; the first `closed` entry it proposes after that (a strong read beyond
 * its lease, which no lease bounds) is followed, once its Accept has reached a peer, by a cut of its
 * DC: a small-ε successor takes over as soon as the lease votes allow and finds that entry in its
 * phase 1, after its own epoch barrier was assigned. `healAll` ends every fault.
 */
export class SpanNemesis {
  readonly counts: NemesisCounts = { crashes: 0, clockSteps: 0, partitions: 0, stalls: 0, asym: 0 };
  private readonly normalUncertainty = new Map<TimeMaster, number>();
  /** A `depose` is in progress (one at a time). */
  private deposing = false;
  /** Clock steps not undone yet, with the node incarnation they were made in. */
  private readonly steps = new Set<{ node: SpanNode; d: number; inc: number }>();

  constructor(
    private readonly o: SpanNemesisOptions,
    private readonly sched: Scheduler,
    private readonly net: SpanNet,
    private readonly nodes: readonly SpanNode[],
    private readonly dcs: readonly string[],
    private readonly masters: readonly TimeMaster[],
    private readonly rng: Prng,
    private readonly trace: (line: string) => void,
  ) {
    for (const m of masters) this.normalUncertainty.set(m, m.uncertaintyUs);
  }

  start(faultPhaseUs: number, networkFaults: NetworkFaults): void {
    this.net.net.faults = { ...networkFaults };
    const kinds = SPAN_FAULTS.filter((k) => (this.o.weights[k] ?? 0) > 0);
    if (kinds.length === 0) return;
    const total = kinds.reduce((s, k) => s + this.o.weights[k]!, 0);
    const step = (): void => {
      if (this.sched.nowUs >= faultPhaseUs) return;
      let x = this.rng.next() * total;
      let kind = kinds[0]!;
      for (const k of kinds) {
        if (x < this.o.weights[k]!) {
          kind = k;
          break;
        }
        x -= this.o.weights[k]!;
      }
      this.act(kind, faultPhaseUs);
      this.sched.after(this.rng.range(...this.o.gapUs), step);
    };
    this.sched.after(this.rng.range(...this.o.gapUs), step);
  }

  /** Every fault ends: links healed, nodes restarted, clocks and masters restored, disks unstalled, the network calm. */
  healAll(): void {
    this.net.net.healAll();
    this.net.healNodes();
    this.net.net.faults = { ...SPAN_CALM_NETWORK };
    for (const s of [...this.steps]) this.unstep(s);
    for (const n of this.nodes) {
      n.stall = null;
      n.restart();
    }
    for (const [m, u] of this.normalUncertainty) {
      m.uncertaintyUs = u;
      m.errorFraction = 1;
      m.biasFraction = 0;
    }
    for (const n of this.nodes) n.onProposed = null;
    this.trace('nemesis heal-all');
  }

  /**
   * Undoes a step, unless the node restarted since: a new process adopted the stepped clock at
   * its first sync, so for it the step is now a constant offset, and undoing it would be a new step
   * its anchor could never explain again (it would stay out of service until its ε covered it).
   */
  private unstep(s: { node: SpanNode; d: number; inc: number }): void {
    if (!this.steps.delete(s)) return;
    if (s.node.incarnation !== s.inc) {
      this.trace(`nemesis step ${s.node.id} kept (restarted since)`);
      return;
    }
    s.node.clock.stepUs -= s.d;
    this.trace(`nemesis unstep ${s.node.id} ${-s.d}us`);
  }

  private leaderDcs(): string[] {
    return this.nodes.filter((n) => n.up && n.isLeaderOfAny()).map((n) => n.dc);
  }

  /** Runs `undo` after a random while, but never after the heal at the end of the fault phase. */
  private later(faultPhaseUs: number, lo: number, hi: number, undo: () => void): void {
    const at = Math.min(this.sched.nowUs + this.rng.range(lo, hi), faultPhaseUs);
    this.sched.at(at, undo);
  }

  /**
   * A leader's DC's masters turn far (uncertain by asymUncertaintyUs, answers leaning ahead by
   * farBiasFraction of it): after its next sync the leader's ε is large and its TT.now().latest lies
   * nearly 2ε ahead of true time, beyond its lease, so its strong reads wait for `closed` log entries
   * that no lease bounds. The first one it proposes then is let reach a peer (the Accept, not the
   * news that it is chosen), and the leader's DC is cut off: a successor with a small ε takes over
   * once the lease votes run out, proposes its epoch barrier at its own now.latest, and applies the
   * far entry it found in phase 1 only after that. Its commits must still go above that entry.
   */
  private epsFailover(end: number): void {
    if (this.deposing) return;
    const aimed = this.o.failoverSplit !== undefined ? this.nodes.find((n) => n.up && n.isLeaderOf(this.o.failoverSplit!)) : undefined;
    const leaders = this.nodes.filter((n) => n.up && n.isLeaderOfAny());
    if (leaders.length === 0) return;
    const first = aimed ?? this.rng.pick(leaders);
    const split = aimed ? this.o.failoverSplit! : this.rng.pick(first.hosted().filter((s) => first.isLeaderOf(s)));
    const inc = first.incarnation;
    const u = this.o.asymUncertaintyUs;
    const ms = this.masters.filter((m) => m.dc === first.dc);
    for (const m of ms) {
      m.uncertaintyUs = u;
      m.errorFraction = 0;
      m.biasFraction = this.o.farBiasFraction;
    }
    this.deposing = true;
    this.counts.asym++;
    this.trace(`nemesis eps-failover ${first.id}/${split}: far masters in ${first.dc} (${u}us, ahead ${this.o.farBiasFraction})`);
    const restore = (): void => {
      for (const m of ms) {
        m.uncertaintyUs = this.normalUncertainty.get(m)!;
        m.errorFraction = 1;
        m.biasFraction = 0;
      }
      this.trace(`nemesis eps-failover: masters of ${first.dc} back`);
    };
    let armed = true;
    const disarm = (): void => {
      armed = false;
      if (first.onProposed === trigger) first.onProposed = null;
    };
    const trigger = (s: string, payloads: readonly unknown[]): void => {
      if (!armed || s !== split || !first.up || first.incarnation !== inc || this.sched.nowUs >= end) return;
      if (!payloads.some((p) => (p as { t?: string }).t === 'closed')) return;
      const iv = first.time.tt.now();
      if ((iv.latest - iv.earliest) / 2 < u / 2) return;
      disarm();
      // The Accept goes out after the leader's fsync and reaches a peer one latency (and jitter) later.
      const lats = this.dcs.filter((d) => d !== first.dc).map((d) => this.net.net.latencyBetween(first.dc, d));
      const delay = 2_500 + this.rng.range(Math.min(...lats), Math.max(...lats)) + this.rng.int(this.net.net.faults.jitterUs + 1);
      this.sched.after(delay, () => {
        if (this.sched.nowUs >= end) return;
        this.net.net.isolate(first.dc, this.dcs);
        this.counts.partitions++;
        this.trace(`nemesis eps-failover: isolate ${first.dc}`);
        this.later(end, this.o.leaseUs + 200_000, this.o.leaseUs + 800_000, () => {
          this.deposing = false;
          this.net.net.healAll();
          this.trace('nemesis eps-failover: heal');
          this.later(end, 100_000, 600_000, restore);
        });
      });
    };
    first.onProposed = trigger;
    const giveUpAt = Math.min(end, this.sched.nowUs + 3_000_000);
    const watch = (): void => {
      if (!armed) return;
      if (this.sched.nowUs >= giveUpAt || !first.up || first.incarnation !== inc) {
        disarm();
        this.deposing = false;
        restore();
        this.trace('nemesis eps-failover: no far closed entry, give up');
        return;
      }
      this.sched.after(10_000, watch);
    };
    this.sched.after(10_000, watch);
  }

  private act(kind: SpanFault, end: number): void {
    switch (kind) {
      case 'isolate-dc': {
        const leaders = this.leaderDcs();
        const dc = leaders.length > 0 && this.rng.chance(this.o.leaderBias) ? this.rng.pick(leaders) : this.rng.pick(this.dcs);
        this.net.net.isolate(dc, this.dcs);
        this.counts.partitions++;
        this.trace(`nemesis isolate ${dc}`);
        this.later(end, 200_000, 1_500_000, () => {
          this.net.net.healAll();
          this.trace('nemesis heal links');
        });
        return;
      }
      case 'isolate-node': {
        const n = this.rng.pick(this.nodes);
        this.net.isolateNode(n.id);
        this.counts.partitions++;
        this.trace(`nemesis isolate-node ${n.id}`);
        this.later(end, 200_000, 1_500_000, () => {
          this.net.healNodes();
          this.trace('nemesis heal nodes');
        });
        return;
      }
      case 'one-way': {
        const from = this.rng.pick(this.dcs);
        const to = this.rng.pick(this.dcs.filter((d) => d !== from));
        this.net.net.cutLink(from, to);
        this.counts.partitions++;
        this.trace(`nemesis cut ${from}>${to}`);
        this.later(end, 200_000, 1_000_000, () => {
          this.net.net.healAll();
          this.trace('nemesis heal links');
        });
        return;
      }
      case 'heal':
        this.net.net.healAll();
        this.net.healNodes();
        this.trace('nemesis heal');
        return;
      case 'crash':
      case 'crash-leader': {
        const up = this.nodes.filter((n) => n.up);
        const leaders = up.filter((n) => n.isLeaderOfAny());
        const pool = kind === 'crash-leader' && leaders.length > 0 ? leaders : up;
        // Keep a majority up: a crash of a second node waits (partitions take majorities away).
        if (pool.length === 0 || up.length - 1 < Math.floor(this.nodes.length / 2) + 1) return;
        const victim = this.rng.pick(pool);
        victim.crash();
        this.counts.crashes++;
        const inc = victim.incarnation;
        this.later(end, 50_000, 800_000, () => {
          if (victim.incarnation === inc) victim.restart();
        });
        return;
      }
      case 'stall': {
        const n = this.rng.pick(this.nodes);
        const queues = this.rng.chance(0.7) ? 'apply' : 'both';
        n.stall = { prob: this.o.stallProb, delayUs: this.o.stallDelayUs, queues };
        this.counts.stalls++;
        this.trace(`nemesis stall ${n.id} ${queues} ${this.o.stallProb}x${this.o.stallDelayUs}us`);
        this.later(end, 500_000, 3_000_000, () => {
          n.stall = null;
          this.trace(`nemesis unstall ${n.id}`);
        });
        return;
      }
      case 'step': {
        // Only a synced node's clock steps: TrueTime catches a step against its anchor at once
        // (the monotonic clock) and refuses a sync round it corrupted. A step during a node's
        // first sync round would be adopted as true time (nothing to check it against yet,
        // docs/truetime.md): outside what TrueTime guarantees, so not injected.
        const synced = this.nodes.filter((n) => n.up && n.time.tt.sync.synced);
        if (synced.length === 0) return;
        const node = this.rng.pick(synced);
        const d = (this.rng.chance(0.5) ? 1 : -1) * this.rng.range(...this.o.stepUs);
        node.clock.stepUs += d;
        const s = { node, d, inc: node.incarnation };
        this.steps.add(s);
        this.counts.clockSteps++;
        this.trace(`nemesis step ${node.id} ${d}us`);
        this.later(end, 200_000, 1_000_000, () => this.unstep(s));
        return;
      }
      case 'depose': {
        if (this.deposing) return;
        const aimed = this.o.deposeSplit !== undefined ? this.nodes.find((n) => n.up && n.isLeaderOf(this.o.deposeSplit!)) : undefined;
        const leaders = this.nodes.filter((n) => n.up && n.isLeaderOfAny());
        if (leaders.length === 0) return;
        const first = aimed ?? this.rng.pick(leaders);
        const split = aimed ? this.o.deposeSplit! : this.rng.pick(first.hosted().filter((s) => first.isLeaderOf(s)));
        this.net.net.isolate(first.dc, this.dcs);
        this.deposing = true;
        this.counts.partitions++;
        // Often the cut-off leader's ε grows large meanwhile (its DC's masters become uncertain):
        // what it proposes while cut off (closed timestamps for reads) then lies far ahead.
        const asymMasters = this.rng.chance(this.o.deposeAsymProb) ? this.masters.filter((m) => m.dc === first.dc) : [];
        for (const m of asymMasters) {
          m.uncertaintyUs = this.o.asymUncertaintyUs;
          m.errorFraction = 0;
        }
        const endAsym = (): void => {
          for (const m of asymMasters) {
            m.uncertaintyUs = this.normalUncertainty.get(m)!;
            m.errorFraction = 1;
            m.biasFraction = 0;
          }
        };
        this.trace(`nemesis depose ${first.id}/${split}: isolate ${first.dc}${asymMasters.length > 0 ? ` (asym ${this.o.asymUncertaintyUs}us)` : ''}`);
        if (this.rng.chance(this.o.deposeHealAtLeaseEndProb)) {
          // The cut heals around the end of the leader's lease: a successor's phase 1 may hear
          // from it, and re-propose what it proposed while cut off.
          this.later(end, this.o.leaseUs - 50_000, this.o.leaseUs + 150_000, () => {
            this.deposing = false;
            this.net.net.healAll();
            this.trace('nemesis depose: heal at lease end');
            this.later(end, 200_000, 600_000, endAsym);
          });
          return;
        }
        const giveUpAt = this.sched.nowUs + 3_000_000;
        const watch = (): void => {
          if (this.sched.nowUs >= end || this.sched.nowUs >= giveUpAt) {
            this.deposing = false;
            endAsym();
            this.net.net.healAll();
            this.trace('nemesis depose: no successor, heal');
            return;
          }
          const next = this.nodes.find((n) => n !== first && n.up && n.isLeaderOf(split));
          if (!next) return this.sched.after(5_000, watch);
          // Crashed at once, often before any replica accepted its first entry (so it holds no lease votes).
          this.sched.after(this.rng.int(this.o.deposeCrashWithinUs), () => {
            this.deposing = false;
            this.later(end, 200_000, 600_000, endAsym);
            if (next.up && this.sched.nowUs < end) {
              next.crash();
              this.counts.crashes++;
              const inc = next.incarnation;
              this.later(end, 300_000, 800_000, () => {
                if (next.incarnation === inc) next.restart();
              });
            }
            this.net.net.healAll();
            this.trace(`nemesis depose: crashed successor ${next.id}, heal`);
          });
        };
        this.sched.after(5_000, watch);
        return;
      }
      case 'eps-failover':
        return this.epsFailover(end);
      case 'asym': {
        const leaders = this.leaderDcs();
        const dc = leaders.length > 0 ? this.rng.pick(leaders) : this.rng.pick(this.dcs);
        const ms = this.masters.filter((m) => m.dc === dc);
        for (const m of ms) {
          m.uncertaintyUs = this.o.asymUncertaintyUs;
          m.errorFraction = 0;
        }
        this.counts.asym++;
        this.trace(`nemesis asym ${dc} ${this.o.asymUncertaintyUs}us`);
        this.later(end, 1_000_000, 3_000_000, () => {
          for (const m of ms) {
            m.uncertaintyUs = this.normalUncertainty.get(m)!;
            m.errorFraction = 1;
            m.biasFraction = 0;
          }
          this.trace(`nemesis asym-off ${dc}`);
        });
        return;
      }
    }
  }
}
