import type { BrokenForTesting, LivenessFeatures, ReplicaConfig } from '@synod/paxos';
import { DEFAULT_CORE_LIMITS, TXN_BROKEN_VARIANTS, type CoreLimits, type TxnBroken } from '@synod/txn';
import { SimNetwork, type NetworkFaults } from '../network.js';
import { Prng } from '../prng.js';
import { Scheduler } from '../scheduler.js';
import { Trace } from '../trace.js';
import { checkSpanHistory } from './checkers.js';
import { INITIAL_BALANCE, SpanClient, type ClientRouter, type OpKind, type SpanClientTiming, type Workload } from './client.js';
import type { SpanHistory, SpanViolation, TwoPhaseEndState } from './history.js';
import { SpanNet } from './net.js';
import { SpanNemesis, SPAN_CALM_NETWORK, type NemesisCounts, type SpanFault, type SpanNemesisOptions } from './nemesis.js';
import { SpanNode, type SplitSpec } from './node.js';
import { SpanRecorder } from './recorder.js';
import { TimeMaster } from './time.js';

export type TxnBrokenVariant = (typeof TXN_BROKEN_VARIANTS)[number];

export interface SpanOptions {
  seed: number;
  /** The run's shape (shapeOptions); by default SPAN_SHAPE_NAMES[seed % SPAN_SHAPE_NAMES.length]. */
  shape: SpanShape;
  trace: boolean;
  /** TxnBroken flags passed to every core (teeth). */
  broken: TxnBrokenVariant[];
  dcs: number;
  splits: number;
  clientsPerDc: number;
  /** Faults (and new client operations) during [0, faultPhaseUs); then everything heals and clients finish. */
  faultPhaseUs: number;
  drainUs: number;
  /** 'none': a calm network and no nemesis; 'standard': the per-seed fault mix. */
  faults: 'none' | 'standard';
  nemesis: Partial<SpanNemesisOptions>;
  /** Overrides the per-seed network faults of the fault phase. */
  network?: Partial<NetworkFaults> | undefined;
  /** Time masters per DC, their uncertainty (µs). */
  mastersPerDc: number;
  masterUncertaintyUs: number;
  /** Static ε asymmetry: the masters of these DCs answer with this uncertainty and no error (regression tests). */
  staticAsym?: Record<string, number> | undefined;
  syncIntervalUs: number;
  maxDriftPpm: number;
  tickUs: number;
  heartbeatIntervalUs: number;
  electionTimeoutUs: number;
  /** Paxos liveness features (default: all on). */
  features: Partial<LivenessFeatures>;
  /** Deliberately broken Paxos cores (teeth of the liveness scenarios); none by default. */
  paxosBroken?: BrokenForTesting | undefined;
  /** Quiescent groups (docs/paxos.md): the replicas' quiesceAfterUs; nodes then beat each other every heartbeat (0: off). */
  quiesceAfterUs: number;
  /** Clients start nothing in the first lullUs of every lullEveryUs (0: never), so splits go idle. */
  lullEveryUs: number;
  lullUs: number;
  /** Lease vote duration: must exceed 2ε of the leader (a timestamp is assigned at now.latest and must stay inside the lease). */
  leaseDurationUs: number;
  client: SpanClientTiming;
  mix: Record<OpKind, number>;
  /** Read-write transactions pick this split with this probability. */
  hot?: { split: string; prob: number } | undefined;
  /** Probability that a read-write operation of each kind spans two splits (two-phase commit). */
  crossSplit: Workload['crossSplit'];
  /** Probability that a multi-split read-only operation reads every split's accounts (the global bank total). */
  auditProb: number;
  /** Cross-split register writes and list appends cover 2..txnSplitsMax splits (unset: 2; Workload.txnSplitsMax). */
  txnSplitsMax?: number | undefined;
  /** Multi-split reads other than audits cover 1..readSplitsMax splits (unset: up to all; Workload.readSplitsMax). */
  readSplitsMax?: number | undefined;
  /**
   * Liveness after the heal: after the drain the run goes on (healed, no new operations) until
   * no replica holds a prepared transaction, a lock or a coordination, for at most this long
   * (default: the larger of the 2PC vote bound and the idle abort, plus 2 s); then
   * twoPhaseLiveness checks what is left. 0: not checked.
   */
  livenessUs?: number | undefined;
  coreLimits: Partial<CoreLimits>;
  /** Cross-DC one-way latency range (drawn per DC pair). */
  latencyUs: [number, number];
  /** Splits whose replicas on other nodes than the named one hold their ticks until `untilUs` (choosing leaders). */
  preferLeaders?: { leaders: Record<string, string>; untilUs: number } | undefined;
  /** No random clients (tests drive scripted ones). */
  noClients: boolean;
  /** Nodes per DC (default 1): the first of each DC hosts every split, the others nothing (the placement scenario moves replicas there). */
  nodesPerDc?: number | undefined;
  /** The placement scenario's hooks (docs/placement-sim.md): clients route by a cached map, 2PC messages go to these nodes. */
  placement?: SpanPlacementHooks | undefined;
}

