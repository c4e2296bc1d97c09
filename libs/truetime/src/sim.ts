/**
 * A deterministic virtual-time harness for TrueTime (pure: seeded PRNG, no host clock, no timers).
 *
 * True time is a VirtualClock. Every process's physical clock is a SkewedClock over it, with a
 * random initial offset and a drift rate that changes at random moments. Processes run the same
 * ClockSync as real ones: every sync interval they ask each time master over a network with
 * bounded random one-way delays and loss, and apply the replies at the timeout. Masters are
 * reference (true time ± their uncertainty, erring anywhere inside it), drifting (their own
 * drifting clock, disciplined by the reference masters through ClockSync, answering its own
 * interval) or liars (a wrong time, claimed with a small uncertainty).
 *
 * The checker samples every process at regular moments and right after each sync and counts
 * moments where true time is outside `now()`. Same options, same result, bit for bit.
 *
 * With `clockSteps`, every node's clock also steps (forwards or backwards) at random moments: a
 * fault outside the drift bound, so `violations` counts the moments a stepped clock is wrong. Until
 * a sync round that started after the step has re-anchored, nothing in the process can notice (it
 * has one clock), so the checker holds a node to the soundness property only from then on:
 * `servingViolations` counts checks where a serving node that has re-anchored since its last step
 * has true time outside its interval; `windowViolations` the same inside the window before.
 */
import { SkewedClock, VirtualClock } from './clock.js';
import { contains, epsilonOf, type Sample, type TTInterval } from './interval.js';
import { EventQueue } from '@synod/sim-kernel';
import { Rng } from './prng.js';
import { ClockSync, type SyncConfig } from './sync.js';

export type SimMasterKind = 'reference' | 'drifting' | 'liar';

export interface SimOptions {
  seed: number;
  /** Processes running a sync daemon (the nodes under test). */
  nodes?: number;
  masters?: SimMasterKind[];
  durationUs?: number;
  /** Sync interval; by default drawn per seed between 1 s and 30 s (Spanner: 30 s). */
  syncIntervalUs?: number;
  /** The drift bound the nodes are configured with (ppm). */
  driftBoundPpm?: number;
  /** The largest |drift| the nodes' clocks actually have; the bound holds while this ≤ driftBoundPpm. */
  actualDriftPpm?: number;
  /** Reference masters' stated uncertainty (µs); their error is anywhere inside it. */
  masterUncertaintyUs?: number;
  /** Bounded one-way network delay (µs). */
  maxDelayUs?: number;
  loss?: number;
  /** All liars tell the same wrong time (so they can outvote the truth when they are many). */
  liarsCollude?: boolean;
  /** Liars tolerated per sync (Marzullo's f). */
  maxLiars?: number;
  checkEveryUs?: number;
  /**
   * Mid-run clock steps on the nodes: each node's clock steps at random moments, on average every
   * `meanEveryUs`, by a size drawn relative to ε at the node's next sync (ε_next): a third of the
   * time inside the band (ε_next, ε_next + width of its last masters' interval], the rest anywhere
   * in [0, 10 × ε_next]; forwards or backwards with equal chance.
   */
  clockSteps?: { meanEveryUs: number };
  /** Runs every ClockSync with the old unsound rule (SyncConfig.unsoundTrustPrediction): teeth. */
  unsoundTrustPrediction?: boolean;
}

export interface SimViolation {
  atUs: number;
  node: string;
  interval: TTInterval;
  /** How far outside: positive µs. */
  byUs: number;
}

export interface SimResult {
  seed: number;
  checks: number;
  violations: number;
  firstViolation?: SimViolation;
  maxEpsilonUs: number;
  syncs: number;
  failedSyncs: number;
  excursions: number;
  rejected: number;
  /** Checks of a synced node that found it not serving. */
  notServing: number;
  firstNotServing?: string;
  /** Clock steps injected, and how many were drawn inside the band (ε_next, ε_next + width]. */
  steps: number;
  stepsInBand: number;
  /** Checks of a serving node, re-anchored since its last step, with true time outside its interval. */
  servingViolations: number;
  firstServingViolation?: SimViolation & { sinceStepUs: number; stepUs: number };
  /** Checks the soundness property applied to (serving, re-anchored since the last step): not vacuous. */
  servingChecks: number;
  /** Checks of a serving node with true time outside, before its first re-anchoring after a step. */
  windowViolations: number;
  /** A digest of every outcome, for determinism tests. */
  fingerprint: number;
}

const START_US = 1_700_000_000_000_000;

