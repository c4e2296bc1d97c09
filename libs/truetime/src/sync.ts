/**
 * The time-sync state machine of one process (sans-I/O): it never reads a clock. The caller
 * passes local physical clock readings in and gets intervals and verdicts out; the daemon
 * (daemon.ts) and the simulator (sim.ts) are the shells that own clocks and timers.
 *
 * State: the last good sync's interval and the local reading it was taken at (the anchor).
 * `now(local)` carries the anchor forward at the drift bound, so ε grows between syncs and drops
 * at each sync: the sawtooth. A sync intersects the masters' intervals (Marzullo, tolerating
 * `maxLiars` liars) and checks its own prediction against the result:
 *
 *  - if the prediction and the masters' interval are disjoint, the local clock provably moved
 *    further than its drift bound allows (a step, or a frequency excursion). Then the process
 *    stops serving and keeps its old anchor, so it resumes only once its clock agrees with the
 *    masters again (the fault was removed, or the ε grown since the last good sync covers it);
 *  - otherwise the new anchor is the masters' interval alone (`anchorAfterSync`). The prediction
 *    holds only if the local clock kept its bound since the last sync, which nothing can check:
 *    a step between ε and ε + width(masters) leaves a wrong prediction that still overlaps the
 *    masters, and anchoring to `prediction ∩ masters` would then exclude true time while the
 *    process keeps serving. The masters' interval needs only the masters and the clock's rate
 *    during the round, so the interval a process serves with after a sync never depends on its
 *    clock before it (docs/truetime.md, "Soundness"). */
import { PPM, advance, epsilonOf, gapBetween, midpointOf, overlaps, intersect, sampleInterval, assertDriftBound, trueElapsedMax, trueElapsedMin, type Sample, type TTInterval } from './interval.js';
import { marzullo } from './marzullo.js';

export interface SyncConfig {
  /** Worst-case rate error of the local clock, µs per second (Spanner: 200). */
  driftBoundPpm: number;
  /** Half-width assumed before the first sync (how far the host clock may be off at boot). */
  initialEpsilonUs: number;
  /** A process whose ε exceeds this stops serving (masters unreachable for too long). */
  maxEpsilonUs: number;
  /** Replies whose measured round trip is negative or above this are discarded (a clock step in flight looks like that). */
  maxRttUs: number;
  /**
   * Lying masters tolerated among the replies of one sync (f in Marzullo). A sync needs f + 1
   * replies to check the clock, and 2f + 1 for the masters to outvote a liar on their own: always
   * for the first one, and for a later one to re-anchor when the replies' span is wider than the
   * prediction (see anchorAfterSync).
   */
  maxLiars: number;
  /**
   * TESTS ONLY: the unsound sync this library used to run (a good sync anchored to
   * `prediction ∩ masters`, trusting a prediction that only a disjointness check had vetted).
   * Kept so the simulator's step property test can show it has teeth. Never set it in a process.
   */
  unsoundTrustPrediction?: boolean;
  /**
   * Slack of the monotonic step checks, µs: how far a masters' reading (or the local clock) may
   * land outside what the monotonic clock explains since the anchor before it counts as a step.
   * It covers the two clocks being read a few µs apart; the reply's round trip is added on top.
   */
  stepSlackUs: number;
  /**
   * TESTS ONLY: turn the monotonic step checks off (a masters' reading that elapsed monotonic time
   * cannot explain is then adopted, as before). For the teeth tests; never set it in a process.
   */
  unsoundNoStepCheck?: boolean;
}

export const DEFAULT_SYNC_CONFIG: SyncConfig = {
  driftBoundPpm: 200,
  initialEpsilonUs: 1_000_000,
  maxEpsilonUs: 50_000,
  maxRttUs: 1_000_000,
  maxLiars: 1,
  stepSlackUs: 2_000,
};

export type NotServingReason = 'unsynced' | 'clock-excursion' | 'epsilon-too-large';

export interface SyncStatus {
  serving: boolean;
  reason?: NotServingReason;
  detail?: string;
  epsilonUs: number;
  synced: boolean;
}

/**
 * `inconclusive`: too few replies to outvote a liar, and their span is wider than the prediction
 * (see anchorAfterSync): nothing learnt, the anchor is kept.
 */
