import type { ReplicaConfig } from '@synod/paxos';
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
  const history = new History(() => sched.nowUs);
  const net = new SimNetwork(sched, root.fork('network'), log);
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
  const groups = Array.from({ length: o.groups }, (_, i) => `g${i}`);
  const nodes = dcs.map((dc, i) => {
    const self = nodeIds[i]!;
    const configs = new Map<string, ReplicaConfig>();
    for (const group of groups) {
      configs.set(group, {
        group,
        self,
        peers: nodeIds,
        heartbeatIntervalUs: o.heartbeatIntervalUs,
        electionTimeoutUs: o.electionTimeoutUs,
        window: o.window,
        maxBatch: o.maxBatch,
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
      { tickUs: o.tickUs, fsyncMinUs: 200, fsyncMaxUs: 2_000, tickPhaseJitter: o.tickPhaseJitter },
      countingLog,
    );
  });
  const permanentlyDown = new Set(o.permanentlyDown.map(nodeIdForDc));
  for (const n of nodes) if (permanentlyDown.has(n.id)) n.crash();

  const clientRng = root.fork('clients');
  const clients: SimClient[] = [];
  for (const group of groups) {
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
        { timeoutUs: o.clientTimeoutUs, thinkMaxUs: 10_000 },
        log,
      );
      clients.push(client);
      client.start();
    }
  }

  const nemesis = new Nemesis(o.faults, sched, net, nodes, dcs, root.fork('nemesis'), log, permanentlyDown, o.networkFaults);
  nemesis.start(o.faultPhaseUs);
  const stopOnViolation = (): boolean => !history.ok;

  const groupStats = (): GroupStats[] =>
    groups.map((group) => {
      const appliedUpTo: Record<string, number> = {};
      const leaders: string[] = [];
      for (const n of nodes) {
        const r = n.replica(group);
        appliedUpTo[n.id] = r ? r.appliedUpTo() : -1;
        if (r?.isLeader()) leaders.push(n.id);
      }
      return { group, chosen: history.chosenCount(group), appliedUpTo, leaders };
    });

  const settled = (): boolean =>
    clients.every((c) => c.pending === null) &&
    groupStats().every((g) =>
      Object.entries(g.appliedUpTo).every(([id, a]) => permanentlyDown.has(id) || a === g.chosen),
    );

  sched.runUntil(o.faultPhaseUs, stopOnViolation);
  if (history.ok) {
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
  };
}
