import type { SimNetwork, NetworkFaults } from './network.js';
import type { SimNode } from './node.js';
import type { FaultMode } from './options.js';
import type { Prng } from './prng.js';
import type { Scheduler } from './scheduler.js';

const NETWORK_FAULTS: Record<FaultMode, NetworkFaults> = {
  none: { lossProb: 0, dupProb: 0, jitterUs: 1_000, longDelayProb: 0, longDelayUs: 0 },
  light: { lossProb: 0.01, dupProb: 0.01, jitterUs: 3_000, longDelayProb: 0.002, longDelayUs: 100_000 },
  heavy: { lossProb: 0.05, dupProb: 0.05, jitterUs: 15_000, longDelayProb: 0.01, longDelayUs: 250_000 },
};

/** What the network looks like once faults stop: no loss, a little jitter. */
export const CALM_NETWORK: NetworkFaults = NETWORK_FAULTS.none;

type Action = 'slow-disk' | 'isolate' | 'isolate-leader' | 'mute-leader' | 'one-way' | 'heal' | 'crash' | 'crash-leader' | 'restart' | 'replace' | 'add' | 'remove' | 'add-learner' | 'promote' | 'transfer';

/** Quorum sizes the nemesis picks from for a group of n members (all satisfy q1 + q2 > n). */
const QUORUMS: Record<number, Array<[number, number]>> = {
  1: [[1, 1]],
  2: [[2, 1], [1, 2], [2, 2]],
  3: [[2, 2], [3, 1], [2, 2], [3, 2]],
  4: [[3, 2], [2, 3], [3, 3]],
  5: [[3, 3], [4, 2], [2, 4]],
};

const ACTIONS: Record<FaultMode, Action[]> = {
  none: [],
  light: ['isolate', 'heal', 'crash', 'restart', 'heal', 'crash-leader'],
  heavy: ['isolate', 'one-way', 'heal', 'crash', 'crash-leader', 'restart', 'isolate-leader', 'mute-leader', 'crash-leader'],
};

/** A crashed node comes back on its own after a downtime drawn from here (or via 'restart'). */
const DOWNTIME_US: Record<FaultMode, [number, number]> = {
  none: [0, 0],
  light: [50_000, 500_000],
  heavy: [5_000, 400_000],
};

const GAP_US: Record<FaultMode, [number, number]> = {
  none: [0, 0],
  light: [300_000, 800_000],
  heavy: [50_000, 300_000],
};

/**
 * Injects partitions (whole-DC and one-way), crash-restarts and lossy links
 * during the fault phase, then heals everything at its end.
 */
export class Nemesis {
  constructor(
    private readonly mode: FaultMode,
    private readonly sched: Scheduler,
    private readonly net: SimNetwork,
    private readonly nodes: readonly SimNode[],
    private readonly dcs: readonly string[],
    private readonly rng: Prng,
    private readonly trace: (line: string) => void,
    private readonly permanentlyDown: ReadonlySet<string>,
    private readonly networkOverride: Partial<NetworkFaults> = {},
    /** Groups whose membership the nemesis changes (empty: none). */
    private readonly reconfigGroups: readonly string[] = [],
    /** Also stall disks (SimOptions.slowDisks). */
    private readonly slowDisks = false,
  ) {}

  reconfigs = 0;
  /** Learners added, learners promoted, leader transfers started (for the run's summary and tests). */
  learnersAdded = 0;
  promotions = 0;
  transfers = 0;

  start(faultPhaseUs: number): void {
    this.net.faults = { ...NETWORK_FAULTS[this.mode], ...this.networkOverride };
    const actions: Action[] = [...ACTIONS[this.mode]];
    if (this.reconfigGroups.length > 0) actions.push('replace', 'replace', 'add', 'remove', 'add-learner', 'add-learner', 'promote', 'promote', 'transfer', 'transfer');
    if (this.slowDisks) actions.push('slow-disk', 'slow-disk', 'slow-disk');
    if (actions.length === 0) return;
    const [lo, hi] = GAP_US[this.mode];
    const step = (): void => {
      if (this.sched.nowUs >= faultPhaseUs) return;
      this.act(this.rng.pick(actions));
      this.sched.after(this.rng.range(lo, hi), step);
    };
    this.sched.after(this.rng.range(lo, hi), step);
  }