export interface SpanPlacementHooks {
  routerFor(client: string): ClientRouter;
  peersOf(split: string): readonly string[];
  /** Deliberately broken shell: children hosted at the cut's apply, not its durable write (teeth). */
  hostChildAtApply?: boolean | undefined;
}

/** Something else the run drives (the placement scenario's driver): started with the faults, waited for in the drain, checked at the end. */
export interface SpanService {
  start(faultPhaseUs: number): void;
  readonly busy: boolean;
  /**
   * Whether what the final checks expect of replicas holds yet: the settle after the drain goes
   * on (within the drain bound) until it does, since a replica whose disk was stalled may still be
   * working through its backlog at the heal. The final checks still fail if it never does.
   */
  settled?(): boolean;
  finalChecks(): SpanViolation[];
}

/** Most transfers cross splits; some register writes and list appends do; the rest stay on one split. */
export const DEFAULT_CROSS_SPLIT: Workload['crossSplit'] = { transfer: 0.7, register: 0.4, append: 0.4 };

export const DEFAULT_SPAN_OPTIONS: Omit<SpanOptions, 'seed' | 'shape'> = {
  trace: false,
  broken: [],
  dcs: 3,
  splits: 3,
  clientsPerDc: 2,
  faultPhaseUs: 5_000_000,
  drainUs: 2_500_000,
  faults: 'standard',
  nemesis: {},
  mastersPerDc: 5,
  masterUncertaintyUs: 300,
  syncIntervalUs: 1_000_000,
  maxDriftPpm: 200,
  tickUs: 5_000,
  heartbeatIntervalUs: 20_000,
  electionTimeoutUs: 150_000,
  features: {},
  quiesceAfterUs: 0,
  lullEveryUs: 0,
  lullUs: 0,
  leaseDurationUs: 600_000,
  client: {
    requestTimeoutUs: 600_000,
    serverWaitUs: 400_000,
    lockReadTimeoutUs: 250_000,
    lockReadWaitUs: 150_000,
    txnDeadlineUs: 2_000_000,
    statusDeadlineUs: 2_000_000,
    thinkMaxUs: 20_000,
    computeMaxUs: 2_000,
    rereadProb: 0.1,
    backgroundStatusProb: 0.3,
    noEpochProb: 0.05,
  },
  mix: { transfer: 25, register: 12, append: 10, strong: 23, strong1: 10, snapshot: 10, stale: 10 },
  // Production's idle abort (10 s) and 2PC vote bound (5 s) scaled to the 5 s fault phase: the
  // presumed abort of rule 16 happens (and must be safe) under faults, not only after them.
  coreLimits: { idleAbortUs: 2_000_000, prepareBoundUs: 1_000_000 },
  crossSplit: DEFAULT_CROSS_SPLIT,
  auditProb: 0.4,
  latencyUs: [2_000, 15_000],
  noClients: false,
};

export const DEFAULT_NEMESIS: SpanNemesisOptions = {
  weights: { 'isolate-dc': 2, 'isolate-node': 1, 'one-way': 1, heal: 2, crash: 1, 'crash-leader': 2, stall: 2, step: 2, asym: 3, depose: 1 },
  gapUs: [200_000, 700_000],
  leaderBias: 0.5,
  stallProb: 0.02,
  stallDelayUs: 400_000,
  asymUncertaintyUs: 150_000,
  stepUs: [5_000, 300_000],
  deposeAsymProb: 0.3,
  deposeHealAtLeaseEndProb: 0.3,
  deposeCrashWithinUs: 30_000,
  leaseUs: 600_000,
  farBiasFraction: 0.9,
};