export type SyncFailure = 'no-samples' | 'no-agreement' | 'clock-excursion' | 'inconclusive' | 'unexplained-step';

export interface SyncOutcome {
  ok: boolean;
  failure?: SyncFailure;
  /** The masters' intersection, at the local reading the sync was applied at. */
  masters?: TTInterval;
  /** What this process believed just before (its prediction). */
  predicted: TTInterval;
  /** midpoint(masters) − midpoint(predicted): how far off this process was, µs. */
  offsetUs?: number;
  /** Smallest round trip among the replies used, local µs. */
  rttUs?: number;
  agreeing: string[];
  rejected: string[];
  /** Replies thrown away before intersecting (impossible round trip). */
  discarded: string[];
  epsilonBeforeUs: number;
  epsilonAfterUs: number;
  /**
   * `unexplained-step`: how far the masters' interval lay outside what the anchor, carried forward
   * by the elapsed monotonic time at the drift bound, explains (µs). The reading was refused.
   */
  unexplainedStepUs?: number;
}

/**
 * Of each source's samples, the one whose interval carried forward to `at` is narrowest, in the
 * order the sources first appear. A master asked several times in one round (TimeSyncDaemon's
 * probes) is one source: any of its replies alone bounds true time, and the narrowest is the one
 * least widened by a round trip spent waiting in a busy event loop or run queue (NTP's clock
 * filter keeps its minimum-delay sample for the same reason). Counting each reply as a vote would
 * let one liar outvote the others.
 */
export function narrowestPerSource(samples: readonly Sample[], at: number, ppm: number): Sample[] {
  const best = new Map<string, { s: Sample; width: number }>();
  for (const s of samples) {
    const iv = advance(sampleInterval(s, ppm), at - s.receivedLocal, ppm);
    const width = iv.latest - iv.earliest;
    const cur = best.get(s.source);
    if (cur === undefined || width < cur.width) best.set(s.source, { s, width });
  }
  return [...best.values()].map((b) => b.s);
}

/**
 * The interval a sync whose prediction and masters' interval overlap anchors to; undefined when the
 * round is inconclusive (the old anchor is kept, as after a lost round).
 *
 * Sound: the masters' interval alone. True time is inside it whenever at most `maxLiars` masters
 * lie and the local clock kept its drift bound during the round, whatever the clock did before.
 * The prediction only detects a clock fault (disjointness) and never narrows the anchor:
 * `prediction ∩ masters` is narrower than the masters' interval only where the prediction cuts
 * into it, and that cut is exactly what a stepped clock gets wrong.
 *
 * With fewer than 2f + 1 replies the masters cannot outvote a liar on their own, and their
 * interval spans every reply, a liar's included. Such a round re-anchors only if that is no wider
 * than the prediction (so a round that lost replies never widens ε); otherwise it is inconclusive.
 *
 * `unsound` is the rule this library used to run, `prediction ∩ masters` after a disjointness-only
 * check; kept behind `SyncConfig.unsoundTrustPrediction` for the teeth tests.
 */
export function anchorAfterSync(predicted: TTInterval, masters: TTInterval, mastersOutvoteLiars: boolean, unsound = false): TTInterval | undefined {
  if (unsound) return intersect(predicted, masters);
  if (!mastersOutvoteLiars && epsilonOf(masters) > epsilonOf(predicted)) return undefined;
  return masters;
}

interface Anchor {
  local: number;
  /** The monotonic reading taken with `local`, when the shell has a monotonic clock. */
  mono?: number;
  iv: TTInterval;
}

/** `iv` widened by `us` on both sides. */
const widen = (iv: TTInterval, us: number): TTInterval => ({ earliest: iv.earliest - us, latest: iv.latest + us });

export class ClockSync {
  readonly cfg: SyncConfig;
  private anchor: Anchor | undefined;
  private excursion: { offsetUs: number; gapUs: number } | undefined;
  private good = 0;

  /** @param bootLocal the local reading the boot assumption (`initialEpsilonUs`) refers to. */
  constructor(cfg: Partial<SyncConfig>, private readonly bootLocal: number) {
    this.cfg = { ...DEFAULT_SYNC_CONFIG, ...cfg };
    assertDriftBound(this.cfg.driftBoundPpm);
  }

