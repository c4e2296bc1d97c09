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

type Action = 'isolate' | 'one-way' | 'heal' | 'crash' | 'crash-leader' | 'restart';

const ACTIONS: Record<FaultMode, Action[]> = {
  none: [],
  light: ['isolate', 'heal', 'crash', 'restart', 'heal', 'crash-leader'],
  heavy: ['isolate', 'one-way', 'heal', 'crash', 'crash-leader', 'restart', 'isolate', 'one-way', 'crash-leader'],
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
  ) {}

  start(faultPhaseUs: number): void {
    this.net.faults = { ...NETWORK_FAULTS[this.mode], ...this.networkOverride };
    const actions = ACTIONS[this.mode];
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
      case 'isolate': {
        const dc = this.rng.pick(this.dcs);
        this.net.isolate(dc, this.dcs);
        this.trace(`nemesis isolate ${dc}`);
        return;
      }
      case 'one-way': {
        const from = this.rng.pick(this.dcs);
        const to = this.rng.pick(this.dcs.filter((d) => d !== from));
        this.net.cutLink(from, to);
        this.trace(`nemesis cut ${from}>${to}`);
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
      case 'restart': {
        const down = this.nodes.filter((n) => !n.up && !this.permanentlyDown.has(n.id));
        if (down.length > 0) this.rng.pick(down).restart();
        return;
      }
    }
  }
}