  /** Faults stop: heal every link, restart every crashed node, calm the network. */
  healAll(): void {
    this.net.healAll();
    this.net.faults = { ...CALM_NETWORK, ...this.networkOverride };
    for (const n of this.nodes) if (!this.permanentlyDown.has(n.id)) n.restart();
    this.trace('nemesis heal-all');
  }

  private act(a: Action): void {
    switch (a) {
      case 'isolate':
      case 'isolate-leader': {
        // A leader cut off from everyone keeps believing it leads: its lease must run out
        // before anyone else's can start.
        const leaders = this.nodes.filter((n) => n.up && n.isLeaderOfAny()).map((n) => n.dc);
        const dc = a === 'isolate-leader' && leaders.length > 0 ? this.rng.pick(leaders) : this.rng.pick(this.dcs);
        this.net.isolate(dc, this.dcs);
        this.trace(`nemesis isolate ${dc}`);
        return;
      }
      case 'mute-leader': {
        // The leader's DC can receive but not send (a broken transmit path): replies to what
        // it sent before still arrive.
        const leaders = this.nodes.filter((n) => n.up && n.isLeaderOfAny()).map((n) => n.dc);
        const dc = leaders.length > 0 ? this.rng.pick(leaders) : this.rng.pick(this.dcs);
        for (const other of this.dcs) if (other !== dc) this.net.cutLink(dc, other);
        this.trace(`nemesis mute ${dc}`);
        return;
      }
      case 'one-way': {
        const from = this.rng.pick(this.dcs);
        const to = this.rng.pick(this.dcs.filter((d) => d !== from));
        this.net.cutLink(from, to);
        this.trace(`nemesis cut ${from}>${to}`);
        return;
      }
      case 'slow-disk': {
        // Mostly a leader's: its followers' votes then arrive before its own is durable.
        const up = this.nodes.filter((n) => n.up);
        const leaders = up.filter((n) => n.isLeaderOfAny());
        const pool = leaders.length > 0 && this.rng.chance(0.8) ? leaders : up;
        if (pool.length === 0) return;
        this.rng.pick(pool).slowDisk(this.sched.nowUs + this.rng.range(50_000, 300_000), this.rng.range(5_000, 40_000));
        return;
      }
      case 'heal':
        this.net.healAll();
        this.trace('nemesis heal');
        return;
      case 'crash':
      case 'crash-leader': {
        const up = this.nodes.filter((n) => n.up);
        const leaders = up.filter((n) => n.isLeaderOfAny());
        const pool = a === 'crash-leader' && leaders.length > 0 ? leaders : up;
        if (pool.length === 0) return;
        const victim = this.rng.pick(pool);
        victim.crash();
        const [lo, hi] = DOWNTIME_US[this.mode];
        const inc = victim.incarnation;
        this.sched.after(this.rng.range(lo, hi), () => {
          if (victim.incarnation === inc && !this.permanentlyDown.has(victim.id)) victim.restart();
        });
        return;
      }
      case 'replace':
      case 'add':
      case 'remove':
        this.changeMembership(a);
        return;
      case 'add-learner':
      case 'promote':
        this.learnerStep(a);
        return;
      case 'transfer':
        this.transferLeader();
        return;
      case 'restart': {
        const down = this.nodes.filter((n) => !n.up && !this.permanentlyDown.has(n.id));
        if (down.length > 0) this.rng.pick(down).restart();
        return;
      }
    }
  }