export interface SpanTotals {
  rwCommitted: number;
  /** Of which cross-split (two-phase commit). */
  xsplitCommitted: number;
  roCompleted: number;
  aborts: number;
  leaderChanges: number;
  clockSteps: number;
  crashes: number;
  statusLookups: number;
  unknownOutcomes: number;
  stalledWrites: number;
  syncs: number;
  /** Commits refused by the apply-time rule (a deposed leader's late entry). */
  applyRefusals: number;
  /** Ticks at which a leader replica was quiet (quiescence; 0 when off). */
  quietLeaderTicks: number;
}

export interface SpanResult {
  seed: number;
  ok: boolean;
  violations: SpanViolation[];
  /** Checkers that reported a violation, in checker order. */
  failedCheckers: string[];
  trace: string[];
  traceHash: string;
  events: number;
  endUs: number;
  totals: SpanTotals;
  history: SpanHistory;
}

const DC_NAMES = ['dc-a', 'dc-b', 'dc-c', 'dc-d', 'dc-e'];

/**
 * The key prefix of split `i` of `n`: `k<i>`, zero-padded to the width of `n - 1` so that the
 * prefixes sort as the splits do (with `k9` and `k10`, `[k1, k2)` would hold `k10/…`). Up to 10
 * splits (the default 3) the names are unpadded, as they always were.
 */
export function splitKeyPrefix(i: number, n: number): string {
  return `k${String(i).padStart(String(Math.max(0, n - 1)).length, '0')}`;
}

/** `n` splits cutting the key space into consecutive ranges: `s0 ['', k1)`, `s1 [k1, k2)`, …, `s<n-1> [k<n-1>, '')`. */
export function spanSplits(n: number): SplitSpec[] {
  return Array.from({ length: n }, (_, i) => ({ id: `s${i}`, start: i === 0 ? '' : splitKeyPrefix(i, n), end: i === n - 1 ? '' : splitKeyPrefix(i + 1, n) }));
}

export function spanWorkload(
  splits: readonly SplitSpec[],
  mix: Record<OpKind, number>,
  hot?: Workload['hot'],
  crossSplit: Workload['crossSplit'] = DEFAULT_CROSS_SPLIT,
  auditProb = 0.4,
  width: Pick<Workload, 'txnSplitsMax' | 'readSplitsMax'> = {},
): Workload {
  const per = (kind: string, n: number) => Object.fromEntries(splits.map((s, i) => [s.id, Array.from({ length: n }, (_, j) => `${splitKeyPrefix(i, splits.length)}/${kind}/${j}`)]));
  return { splits, accounts: per('acct', 4), registers: per('reg', 4), lists: per('list', 3), mix, hot, crossSplit, auditProb, ...width };
}

/**
 * Run shapes: every seed runs the same workload and fault kinds, but each shape leans on one
 * mechanism of the core (seed % 6 picks it, so any 6 consecutive seeds cover all):
 *  - standard: the default mix;
 *  - lease-edge: leaders cut off with a large ε, check-quorum off (a cut-off leader keeps leading
 *    until its lease ends), strong reads mostly at the leader: timestamps at the end of a lease;
 *  - slow-clients: clients think between their reads and their commit and often re-read; idle
 *    transactions are aborted and forgotten quickly: read locks and epochs that lapse;
 *  - failover: leaders crash and are cut off often (their successors too), applies stall: new
 *    leaders taking over;
 *  - deposed: read-write transactions crowd one split, whose leader is cut off (its own DC's
 *    clients still reach it, so it goes on proposing what it cannot get chosen) and whose
 *    successor crashes as soon as it leads: the next leader finds the first one's late proposals
 *    and must not let them slip under timestamps already applied;
 *  - big-epsilon-failover: short leases and quick elections; a leader's time masters turn far
 *    (ε ≈ 150 ms, answers leaning ahead), so its now.latest lies almost 300 ms ahead, beyond its
 *    lease, and its strong reads wait for `closed` log entries that no lease bounds; right after it
 *    proposes one, its DC is cut off, and a small-ε successor (read-write transactions crowd that
 *    split) takes over as soon as the lease votes allow: it finds that entry in its phase 1 and
 *    applies it after its epoch barrier was assigned, so its commits must observe what it applied.
 */
