import { majority, type ReplicaConfig } from '@synod/paxos';
import { History, type Violation } from './checkers.js';
import { SimClient } from './client.js';
import { Nemesis } from './nemesis.js';
import { SimNetwork } from './network.js';
import { SimNode } from './node.js';
import { BROKEN_VARIANTS, DATACENTERS, nodeIdForDc, simOptions, type SimOptions } from './options.js';
import { Prng } from './prng.js';
import { Scheduler } from './scheduler.js';
import { Trace } from './trace.js';

export interface GroupStats {
  group: string;
  chosen: number;
  appliedUpTo: Record<string, number>;
  leaders: string[];
  members: string[];
}

/** Largest in-memory structures seen on any replica (sampled), and the bound the log must stay under. */
export interface Footprint {
  maxLog: number;
  maxChosenMap: number;
  maxDedupe: number;
  logBound: number;
  samples: number;
}

export interface SimResult {
  seed: number;
  ok: boolean;
  violations: Violation[];
  traceHash: string;
  trace: string[];
  endUs: number;
  events: number;
  messagesSent: number;
  commandsAcked: number;
  leadershipChanges: number;
  groups: GroupStats[];
  readsServed: number;
  leaseSamples: number;
  snapshotInstalls: number;
  reconfigs: number;
  /** Learners added, learners promoted, leader transfers started, and hand-overs (timeoutNow sent). */
  learners: { added: number; promoted: number; transfers: number; handOffs: number };
  footprint: Footprint;
  /** Ticks at which a leader replica was quiet (quiescent groups; 0 when off). */
  quietLeaderTicks: number;
}

const SETTLE_CHECK_US = 20_000;

/**
 * One deterministic run: a cluster of groups (one replica per DC), clients,
 * and a nemesis, all driven by one seed through one event queue.
 */