  /**
   * Membership changes through the group's leader: `replace` swaps a member (a crashed one
   * if any, else one it crashes now, which stays down) for a spare node, which must then
   * catch up (by snapshot if the log was compacted); `add` and `remove` grow and shrink the
   * group between 3 and 5. Quorum sizes are drawn from the valid flexible ones.
   */
  private changeMembership(a: 'replace' | 'add' | 'remove'): void {
    const group = this.rng.pick(this.reconfigGroups);
    const leader = this.nodes.find((n) => n.up && n.replica(group)?.isLeader());
    if (!leader) return;
    const peers = leader.replica(group)!.membership().peers;
    const spares = this.nodes.filter((n) => !peers.includes(n.id) && !this.permanentlyDown.has(n.id));
    let next: string[];
    let victim: SimNode | undefined;
    if (a === 'replace') {
      if (spares.length === 0) return;
      const members = this.nodes.filter((n) => peers.includes(n.id) && n !== leader);
      if (members.length === 0) return;
      const down = members.filter((n) => !n.up);
      victim = down.length > 0 ? this.rng.pick(down) : this.rng.pick(members);
      const spare = this.rng.pick(spares);
      if (!spare.up) spare.restart();
      next = peers.map((p) => (p === victim!.id ? spare.id : p));
    } else if (a === 'add') {
      if (spares.length === 0 || peers.length >= 5) return;
      const spare = this.rng.pick(spares);
      if (!spare.up) spare.restart();
      next = [...peers, spare.id];
    } else {
      if (peers.length <= 3) return;
      const removable = peers.filter((p) => p !== leader.id);
      const gone = this.rng.pick(removable);
      next = peers.filter((p) => p !== gone);
    }
    const [q1, q2] = this.rng.pick(QUORUMS[next.length]!);
    // Learners stay learners unless they became voters.
    const learners = (leader.replica(group)!.membership().learners ?? []).filter((l) => !next.includes(l));
    const status = leader.reconfigure(group, { peers: next, learners, q1, q2 });
    this.trace(`nemesis ${a} ${group} via ${leader.id}: [${peers.join(',')}] -> [${next.join(',')}] q=${q1}/${q2} ${status}`);
    if (status !== 'queued') return;
    this.reconfigs++;
    if (victim?.up) victim.crash(); // the replaced replica dies and stays down until the heal
  }

  /**
   * A replica move the way placement does it: `add-learner` adds a spare as a learner (it catches
   * up by log or, past compaction, by snapshot, while counting in no quorum); `promote` makes a
   * learner a voter — the leader answers `behind` until it is caught up — either growing the
   * group or swapping it for a voter (a crashed one if any, else one it crashes for good).
   */
  private learnerStep(a: 'add-learner' | 'promote'): void {
    const group = this.rng.pick(this.reconfigGroups);
    const leader = this.nodes.find((n) => n.up && n.replica(group)?.isLeader());
    if (!leader) return;
    const m = leader.replica(group)!.membership();
    const learners = m.learners ?? [];
    if (a === 'add-learner') {
      const spares = this.nodes.filter((n) => !m.peers.includes(n.id) && !learners.includes(n.id) && !this.permanentlyDown.has(n.id));
      if (spares.length === 0) return;
      const spare = this.rng.pick(spares);
      if (!spare.up) spare.restart();
      const status = leader.reconfigure(group, { peers: m.peers, learners: [...learners, spare.id], q1: m.q1, q2: m.q2 });
      this.trace(`nemesis add-learner ${group} via ${leader.id}: ${spare.id} ${status}`);
      if (status === 'queued') this.learnersAdded++;
      return;
    }
    if (learners.length === 0) return;
    const learner = this.rng.pick(learners);
    let victim: SimNode | undefined;
    let next: string[];
    if (m.peers.length < 5 && this.rng.next() < 0.5) {
      next = [...m.peers, learner];
    } else {
      const members = this.nodes.filter((n) => m.peers.includes(n.id) && n !== leader);
      if (members.length === 0) return;
      const down = members.filter((n) => !n.up);
      victim = down.length > 0 ? this.rng.pick(down) : this.rng.pick(members);
      next = m.peers.map((p) => (p === victim!.id ? learner : p));
    }
    const [q1, q2] = this.rng.pick(QUORUMS[next.length]!);
    const status = leader.reconfigure(group, { peers: next, learners: learners.filter((l) => l !== learner), q1, q2 });
    this.trace(`nemesis promote ${group} via ${leader.id}: ${learner} [${m.peers.join(',')}] -> [${next.join(',')}] q=${q1}/${q2} ${status}`);
    if (status !== 'queued') return;
    this.reconfigs++;
    this.promotions++;
    if (victim?.up) victim.crash(); // the voter it replaced is gone until the heal
  }

  /** Leader placement: the leader hands over to another voter that is up. */
  private transferLeader(): void {
    const group = this.rng.pick(this.reconfigGroups);
    const leader = this.nodes.find((n) => n.up && n.replica(group)?.isLeader());
    if (!leader) return;
    const voters = leader.replica(group)!.membership().peers;
    const targets = this.nodes.filter((n) => n.up && n !== leader && voters.includes(n.id));
    if (targets.length === 0) return;
    const to = this.rng.pick(targets);
    const status = leader.transferLeadership(group, to.id);
    this.trace(`nemesis transfer ${group} via ${leader.id} to ${to.id} ${status}`);
    if (status === 'started') this.transfers++;
  }
}