export const SPAN_SHAPE_NAMES = ['standard', 'lease-edge', 'slow-clients', 'failover', 'deposed', 'big-epsilon-failover'] as const;
export type SpanShape = (typeof SPAN_SHAPE_NAMES)[number];

export function shapeOptions(shape: SpanShape): Partial<Omit<SpanOptions, 'seed' | 'shape'>> {
  const d = DEFAULT_SPAN_OPTIONS;
  switch (shape) {
    case 'standard':
      return {};
    case 'lease-edge':
      return {
        features: { checkQuorum: false },
        leaseDurationUs: 400_000,
        clientsPerDc: 3,
        client: { ...d.client, backgroundStatusProb: 1 },
        nemesis: { weights: { 'isolate-dc': 4, 'one-way': 2, heal: 1, 'crash-leader': 1, stall: 1, asym: 5, depose: 3 }, leaderBias: 0.9 },
        mix: { ...d.mix, strong: 15, strong1: 25 },
      };
    case 'slow-clients':
      return { coreLimits: { ...d.coreLimits, idleAbortUs: 40_000 }, client: { ...d.client, computeMaxUs: 150_000, rereadProb: 0.5, noEpochProb: 0.2 } };
    case 'failover':
      return {
        nemesis: { weights: { 'isolate-dc': 2, 'isolate-node': 1, heal: 1, crash: 1, 'crash-leader': 4, stall: 4, asym: 1, depose: 2 }, stallProb: 0.05 },
        client: { ...d.client, computeMaxUs: 100_000, rereadProb: 0.5 },
      };
    case 'deposed':
      return {
        features: { checkQuorum: false },
        clientsPerDc: 3,
        hot: { split: 's0', prob: 0.9 },
        mix: { transfer: 40, register: 25, append: 20, strong: 5, strong1: 5, snapshot: 3, stale: 2 },
        // Clients give up early (and look outcomes up in the background) to keep the cut-off leader busy.
        client: { ...d.client, requestTimeoutUs: 250_000, serverWaitUs: 150_000, lockReadTimeoutUs: 150_000, lockReadWaitUs: 100_000, backgroundStatusProb: 1 },
        nemesis: { weights: { depose: 6, heal: 1, 'crash-leader': 1, stall: 1 }, deposeSplit: 's0', deposeAsymProb: 0, deposeHealAtLeaseEndProb: 0, leaderBias: 0.9, gapUs: [300_000, 900_000] },
      };
    case 'big-epsilon-failover':
      // The far leader's 2ε (≈ 300 ms) exceeds the 150 ms lease, so it cannot commit, and its
      // `closed` entries lie ≈ 285 ms ahead: a successor leads once the lease votes that entry won
      // run out (≈ 150–250 ms later) and reaches its first commits while the entry is still ahead.
      return {
        leaseDurationUs: 150_000,
        electionTimeoutUs: 50_000,
        heartbeatIntervalUs: 10_000,
        clientsPerDc: 3,
        hot: { split: 's0', prob: 0.8 },
        mix: { transfer: 30, register: 15, append: 10, strong: 10, strong1: 25, snapshot: 5, stale: 5 },
        // Clients give up on a cut-off leader quickly, to find its successor while the far entry is still ahead.
        client: { ...d.client, requestTimeoutUs: 120_000, serverWaitUs: 80_000, lockReadTimeoutUs: 100_000, lockReadWaitUs: 60_000, thinkMaxUs: 10_000, backgroundStatusProb: 1 },
        nemesis: { weights: { 'eps-failover': 6, heal: 1, crash: 1, stall: 1 }, failoverSplit: 's0', asymUncertaintyUs: 150_000, gapUs: [200_000, 600_000] },
      };
  }
}

/** At most this many splits (`--splits`): every node hosts a replica of each, so the run's memory and time grow with it. */
export const MAX_SPAN_SPLITS = 256;

/**
 * The span scenario with many splits per node (libs/sim/src/span/README.md, "Many splits per
 * node"): `n` splits cutting the key space into `n` ranges, each a Paxos group with a replica on
 * every node, and a workload spread over them: cross-split register writes and list appends cover
 * 2–4 splits (two-phase commit across several), and reads other than audits 1–4 splits (an audit
 * still reads every split's accounts), so that no client spends its fault phase reading half the
 * splits one after the other.
 */