export function runSimulation(partial: Partial<SimOptions> & { seed: number }): SimResult {
  const o = simOptions(partial);
  const sched = new Scheduler();
  const root = new Prng(o.seed);
  const trace = new Trace(o.trace);
  const log = (line: string): void => trace.record(sched.nowUs, line);
  const history = new History(() => sched.nowUs, o.window);
  const net = new SimNetwork(sched, root.fork('network'), log, o.networkMaxMessageBytes ?? o.maxMessageBytes, (detail) => history.fail('messages fit the max payload', detail));
  let leadershipChanges = 0;
  const countingLog = (line: string): void => {
    if (line.includes(' leadership leader=true')) leadershipChanges++;
    log(line);
  };

  const dcs = DATACENTERS.slice(0, o.replicas);
  const latRng = root.fork('latency');
  for (let i = 0; i < dcs.length; i++) {
    for (let j = i + 1; j < dcs.length; j++) {
      net.setLatency(dcs[i]!, dcs[j]!, o.fixedLatencyUs ?? latRng.range(1_000, 20_000));
    }
  }
  const nodeIds = dcs.map(nodeIdForDc);
  const members = nodeIds.slice(0, o.members ?? nodeIds.length);
  const groups = Array.from({ length: o.groups }, (_, i) => `g${i}`);
  const q2 = o.q2 ?? majority(members.length);
  for (const group of groups) history.setInitialConfig(group, members, q2);
  const nodes = dcs.map((dc, i) => {
    const self = nodeIds[i]!;
    const configs = new Map<string, ReplicaConfig>();
    for (const group of groups) {
      configs.set(group, {
        group,
        self,
        peers: members,
        q1: o.q1,
        q2: o.q2,
        heartbeatIntervalUs: o.heartbeatIntervalUs,
        electionTimeoutUs: o.electionTimeoutUs,
        leaseDurationUs: o.leaseDurationUs,
        maxDriftPpm: o.maxDriftPpm,
        snapshotIntervalEntries: o.snapshotIntervalEntries,
        snapshotChunkChars: o.snapshotChunkChars,
        window: o.window,
        maxBatch: o.maxBatch,
        maxMessageBytes: o.maxMessageBytes,
        quiesceAfterUs: o.quiesceAfterUs,
        features: o.features,
        brokenForTesting: o.broken ? BROKEN_VARIANTS[o.broken] : {},
      });
    }
    return new SimNode(
      self,
      dc,
      configs,
      sched,
      net,
      root.fork(`node:${self}`),
      history,
      {
        tickUs: o.tickUs,
        fsyncMinUs: 200,
        fsyncMaxUs: 2_000,
        tickPhaseJitter: o.tickPhaseJitter,
        maxDriftPpm: o.maxDriftPpm,
        beatEveryUs: o.quiesceAfterUs > 0 ? o.heartbeatIntervalUs : 0,
        liveForUs: o.electionTimeoutUs,
        peers: nodeIds,
      },
      countingLog,
    );
  });
  const permanentlyDown = new Set(o.permanentlyDown.map(nodeIdForDc));
  for (const n of nodes) if (permanentlyDown.has(n.id)) n.crash();

  const clientRng = root.fork('clients');
  const clients: SimClient[] = [];
  for (const group of groups) {
    const keys = Array.from({ length: o.clientsPerGroup }, (_, c) => `client-${group}-${c}`);
    for (let c = 0; c < o.clientsPerGroup; c++) {
      const id = `client-${group}-${c}`;
      const client = new SimClient(
        id,
        clientRng.pick(dcs),
        group,
        nodeIds,
        sched,
        net,
        clientRng.fork(id),
        history,
        { timeoutUs: o.clientTimeoutUs, thinkMaxUs: o.clientThinkMaxUs, readRatio: o.readRatio, padMaxBytes: o.padMaxBytes, lullEveryUs: o.lullEveryUs, lullUs: o.lullUs },
        log,
        keys,
      );
      clients.push(client);
      client.start();
    }
  }

  const nemesis = new Nemesis(o.faults, sched, net, nodes, dcs, root.fork('nemesis'), log, permanentlyDown, o.networkFaults, o.reconfig ? groups : [], o.slowDisks);
  nemesis.start(o.faultPhaseUs);
  const stopOnViolation = (): boolean => !history.ok;

  /** The group's current members, as the most advanced up replica knows them. */
  const currentMembers = (group: string): string[] => {
    let best: { at: number; peers: string[] } | null = null;
    for (const n of nodes) {
      const r = n.replica(group);
      if (r && (!best || r.chosenUpTo() > best.at)) best = { at: r.chosenUpTo(), peers: r.membership().peers };
    }
    return best?.peers ?? members;
  };

  const groupStats = (): GroupStats[] =>
    groups.map((group) => {
      const appliedUpTo: Record<string, number> = {};
      const leaders: string[] = [];
      for (const n of nodes) {
        const r = n.replica(group);
        appliedUpTo[n.id] = r ? r.appliedUpTo() : -1;
        if (r?.isLeader()) leaders.push(n.id);
      }
      return { group, chosen: history.chosenCount(group), appliedUpTo, leaders, members: currentMembers(group) };
    });

  const settled = (): boolean =>
    clients.every((c) => c.pending === null) &&
    groupStats().every((g) =>
      Object.entries(g.appliedUpTo).every(
        ([id, a]) => permanentlyDown.has(id) || !g.members.includes(id) || a === g.chosen,
      ),
    );

  const footprint: Footprint = {
    maxLog: 0,
    maxChosenMap: 0,
    maxDedupe: 0,
    // A snapshot every I slots, asked for again after 2I without an answer, plus the window in flight.
    logBound: o.snapshotIntervalEntries > 0 ? 2 * o.snapshotIntervalEntries + o.window + 1 : Number.POSITIVE_INFINITY,
    samples: 0,
  };
  if (o.footprintSampleUs > 0) {
    const sample = (): void => {
      footprint.samples++;
      for (const group of groups) {
        let minApplied = Number.POSITIVE_INFINITY;
        for (const n of nodes) {
          const r = n.replica(group);
          if (!r) continue;
          const f = r.footprint();
          footprint.maxLog = Math.max(footprint.maxLog, f.log);
          footprint.maxChosenMap = Math.max(footprint.maxChosenMap, f.chosen);
          footprint.maxDedupe = Math.max(footprint.maxDedupe, f.dedupe);
          minApplied = Math.min(minApplied, n.stateMachine(group)?.upTo ?? 0);
        }
        // Long runs: per-slot checker state below every replica's state machine can go.
        if (o.targetChosen > 0 && Number.isFinite(minApplied) && minApplied > 10_000) history.prune(group, minApplied - 5_000);
      }
      sched.after(o.footprintSampleUs, sample);
    };
    sched.after(o.footprintSampleUs, sample);
  }

  if (o.targetChosen > 0) {
    const reached = (): boolean => !history.ok || groups.every((g) => history.chosenCount(g) >= o.targetChosen);
    sched.runUntil(Number.MAX_SAFE_INTEGER, reached);
  } else sched.runUntil(o.faultPhaseUs, stopOnViolation);
  if (history.ok && o.targetChosen === 0) {
    nemesis.healAll();
    for (const c of clients) c.stopIssuing();
    const deadline = o.faultPhaseUs + o.livenessBoundUs;
    let done = false;
    const check = (): void => {
      if (o.checkLiveness && settled()) done = true;
      else if (sched.nowUs < deadline) sched.after(SETTLE_CHECK_US, check);
    };
    sched.after(SETTLE_CHECK_US, check);
    sched.runUntil(deadline, () => done || !history.ok);
    if (history.ok && o.checkLiveness && !done) {
      const pending = clients.filter((c) => c.pending !== null).map((c) => c.pending!.id);
      history.fail(
        'liveness: pending proposals are chosen after faults stop',
        `after ${o.livenessBoundUs}us: pending=[${pending.join(',')}] groups=${JSON.stringify(groupStats())}`,
      );
    }
  }

  return {
    seed: o.seed,
    ok: history.ok,
    violations: history.violations,
    traceHash: trace.hash,
    trace: trace.lines,
    endUs: sched.nowUs,
    events: trace.count,
    messagesSent: net.sent,
    commandsAcked: clients.reduce((s, c) => s + c.acked, 0),
    leadershipChanges,
    groups: groupStats(),
    readsServed: clients.reduce((s, c) => s + c.readsServed, 0),
    leaseSamples: history.leaseSamples,
    snapshotInstalls: history.installs,
    reconfigs: nemesis.reconfigs,
    learners: { added: nemesis.learnersAdded, promoted: nemesis.promotions, transfers: nemesis.transfers, handOffs: history.handOffs },
    footprint,
    quietLeaderTicks: nodes.reduce((s, n) => s + n.quietLeaderTicks, 0),
  };
}

/**
 * A long, fault-free run: one group until `entries` slots are chosen, with compaction every
 * `snapshotIntervalEntries` slots, many clients and one command per slot (so slots, not
 * commands, are what is counted), footprint sampled every 50 ms.
 */
export function longRunOptions(entries: number, o: Partial<SimOptions> = {}): Partial<SimOptions> & { seed: number } {
  return {
    seed: 1,
    groups: 1,
    faults: 'none',
    clientsPerGroup: 48,
    clientThinkMaxUs: 0,
    readRatio: 0.02,
    fixedLatencyUs: 500,
    window: 64,
    maxBatch: 1,
    snapshotIntervalEntries: 1_000,
    snapshotChunkChars: 64 * 1024,
    checkLiveness: false,
    targetChosen: entries,
    footprintSampleUs: 50_000,
    ...o,
  };
}
