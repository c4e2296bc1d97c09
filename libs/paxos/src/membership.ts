import type { Membership } from './output.js';
import type { ConfigValue } from './value.js';

/** The configuration a config value chosen (or proposed) at `slot` installs: it governs from `slot + window`. */
export function membershipFromValue(slot: number, v: ConfigValue, window: number): Membership {
  return withLearners({ fromSlot: slot + window, peers: [...v.peers], q1: v.q1, q2: v.q2 }, v.learners);
}

export function cloneMembership(c: Membership): Membership {
  return withLearners({ fromSlot: c.fromSlot, peers: [...c.peers], q1: c.q1, q2: c.q2 }, c.learners);
}

/** The learners of `c` (none when the field is absent: configurations from before learners). */
export function learnersOf(c: { learners?: string[] | undefined }): string[] {
  return c.learners ?? [];
}

/** `m` with a copy of `learners` when there are any (left out when empty, like a ConfigValue's). */
function withLearners(m: Membership, learners: readonly string[] | undefined): Membership {
  if (learners !== undefined && learners.length > 0) m.learners = [...learners];
  return m;
}

/**
 * The group's configurations as one replica knows them (etcd raft's `confchange/` + tracker
 * config): those applied here, and at a leader those it proposed at its ballot and not yet
 * applied. A configuration chosen at slot i governs slots from i + window (the α window), so
 * up to `window` slots may be governed by a configuration not yet applied.
 */
export class Configurations {
  /** Applied configurations, ascending by fromSlot; the first governs from slot 0 (or the snapshot). */
  private applied: Membership[];
  /**
   * Config values this replica proposed as leader, by the slot they were proposed at, until
   * applied. Only a leader fills it, and `clearProposed` runs whenever leadership ends, so it
   * is empty at every non-leader.
   */
  private readonly proposed = new Map<number, Membership>();

  constructor(initial: readonly Membership[]) {
    this.applied = initial.map(cloneMembership);
  }

  /** Number of applied configurations held (bounded: those governing only applied slots are dropped). */
  size(): number {
    return this.applied.length;
  }

  /** A copy of the applied configurations, for a snapshot. */
  export(): Membership[] {
    return this.applied.map(cloneMembership);
  }

  /** Replaces everything with a snapshot's configurations. */
  restore(configs: readonly Membership[]): void {
    this.applied = configs.map(cloneMembership);
  }

  /** A config value applied at `slot`, with every slot below `appliedUpTo` already applied. */
  apply(slot: number, v: ConfigValue, window: number, appliedUpTo: number): void {
    this.proposed.delete(slot);
    this.applied.push(membershipFromValue(slot, v, window));
    // Drop configurations that govern only applied slots.
    while (this.applied.length > 1 && this.applied[1]!.fromSlot <= appliedUpTo) this.applied.shift();
  }

  /** The leader proposed config value `v` at `slot`. */
  propose(slot: number, v: ConfigValue, window: number): void {
    this.proposed.set(slot, membershipFromValue(slot, v, window));
  }

  clearProposed(): void {
    this.proposed.clear();
  }

  /** Whether a change is under way: proposed and not applied, or applied and not yet governing `slot`. */
  changingAfter(slot: number): boolean {
    return this.proposed.size > 0 || this.applied.some((c) => c.fromSlot > slot);
  }

  /** The configuration governing `slot`: the applied ones plus those proposed here. */
  at(slot: number): Membership {
    let best = this.applied[0]!;
    for (const c of this.applied) if (c.fromSlot <= slot && c.fromSlot >= best.fromSlot) best = c;
    for (const c of this.proposed.values()) if (c.fromSlot <= slot && c.fromSlot >= best.fromSlot) best = c;
    return best;
  }

  /** Every configuration governing some slot >= `from`, counting `extra` (configurations reported in promises). */
  governing(from: number, extra: Iterable<Membership> = []): Membership[] {
    const first = this.at(from);
    const out = [first];
    for (const c of [...this.applied, ...this.proposed.values(), ...extra]) if (c !== first && c.fromSlot > from) out.push(c);
    return out;
  }

  /** Every voter of a configuration governing some slot >= `from`. */
  activePeers(from: number): string[] {
    const peers = new Set<string>();
    for (const c of this.governing(from)) for (const p of c.peers) peers.add(p);
    return [...peers];
  }

  /**
   * Every voter or learner of a configuration governing some slot >= `from`: who is sent
   * Accepts and heartbeats. A replica in none of them is sent nothing more.
   */
  replicationTargets(from: number): string[] {
    const peers = new Set<string>();
    for (const c of this.governing(from)) for (const p of [...c.peers, ...learnersOf(c)]) peers.add(p);
    return [...peers];
  }
}