/** `--quiesce`: splits go quiet after 200 ms idle, and clients start nothing for 1.2 s of every 2 s, so quiet splits are woken under faults. */
export const SPAN_QUIESCE_OPTIONS: Pick<SpanOptions, 'quiesceAfterUs' | 'lullEveryUs' | 'lullUs'> = { quiesceAfterUs: 200_000, lullEveryUs: 2_000_000, lullUs: 1_200_000 };

export function manySplitsOptions(n: number): Pick<SpanOptions, 'splits' | 'txnSplitsMax' | 'readSplitsMax'> {
  if (!Number.isInteger(n) || n < 1 || n > MAX_SPAN_SPLITS) throw new Error(`splits must be an integer in 1..${MAX_SPAN_SPLITS}, not ${n}`);
  return { splits: n, txnSplitsMax: 4, readSplitsMax: 4 };
}

export function spanOptions(partial: Partial<SpanOptions> & { seed: number }): SpanOptions {
  const shape = partial.shape ?? SPAN_SHAPE_NAMES[partial.seed % SPAN_SHAPE_NAMES.length]!;
  return { ...DEFAULT_SPAN_OPTIONS, ...shapeOptions(shape), ...partial, shape };
}

/** The simulated cluster of one run, for tests that drive it by hand. */
export interface SpanWorld {
  o: SpanOptions;
  sched: Scheduler;
  rec: SpanRecorder;
  net: SpanNet;
  nodes: SpanNode[];
  masters: TimeMaster[];
  clients: SpanClient[];
  nemesis: SpanNemesis;
  log: (line: string) => void;
  trace: Trace;
  dcs: string[];
  splits: SplitSpec[];
  workload: Workload;
  root: Prng;
  services: SpanService[];
}