interface Proc {
  id: string;
  clock: SkewedClock;
  sync: ClockSync;
  /** Master indexes this process polls. */
  sources: number[];
  /** Clock steps so far, and the count at the start of the last round that re-anchored. */
  steps: number;
  verifiedSteps: number;
  lastStepAt: number;
  lastStepUs: number;
  /** When the round in flight (or the next one) applies, in true time: what ε_next refers to. */
  nextApplyAt: number;
  lastMastersWidthUs: number;
}


export function simulate(o: SimOptions): SimResult {
  const rng = new Rng(o.seed);
  const nodes = o.nodes ?? 4;
  const kinds = o.masters ?? ['reference', 'reference', 'drifting', 'liar'];
  const duration = o.durationUs ?? 600_000_000;
  const interval = o.syncIntervalUs ?? rng.int(1_000_000, 30_000_000);
  const bound = o.driftBoundPpm ?? 200;
  const actual = o.actualDriftPpm ?? bound;
  const u = o.masterUncertaintyUs ?? 100;
  const maxDelay = o.maxDelayUs ?? 20_000;
  const loss = o.loss ?? 0.05;
  const checkEvery = o.checkEveryUs ?? 1_000_000;
  const timeout = 2 * maxDelay + 1_000;
  const syncCfg = (ppm: number): Partial<SyncConfig> => ({
    driftBoundPpm: ppm,
    initialEpsilonUs: 1_000_000,
    maxEpsilonUs: 50_000,
    maxRttUs: Math.ceil(timeout * (1 + ppm / 1e6)),
    maxLiars: o.maxLiars ?? 1,
    ...(o.unsoundTrustPrediction ? { unsoundTrustPrediction: true } : {}),
  });

  const truth = new VirtualClock(START_US);
  const q = new EventQueue();
  const res: SimResult = { seed: o.seed, checks: 0, violations: 0, maxEpsilonUs: 0, syncs: 0, failedSyncs: 0, excursions: 0, rejected: 0, notServing: 0, steps: 0, stepsInBand: 0, servingViolations: 0, servingChecks: 0, windowViolations: 0, fingerprint: 0 };
  const mix = (x: number) => {
    res.fingerprint = (Math.imul(res.fingerprint ^ (x | 0), 0x01000193) + 0x7f4a7c15) | 0;
  };

  // A drift drawn from [-max, max], at the extremes a third of the time.
  const drawDrift = (max: number) => (rng.chance(0.33) ? rng.sign() * max : (rng.next() * 2 - 1) * max);

  // Masters.
  const referenceIdx = kinds.flatMap((k, i) => (k === 'reference' ? [i] : []));
  const lie = rng.sign() * rng.int(2_000, 3_000_000);
  const driftingProcs = new Map<number, Proc>();
  const answer = (i: number): TTInterval => {
    const t = truth.nowUs();
    switch (kinds[i]!) {
      case 'reference': {
        const err = rng.int(-u, u);
        return { earliest: t + err - u, latest: t + err + u };
      }
      case 'liar': {
        const off = o.liarsCollude ? lie : rng.sign() * rng.int(2_000, 3_000_000);
        return { earliest: t + off - u, latest: t + off + u };
      }
      case 'drifting': {
        const p = driftingProcs.get(i)!;
        return p.sync.now(p.clock.nowUs());
      }
    }
  };
  const unstepped = () => ({ steps: 0, verifiedSteps: 0, lastStepAt: 0, lastStepUs: 0, nextApplyAt: 0, lastMastersWidthUs: 2 * u + 2 * maxDelay });
  for (const [i, k] of kinds.entries()) {
    if (k !== 'drifting') continue;
    // An atomic-clock stand-in: tight drift bound, set from a reference when installed.
    const ppm = 10;
    const clock = new SkewedClock(truth, { skewUs: rng.int(-5_000_000, 5_000_000), driftPpm: drawDrift(ppm) });
    const sync = new ClockSync(syncCfg(ppm), clock.nowUs());
    sync.anchorAt(clock.nowUs(), { earliest: truth.nowUs() - 1_000, latest: truth.nowUs() + 1_000 });
    driftingProcs.set(i, { id: `tm-${i}`, clock, sync, sources: referenceIdx, ...unstepped() });
  }

  const procs: Proc[] = [];
  for (let n = 0; n < nodes; n++) {
    const clock = new SkewedClock(truth, { skewUs: rng.int(-900_000, 900_000), driftPpm: drawDrift(actual) });
    procs.push({ id: `n${n + 1}`, clock, sync: new ClockSync(syncCfg(bound), clock.nowUs()), sources: kinds.map((_, i) => i), ...unstepped() });
  }

  const check = (p: Proc) => {
    const t = truth.nowUs();
    const local = p.clock.nowUs();
    const iv = p.sync.now(local);
    res.checks++;
    let serving = false;
    if (p.sync.synced) {
      res.maxEpsilonUs = Math.max(res.maxEpsilonUs, epsilonOf(iv));
      const st = p.sync.status(local);
      serving = st.serving;
      if (!st.serving) {
        res.notServing++;
        res.firstNotServing ??= `${p.id} at ${t - START_US} µs: ${st.detail}`;
      }
    }
    if (serving && p.verifiedSteps === p.steps) res.servingChecks++;
    if (!contains(iv, t)) {
      const v = { atUs: t - START_US, node: p.id, interval: iv, byUs: Math.max(iv.earliest - t, t - iv.latest) };
      res.violations++;
      res.firstViolation ??= v;
      if (serving && p.verifiedSteps === p.steps) {
        res.servingViolations++;
        res.firstServingViolation ??= { ...v, sinceStepUs: t - p.lastStepAt, stepUs: p.lastStepUs };
      } else if (serving) res.windowViolations++;
    }
  };

  const delay = () => rng.int(50, maxDelay);
  const syncRound = (p: Proc, isNode: boolean) => {
    const samples: Sample[] = [];
    const stepsAtStart = p.steps;
    p.nextApplyAt = truth.nowUs() + timeout;
    for (const i of p.sources) {
      if (rng.chance(loss)) continue;
      const sentLocal = p.clock.nowUs();
      q.push(truth.nowUs() + delay(), () => {
        const claim = answer(i);
        if (rng.chance(loss)) return;
        q.push(truth.nowUs() + delay(), () => samples.push({ source: `m${i}`, sentLocal, receivedLocal: p.clock.nowUs(), ...claim }));
      });
    }
    q.push(truth.nowUs() + timeout, () => {
      // Just before a sync is where ε has grown the most: check there and just after.
      if (isNode) check(p);
      const out = p.sync.apply(samples, p.clock.nowUs());
      // A round that started after the last step and re-anchored: the soundness property applies.
      if (out.ok && p.steps === stepsAtStart) p.verifiedSteps = stepsAtStart;
      if (out.masters) p.lastMastersWidthUs = out.masters.latest - out.masters.earliest;
      if (isNode) {
        res.syncs++;
        if (!out.ok) res.failedSyncs++;
        if (out.failure === 'clock-excursion') res.excursions++;
        res.rejected += out.rejected.length;
        mix(out.ok ? 1 : 2);
        mix(out.epsilonAfterUs);
        mix(out.offsetUs ?? -1);
        check(p);
      }
      const next = truth.nowUs() + Math.round(interval * (0.9 + 0.2 * rng.next()));
      p.nextApplyAt = next + timeout;
      q.push(next, () => syncRound(p, isNode));
    });
  };

  for (const p of driftingProcs.values()) q.push(START_US + rng.int(0, interval), () => syncRound(p, false));
  for (const p of procs) {
    q.push(START_US + rng.int(0, interval), () => syncRound(p, true));
    // Drift changes within [-actual, actual] at random moments (the reading stays continuous).
    const redrift = () => {
      p.clock.setDriftPpm(drawDrift(actual));
      q.push(truth.nowUs() + rng.int(10_000_000, 120_000_000), redrift);
    };
    q.push(START_US + rng.int(10_000_000, 120_000_000), redrift);
    if (o.clockSteps) {
      const mean = o.clockSteps.meanEveryUs;
      const step = () => {
        // ε at the next sync, as this node will predict it then (local ≈ true elapsed here).
        const epsNext = epsilonOf(p.sync.now(p.clock.nowUs() + Math.max(0, p.nextApplyAt - truth.nowUs())));
        const inBand = rng.chance(1 / 3);
        const size = inBand ? epsNext + 1 + rng.next() * p.lastMastersWidthUs : rng.next() * 10 * epsNext;
        const d = rng.sign() * Math.round(size);
        p.clock.setSkewUs(p.clock.skewUs + d);
        p.steps++;
        p.lastStepAt = truth.nowUs();
        p.lastStepUs = d;
        res.steps++;
        if (inBand) res.stepsInBand++;
        mix(d);
        q.push(truth.nowUs() + rng.int(Math.round(mean / 2), Math.round((3 * mean) / 2)), step);
      };
      q.push(START_US + rng.int(Math.round(mean / 2), Math.round((3 * mean) / 2)), step);
    }
  }
  const sweep = () => {
    for (const p of procs) check(p);
    q.push(truth.nowUs() + checkEvery, sweep);
  };
  q.push(START_US, sweep);

  for (let ev = q.pop(); ev && ev.at <= START_US + duration; ev = q.pop()) {
    truth.set(ev.at);
    ev.run();
  }
  mix(res.violations);
  return res;
}
