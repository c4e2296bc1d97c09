import { TrueTime, type PhysicalClock, type Sample, type SyncConfig, type SyncOutcome } from '@synod/truetime';
import type { CoreNow } from '@synod/txn';
import { DriftingClock } from '../clock.js';
import type { Prng } from '../prng.js';
import type { Scheduler } from '../scheduler.js';
import type { SpanNet } from './net.js';

/**
 * Time in the span simulation. True time is the scheduler's virtual µs plus START_US (a Unix
 * epoch in µs, so timestamps look like production's). Every node has one oscillator: its
 * monotonic clock is a DriftingClock (rate within the drift bound, never stepped: what the Paxos
 * replica and the core's timers read), and its wall clock is the same oscillator plus a boot error
 * and any clock step the nemesis applies. TrueTime runs the REAL ClockSync over the wall clock,
 * with the monotonic clock as its step detector, synced against simulated time masters over the
 * simulated network.
 */
export const START_US = 1_700_000_000_000_000;

/** A node's oscillator: the monotonic clock and the (steppable) wall clock built on it. */
export class NodeClock {
  readonly mono: DriftingClock;
  /** The wall clock's error at boot (within the boot ε), and the current step fault. */
  private readonly bootErrorUs: number;
  stepUs = 0;

  constructor(
    rng: Prng,
    maxDriftPpm: number,
    private readonly sched: Scheduler,
    maxBootErrorUs: number,
  ) {
    this.mono = new DriftingClock(rng.fork('oscillator'), maxDriftPpm);
    this.bootErrorUs = rng.range(-maxBootErrorUs, maxBootErrorUs);
  }

  /** Monotonic µs now (the replica's and the core's clock). */
  monoNow(): number {
    return this.mono.local(this.sched.nowUs);
  }

  /** The wall clock: epoch µs as this node believes it before any sync. */
  wallNow(): number {
    return START_US + this.bootErrorUs + (this.monoNow() - this.mono.offsetUs) + this.stepUs;
  }

  /** The virtual (scheduler) instant at which the monotonic clock reads `monoUs` (never before now). */
  schedAtMono(monoUs: number): number {
    return Math.max(this.sched.nowUs, Math.ceil(this.mono.trueOf(monoUs)));
  }

  readonly wallClock: PhysicalClock = { nowUs: () => this.wallNow() };
  readonly monoClock: PhysicalClock = { nowUs: () => this.monoNow() };
}

/**
 * A reference time master: true time ± its uncertainty, erring anywhere inside `errorFraction` of
 * it, plus a constant `biasFraction` of it (a far master whose answers lean one way: ahead when
 * positive). |biasFraction| + errorFraction ≤ 1 keeps true time inside every answer.
 */
export class TimeMaster {
  uncertaintyUs: number;
  errorFraction: number;
  biasFraction = 0;

  constructor(
    readonly id: string,
    readonly dc: string,
    private readonly sched: Scheduler,
    private readonly rng: Prng,
    net: SpanNet,
    uncertaintyUs: number,
    errorFraction = 1,
  ) {
    this.uncertaintyUs = uncertaintyUs;
    this.errorFraction = errorFraction;
    net.register(id, dc, (from, p) => {
      if (p.kind !== 'timeReq') return;
      const t = START_US + this.sched.nowUs;
      const maxErr = Math.floor(this.uncertaintyUs * this.errorFraction);
      const err = (maxErr > 0 ? this.rng.range(-maxErr, maxErr) : 0) + Math.round(this.uncertaintyUs * this.biasFraction);
      net.send(id, from, { kind: 'timeReply', round: p.round, earliest: t + err - this.uncertaintyUs, latest: t + err + this.uncertaintyUs }, 'time');
    });
  }
}

export interface TimeSyncTiming {
  syncIntervalUs: number;
  requestTimeoutUs: number;
  syncConfig: Partial<SyncConfig>;
}

/**
 * One node incarnation's TrueTime and its sync daemon: a round every sync interval (the first at
 * boot) asks each of `masters`, collects the replies that arrive within the request timeout, and
 * applies them with `TrueTime.applySync` (the real ClockSync). A crash ends it (the incarnation
 * check); a restarted node starts unsynced, as a new process does.
 */
export class NodeTime {
  readonly tt: TrueTime;
  private round = 0;
  private samples: Sample[] = [];
  private readonly sent = new Map<string, number>();
  syncs = 0;
  failedSyncs = 0;
  /** Raised by every change to the sync state (applySync): a cached reading of an older state is stale. */
  private syncVersion = 0;
  private cached: { monoUs: number; wallUs: number; syncVersion: number; now: CoreNow } | null = null;

  constructor(
    readonly addr: string,
    private readonly clock: NodeClock,
    private readonly sched: Scheduler,
    private readonly net: SpanNet,
    private readonly masters: () => readonly string[],
    private readonly timing: TimeSyncTiming,
    private readonly alive: () => boolean,
    private readonly rng: Prng,
    private readonly onSync: (o: SyncOutcome) => void,
  ) {
    this.tt = new TrueTime(clock.wallClock, timing.syncConfig, clock.monoClock);
  }

  /**
   * TrueTime's interval and serving state with the monotonic reading, as the cores take them
   * (CoreNow). Both are pure functions of the sync state and the two clock readings, so one reading
   * serves every split of the node until one of those moves: the shell asks once or twice per
   * input per split, and with many splits per node recomputing it dominated the run
   * (libs/sim/src/span/README.md, "Many splits per node"). Frozen: a reading is shared, no one may change it.
   */
  coreNow(): CoreNow {
    const monoUs = this.clock.monoNow();
    const wallUs = this.clock.wallNow();
    const c = this.cached;
    if (c !== null && c.monoUs === monoUs && c.wallUs === wallUs && c.syncVersion === this.syncVersion) return c.now;
    const now: CoreNow = Object.freeze({ tt: Object.freeze(this.tt.now()), serving: this.tt.isServing(), monoUs });
    this.cached = { monoUs, wallUs, syncVersion: this.syncVersion, now };
    return now;
  }

  /** Applies a sync round's samples to TrueTime (the only change to its sync state). */
  applySync(samples: readonly Sample[]): SyncOutcome {
    this.syncVersion++;
    return this.tt.applySync(samples);
  }

  start(): void {
    this.sched.after(this.rng.int(20_000), () => this.syncRound());
  }

  /** A reply from a master (routed here by the node). */
  onReply(from: string, round: number, earliest: number, latest: number): void {
    if (round !== this.round || !this.alive()) return;
    const sentLocal = this.sent.get(from);
    if (sentLocal === undefined) return;
    this.sent.delete(from);
    this.samples.push({ source: from, sentLocal, receivedLocal: this.clock.wallNow(), earliest, latest });
  }

  private syncRound(): void {
    if (!this.alive()) return;
    const round = ++this.round;
    this.samples = [];
    this.sent.clear();
    for (const m of this.masters()) {
      this.sent.set(m, this.clock.wallNow());
      this.net.send(this.addr, m, { kind: 'timeReq', round }, 'time');
    }
    this.sched.after(this.timing.requestTimeoutUs, () => {
      if (!this.alive() || round !== this.round) return;
      const out = this.applySync(this.samples);
      this.syncs++;
      if (!out.ok) this.failedSyncs++;
      this.onSync(out);
      const interval = this.timing.syncIntervalUs;
      this.sched.after(Math.round(interval * (0.9 + 0.2 * this.rng.next())), () => this.syncRound());
    });
  }
}