export function buildSpanWorld(partial: Partial<SpanOptions> & { seed: number }): SpanWorld {
  const o = spanOptions(partial);
  const sched = new Scheduler();
  const root = new Prng(o.seed);
  const trace = new Trace(o.trace);
  const log = (line: string): void => trace.record(sched.nowUs, line);
  const splits = spanSplits(o.splits);
  const workload = spanWorkload(splits, o.mix, o.hot, o.crossSplit, o.auditProb, { txnSplitsMax: o.txnSplitsMax, readSplitsMax: o.readSplitsMax });
  const rec = new SpanRecorder(() => sched.nowUs, { initial: INITIAL_BALANCE, accounts: workload.accounts });
  const net = new SpanNet(new SimNetwork(sched, root.fork('network'), log), o.trace);
  const dcs = DC_NAMES.slice(0, o.dcs);
  const latRng = root.fork('latency');
  for (let i = 0; i < dcs.length; i++) for (let j = i + 1; j < dcs.length; j++) net.net.setLatency(dcs[i]!, dcs[j]!, latRng.range(...o.latencyUs));

  const masterRng = root.fork('masters');
  const masters: TimeMaster[] = [];
  for (const dc of dcs)
    for (let i = 0; i < o.mastersPerDc; i++) {
      const asym = o.staticAsym?.[dc];
      masters.push(new TimeMaster(`tm-${dc}-${i}`, dc, sched, masterRng.fork(`${dc}/${i}`), net, asym ?? o.masterUncertaintyUs, asym !== undefined ? 0 : 1));
    }

  const perDc = o.nodesPerDc ?? 1;
  const voterIds = dcs.map((dc) => `n-${dc.slice(3)}`);
  const placed = dcs.flatMap((dc, i) => Array.from({ length: perDc }, (_, k) => ({ dc, id: k === 0 ? voterIds[i]! : `n-${dc.slice(3)}${k + 1}` })));
  const nodeIds = placed.map((p) => p.id);
  const dcOf = (node: string): string => placed.find((p) => p.id === node)!.dc;
  const brokenFlags: TxnBroken = Object.fromEntries(o.broken.map((b) => [b, true]));
  const holdTicks = (node: string): Record<string, number> | undefined => {
    const p = o.preferLeaders;
    if (!p) return undefined;
    return Object.fromEntries(Object.entries(p.leaders).filter(([, leader]) => leader !== node).map(([split]) => [split, p.untilUs]));
  };
  const nodes = placed.map(({ dc, id }) => {
    const config = (split: string): ReplicaConfig => ({
      group: split,
      self: id,
      peers: voterIds,
      heartbeatIntervalUs: o.heartbeatIntervalUs,
      electionTimeoutUs: o.electionTimeoutUs,
      leaseDurationUs: o.leaseDurationUs,
      features: o.features,
      ...(o.paxosBroken ? { brokenForTesting: o.paxosBroken } : {}),
      quiesceAfterUs: o.quiesceAfterUs,
      maxDriftPpm: o.maxDriftPpm,
      window: 16,
      maxBatch: 16,
    });
    const dcMasters = masters.filter((m) => m.dc === dc).map((m) => m.id);
    return new SpanNode(
      id,
      dc,
      voterIds.includes(id) ? splits : [],
      config,
      () => dcMasters,
      sched,
      net,
      root.fork(`node:${id}`),
      rec,
      {
        tickUs: o.tickUs,
        fsyncMinUs: 200,
        fsyncMaxUs: 2_000,
        maxDriftPpm: o.maxDriftPpm,
        maxBootErrorUs: 500_000,
        time: {
          syncIntervalUs: o.syncIntervalUs,
          requestTimeoutUs: 30_000,
          syncConfig: { driftBoundPpm: o.maxDriftPpm, initialEpsilonUs: 1_000_000, maxEpsilonUs: 300_000, maxRttUs: 31_000, maxLiars: 1 },
        },
        coreLimits: o.coreLimits,
        broken: brokenFlags,
        pauseWhenNotServing: true,
        timeMarkEveryUs: 1_000_000,
        holdTicksUntil: holdTicks(id),
        peersOf: o.placement?.peersOf,
        answerUnhosted: o.placement !== undefined,
        hostChildAtApply: o.placement?.hostChildAtApply,
        beatEveryUs: o.quiesceAfterUs > 0 ? o.heartbeatIntervalUs : 0,
        liveForUs: o.electionTimeoutUs,
        nodes: nodeIds,
      },
      log,
    );
  });

  const clients: SpanClient[] = [];
  if (!o.noClients) {
    const clientRng = root.fork('clients');
    for (const dc of dcs)
      for (let c = 0; c < o.clientsPerDc; c++) {
        const id = `c-${dc.slice(3)}${c}`;
        clients.push(new SpanClient(id, dc, nodeIds, dcOf, sched, net, clientRng.fork(id), rec.history, workload, { ...o.client, lullEveryUs: o.lullEveryUs, lullUs: o.lullUs }, log, o.placement?.routerFor(id)));
      }
  }
  const nemesis = new SpanNemesis({ ...DEFAULT_NEMESIS, leaseUs: o.leaseDurationUs, ...o.nemesis }, sched, net, nodes, dcs, masters, root.fork('nemesis'), log);
  return { o, sched, rec, net, nodes, masters, clients, nemesis, log, trace, dcs, splits, workload, root, services: [] };
}

/** The fault phase's network, drawn per seed. */
function seedNetwork(rng: Prng): NetworkFaults {
  return {
    lossProb: rng.pick([0, 0.01, 0.03]),
    dupProb: rng.pick([0, 0.01, 0.03]),
    jitterUs: rng.pick([500, 2_000, 5_000]),
    longDelayProb: rng.pick([0, 0.002, 0.005]),
    longDelayUs: 150_000,
  };
}

/** What every up replica holds of 2PC and locks now (core.twoPhaseState()). */
export function twoPhaseStates(w: SpanWorld): TwoPhaseEndState[] {
  const out: TwoPhaseEndState[] = [];
  for (const n of w.nodes) {
    if (!n.up) continue;
    for (const split of n.hosted()) {
      const st = n.core(split)?.twoPhaseState();
      if (st) out.push({ node: n.id, split, locksHeld: st.locksHeld, prepared: st.prepared, coordinating: st.coordinating });
    }
  }
  return out;
}

const settledState = (s: TwoPhaseEndState) => s.prepared.length === 0 && s.locksHeld === 0 && s.coordinating === 0;

/**
 * Liveness after the heal: runs on (healed, no new operations) until no replica holds a prepared
 * transaction, a lock or a coordination, for at most `livenessUs`, and records what is left for
 * twoPhaseLiveness.
 */