  get synced(): boolean {
    return this.good > 0;
  }
  get goodSyncs(): number {
    return this.good;
  }

  /**
   * The interval true time lies in when the local clock reads `local` (and the monotonic clock
   * `mono`, if the shell has one). When the local clock has stepped against the monotonic one
   * (localStep), the interval is carried by the monotonic clock instead: the process is not
   * serving then, but whatever still reads `now()` gets no time the step made up.
   */
  now(local: number, mono?: number): TTInterval {
    if (this.anchor) {
      if (this.localStepUs(local, mono) !== undefined) return advance(this.anchor.iv, mono! - this.anchor.mono!, this.cfg.driftBoundPpm);
      return advance(this.anchor.iv, local - this.anchor.local, this.cfg.driftBoundPpm);
    }
    const e = this.cfg.initialEpsilonUs;
    return advance({ earliest: this.bootLocal - e, latest: this.bootLocal + e }, local - this.bootLocal, this.cfg.driftBoundPpm);
  }

  /**
   * How far the local clock's elapsed time since the anchor disagrees with the monotonic clock's
   * beyond what two clocks within the drift bound (plus `stepSlackUs`) can explain; undefined when
   * they agree or there is nothing to compare (no monotonic clock, no anchor, check off).
   */
  localStepUs(local: number, mono?: number): number | undefined {
    const a = this.anchor;
    if (!a || a.mono === undefined || mono === undefined || this.cfg.unsoundNoStepCheck) return undefined;
    const dl = local - a.local;
    const dm = mono - a.mono;
    const ppm = this.cfg.driftBoundPpm;
    const allowed = Math.ceil((2 * ppm * Math.max(Math.abs(dl), Math.abs(dm))) / (PPM - ppm)) + this.cfg.stepSlackUs;
    const off = dl - dm;
    return Math.abs(off) > allowed ? off : undefined;
  }

  status(local: number, mono?: number): SyncStatus {
    const epsilonUs = epsilonOf(this.now(local, mono));
    const base = { epsilonUs, synced: this.synced };
    if (!this.synced) return { ...base, serving: false, reason: 'unsynced', detail: 'no successful sync yet' };
    const step = this.localStepUs(local, mono);
    if (step !== undefined) return { ...base, serving: false, reason: 'clock-excursion', detail: `local clock stepped ${Math.round(step)} µs against the monotonic clock since the last good sync` };
    if (this.excursion) {
      const { offsetUs, gapUs } = this.excursion;
      return { ...base, serving: false, reason: 'clock-excursion', detail: `local clock off the time masters by ${Math.round(offsetUs)} µs, ${gapUs} µs beyond ε` };
    }
    if (epsilonUs > this.cfg.maxEpsilonUs) return { ...base, serving: false, reason: 'epsilon-too-large', detail: `ε ${epsilonUs} µs exceeds ${this.cfg.maxEpsilonUs} µs` };
    return { ...base, serving: true };
  }

  /**
   * `status(local, mono).serving` without building the status: the check every request, reply and
   * peer message makes. The same rules on the same readings (never a cached verdict): not synced,
   * a local step against the monotonic clock, an excursion found by the last sync, or ε over the
   * bound each stop serving at once. ε is `epsilonOf(now(local, mono))` on the anchor path (the
   * step path is not serving anyway), computed without the interval.
   */
  servingAt(local: number, mono?: number): boolean {
    const a = this.anchor;
    if (!this.synced || !a || this.excursion) return false;
    if (this.localStepUs(local, mono) !== undefined) return false;
    const ppm = this.cfg.driftBoundPpm;
    const d = local - a.local;
    const epsilonUs = (a.iv.latest + trueElapsedMax(d, ppm) - (a.iv.earliest + trueElapsedMin(d, ppm))) / 2;
    return !(epsilonUs > this.cfg.maxEpsilonUs);
  }

  /** Sets the anchor directly: a drifting time master set from a reference when installed. */
  anchorAt(local: number, iv: TTInterval, mono?: number): void {
    this.anchor = { local, iv, ...(mono !== undefined ? { mono } : {}) };
    this.excursion = undefined;
    this.good++;
  }