function awaitTwoPhaseSettled(w: SpanWorld): void {
  const { o, sched, rec } = w;
  const limits = { ...DEFAULT_CORE_LIMITS, ...o.coreLimits };
  const boundUs = o.livenessUs ?? Math.max(limits.prepareBoundUs, limits.idleAbortUs) + 2_000_000;
  if (boundUs <= 0) return;
  const from = sched.nowUs;
  let settled = twoPhaseStates(w).every(settledState);
  if (!settled) {
    const poll = (): void => {
      if (twoPhaseStates(w).every(settledState)) settled = true;
      else if (sched.nowUs < from + boundUs) sched.after(20_000, poll);
    };
    sched.after(20_000, poll);
    sched.runUntil(from + boundUs, () => !rec.ok || settled);
  }
  const waited = sched.nowUs - from;
  if (waited > 0) w.log(`liveness: 2PC settled ${settled ? '' : 'NOT '}after ${waited}us past the drain`);
  rec.history.end = { healUs: o.faultPhaseUs, atUs: sched.nowUs, boundUs, states: twoPhaseStates(w) };
}

/** Runs the world to the end (fault phase, heal, drain) and checks the history. */
export function finishSpanWorld(w: SpanWorld): SpanResult {
  const { o, sched, rec, nodes, clients, nemesis } = w;
  const violations: SpanViolation[] = [];
  try {
    if (o.faults === 'standard') nemesis.start(o.faultPhaseUs, { ...seedNetwork(w.root.fork('netfaults')), ...o.network });
    else w.net.net.faults = { ...SPAN_CALM_NETWORK, ...o.network };
    for (const c of clients) c.start();
    for (const s of w.services) s.start(o.faultPhaseUs);
    sched.runUntil(o.faultPhaseUs, () => !rec.ok);
    if (rec.ok) {
      if (o.faults === 'standard') nemesis.healAll();
      for (const c of clients) c.stopIssuing();
      const end = o.faultPhaseUs + o.drainUs;
      sched.runUntil(end, () => !rec.ok || (clients.every((c) => !c.busy) && w.services.every((s) => !s.busy)));
      // Settle: a little more time for replicas to apply what the last operations committed,
      // and, within the drain bound, until every service's replicas have caught up.
      sched.runUntil(Math.min(end, sched.nowUs + 300_000), () => !rec.ok);
      sched.runUntil(end, () => !rec.ok || w.services.every((s) => s.settled?.() ?? true));
      if (rec.ok) awaitTwoPhaseSettled(w);
    }
  } catch (err) {
    violations.push({ checker: 'simulator', detail: err instanceof Error ? (err.stack ?? err.message) : String(err), atUs: sched.nowUs });
  }
  violations.push(...rec.online, ...checkSpanHistory(rec.history));
  if (!violations.some((v) => v.checker === 'simulator')) for (const s of w.services) violations.push(...s.finalChecks());
  const failedCheckers = [...new Set(violations.map((v) => v.checker))];
  const sum = (f: (c: SpanClient) => number) => clients.reduce((s, c) => s + f(c), 0);
  const totals: SpanTotals = {
    rwCommitted: sum((c) => c.stats.rwCommitted),
    xsplitCommitted: sum((c) => c.stats.xsplitCommitted),
    roCompleted: sum((c) => c.stats.roCompleted),
    aborts: sum((c) => c.stats.rwAborted),
    leaderChanges: nodes.reduce((s, n) => s + n.leaderships, 0),
    clockSteps: nemesis.counts.clockSteps,
    crashes: nemesis.counts.crashes,
    statusLookups: sum((c) => c.stats.statusLookups),
    unknownOutcomes: sum((c) => c.stats.unknown),
    stalledWrites: nodes.reduce((s, n) => s + n.stalledWrites, 0),
    syncs: nodes.reduce((s, n) => s + n.time.syncs, 0),
    applyRefusals: rec.applyRefusals,
    quietLeaderTicks: nodes.reduce((s, n) => s + n.quietLeaderTicks, 0),
  };
  return {
    seed: o.seed,
    ok: violations.length === 0,
    violations,
    failedCheckers,
    trace: w.trace.lines,
    traceHash: w.trace.hash,
    events: w.trace.count,
    endUs: sched.nowUs,
    totals,
    history: rec.history,
  };
}

export function runSpan(partial: Partial<SpanOptions> & { seed: number }): SpanResult {
  return finishSpanWorld(buildSpanWorld(partial));
}

export type { SpanFault };