  /**
   * Applies one sync round. `at` is the local reading now (no earlier than any sample's receipt);
   * every sample's interval is carried forward to `at` before intersecting. `mono` is the
   * monotonic clock's reading at the same moment, when the shell has one: then a masters' interval
   * that the anchor carried forward by the elapsed monotonic time cannot explain is refused
   * (`unexplained-step`) and the anchor kept, so no process adopts a time its own elapsed time
   * says is impossible (a day-ahead step of every master, say).
   */
  apply(samples: readonly Sample[], at: number, mono?: number): SyncOutcome {
    const ppm = this.cfg.driftBoundPpm;
    // The prediction by the local clock, as ever: a local step is an excursion (the check below),
    // whatever the monotonic clock says.
    const predicted = this.now(at);
    const epsilonBeforeUs = epsilonOf(predicted);
    const base = { predicted, epsilonBeforeUs, epsilonAfterUs: epsilonBeforeUs, agreeing: [] as string[], rejected: [] as string[] };
    const discarded: Sample[] = [];
    const good: Sample[] = [];
    for (const s of samples) {
      const rtt = s.receivedLocal - s.sentLocal;
      const bad = rtt < 0 || rtt > this.cfg.maxRttUs || s.receivedLocal > at || !(s.earliest <= s.latest);
      (bad ? discarded : good).push(s);
    }
    // One vote per master (Marzullo counts sources): of several replies from one, the narrowest at `at`.
    const usable = narrowestPerSource(good, at, ppm);
    // Without a trusted prediction (first sync) the replies must outvote the liars on their own.
    const needed = this.synced ? this.cfg.maxLiars + 1 : 2 * this.cfg.maxLiars + 1;
    if (usable.length < needed) return { ...base, ok: false, failure: 'no-samples', discarded: discarded.map((s) => s.source) };
    const rttUs = Math.min(...usable.map((s) => s.receivedLocal - s.sentLocal));
    const intervals = usable.map((s) => ({ source: s.source, ...advance(sampleInterval(s, ppm), at - s.receivedLocal, ppm) }));
    const m = marzullo(intervals, this.cfg.maxLiars);
    const disc = discarded.map((s) => s.source);
    if (!m) return { ...base, ok: false, failure: 'no-agreement', rttUs, discarded: disc };
    const offsetUs = midpointOf(m.interval) - midpointOf(predicted);
    const found = { ...base, masters: m.interval, offsetUs, rttUs, agreeing: m.agreeing, rejected: m.rejected, discarded: disc };
    const a = this.anchor;
    if (this.synced && a?.mono !== undefined && mono !== undefined && !this.cfg.unsoundNoStepCheck) {
      // What elapsed monotonic time explains: the anchor carried by it at the drift bound, widened
      // by the slack and the longest round trip used (the replies' own widths are in m.interval).
      const maxRtt = Math.max(...usable.map((s) => s.receivedLocal - s.sentLocal));
      const explained = widen(advance(a.iv, mono - a.mono, ppm), this.cfg.stepSlackUs + maxRtt);
      if (!overlaps(explained, m.interval)) return { ...found, ok: false, failure: 'unexplained-step', unexplainedStepUs: gapBetween(explained, m.interval) };
    }
    if (this.synced && !overlaps(predicted, m.interval)) {
      // The clock moved further than its drift bound allows since the last good sync.
      this.excursion = { offsetUs, gapUs: gapBetween(predicted, m.interval) };
      return { ...found, ok: false, failure: 'clock-excursion' };
    }
    // The masters' interval alone: the prediction cannot be checked, only caught when it is
    // disjoint (see anchorAfterSync). Before the first sync it is only the boot assumption anyway.
    const iv = this.synced ? anchorAfterSync(predicted, m.interval, usable.length >= 2 * this.cfg.maxLiars + 1, this.cfg.unsoundTrustPrediction) : m.interval;
    if (!iv) return { ...found, ok: false, failure: 'inconclusive' };
    this.anchor = { local: at, iv, ...(mono !== undefined ? { mono } : {}) };
    this.excursion = undefined;
    this.good++;
    return { ...found, ok: true, epsilonAfterUs: epsilonOf(iv) };
  }
}
