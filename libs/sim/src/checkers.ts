import { canonicalJson, formatBallot, type ApplyEntry, type Ballot, type Command, type Value } from '@synod/paxos';

/** A safety or liveness property that failed, with enough context to debug from the trace. */
export interface Violation {
  checker: string;
  detail: string;
  atUs: number;
}

interface Acceptance {
  value: string;
  nodes: Set<string>;
  quorum?: boolean;
}

/**
 * Records everything the checkers need, and checks safety online so a run
 * stops at the first violation:
 *  1. at most one value is chosen per slot, over all replicas and all time
 *     (both as observed by appliers and by an oracle watching durable accepts);
 *  2. applied logs are prefixes of one another (each replica incarnation
 *     applies consecutive slots and agrees with every other on each slot);
 *  3. only proposed values and no-ops are chosen;
 *  4. no client command is applied twice by one state machine.
 * Liveness (5) is checked by the simulation once faults stop.
 */
export class History {
  readonly violations: Violation[] = [];
  private readonly proposed = new Map<string, string>();
  /** group -> slot -> canonical value: every apply and oracle-chosen event must agree. */
  private readonly chosen = new Map<string, Map<number, string>>();
  /** group -> slot -> canonical apply decision (value + which ids are fresh). */
  private readonly applyDecisions = new Map<string, Map<number, string>>();
  /** group/slot -> ballot -> acceptance, from durable writes only. */
  private readonly acceptances = new Map<string, Map<string, Acceptance>>();
  /** `${group}/${node}#${incarnation}` -> next slot it must apply, and ids it applied. */
  private readonly appliers = new Map<string, { next: number; ids: Set<string>; partial: boolean }>();
  /** group -> configurations (from chosen config entries), for the oracle's quorums. */
  private readonly configs = new Map<string, Array<{ fromSlot: number; peers: string[]; q2: number }>>();
  /** group -> state-machine index -> hash of the first state seen there. */
  private readonly states = new Map<string, Map<number, number>>();
  /** group -> lease segments in true time that may still overlap a future one. */
  private readonly leases = new Map<string, Array<{ node: string; start: number; end: number }>>();
  /** Command ids in a slot a phase-2 quorum has durably accepted at one ballot. */
  private readonly durablyChosen = new Set<string>();
  /** Set once per-slot state was pruned (long runs): ids chosen before may be forgotten. */
  private pruned = false;
  /** client key -> highest seq acknowledged / issued. */
  private readonly acked = new Map<string, number>();
  private readonly issued = new Map<string, number>();
  private readonly chosenCounts = new Map<string, number>();
  chosenEvents = 0;
  leaseSamples = 0;
  readsChecked = 0;
  statesChecked = 0;
  installs = 0;
  /** timeoutNow messages sent: leader transfers that reached the hand-over. */
  handOffs = 0;
  /** Skip per-slot bookkeeping that only grows (long runs): the oracle and state map prune below this. */
  pruneBelow = new Map<string, number>();

  constructor(
    private readonly now: () => number,
    private readonly window: number,
  ) {}

  setInitialConfig(group: string, peers: string[], q2: number): void {
    this.configs.set(group, [{ fromSlot: 0, peers, q2 }]);
  }

  private configAt(group: string, slot: number): { peers: string[]; q2: number } | undefined {
    let best: { fromSlot: number; peers: string[]; q2: number } | undefined;
    for (const c of this.configs.get(group) ?? []) if (c.fromSlot <= slot && (!best || c.fromSlot >= best.fromSlot)) best = c;
    return best;
  }

  // ---------------------------------------------------------------- leases

  /**
   * Lease disjointness: `node` acts on a lease over the true-time interval [start, end).
   * No other replica of the group may hold one at any instant of it.
   */
  recordLease(group: string, node: string, start: number, end: number): void {
    this.leaseSamples++;
    let segs = this.leases.get(group);
    if (!segs) this.leases.set(group, (segs = []));
    const live = segs.filter((x) => x.end > start);
    let mine: { node: string; start: number; end: number } | undefined;
    for (const x of live) {
      if (x.node === node) mine = x;
      else if (x.start < end && start < x.end) {
        this.fail(
          'lease disjointness',
          `${group}: ${node} holds a lease over [${start}, ${end.toFixed(1)}) while ${x.node} holds [${x.start}, ${x.end.toFixed(1)}) (true µs)`,
        );
      }
    }
    if (mine) mine.end = Math.max(mine.end, end);
    else live.push({ node, start, end });
    this.leases.set(group, live);
  }

  // ---------------------------------------------------------------- reads

  recordIssued(key: string, seq: number): void {
    this.issued.set(key, Math.max(this.issued.get(key) ?? 0, seq));
  }

  /**
   * A client was told its write `commandId` succeeded: by then a phase-2 quorum must hold it
   * durably (a crash of every replica must not lose an acknowledged write).
   */
  recordAcked(key: string, seq: number, commandId: string): void {
    this.acked.set(key, Math.max(this.acked.get(key) ?? 0, seq));
    if (!this.durablyChosen.has(commandId) && !this.pruned) {
      this.fail('acknowledged writes are durable on a quorum', `${commandId} was acknowledged before a phase-2 quorum had it on disk`);
    }
  }

  ackedSeq(key: string): number {
    return this.acked.get(key) ?? 0;
  }

  /**
   * Lease reads are linearizable: a read that began after a write was acknowledged sees it
   * (value >= the highest seq acked when the read began), and never sees a write not issued.
   */
  checkRead(group: string, reader: string, key: string, value: number, ackedAtStart: number): void {
    this.readsChecked++;
    if (value < ackedAtStart) {
      this.fail('lease reads are linearizable', `${group}: ${reader} read ${key}=${value} but seq ${ackedAtStart} was acknowledged before the read began`);
    }
    const issued = this.issued.get(key) ?? 0;
    if (value > issued) this.fail('lease reads are linearizable', `${group}: ${reader} read ${key}=${value}, never issued (max ${issued})`);
  }

  // ---------------------------------------------------------------- snapshots

  /**
   * Every replica's state machine at index `upTo` (whether it applied every entry or was
   * rebuilt from a snapshot plus the tail) has the same state.
   */
  recordState(group: string, who: string, upTo: number, hash: number): void {
    let m = this.states.get(group);
    if (!m) this.states.set(group, (m = new Map()));
    if (upTo < (this.pruneBelow.get(group) ?? 0)) return;
    this.statesChecked++;
    const prev = m.get(upTo);
    if (prev === undefined) m.set(upTo, hash);
    else if (prev !== hash) {
      this.fail('snapshot + tail equals full replay', `${group}: ${who} has state ${hash.toString(16)} at index ${upTo}, others ${prev.toString(16)}`);
    }
  }

  recordInstall(group: string, node: string, incarnation: number, upTo: number, hash: number): void {
    this.installs++;
    const st = this.appliers.get(`${group}/${node}#${incarnation}`);
    if (st) {
      st.next = upTo;
      st.partial = true;
    }
    this.recordState(group, `${node}#${incarnation} installed`, upTo, hash);
  }

  /** Forget per-slot bookkeeping below `slot` (long runs; every replica has applied past it). */
  prune(group: string, slot: number): void {
    this.pruneBelow.set(group, slot);
    this.pruned = true;
    const m = this.states.get(group);
    if (m) for (const k of m.keys()) if (k < slot) m.delete(k);
    const c = this.chosen.get(group);
    if (c) for (const k of c.keys()) if (k < slot) c.delete(k);
    const d = this.applyDecisions.get(group);
    if (d) for (const k of d.keys()) if (k < slot) d.delete(k);
    for (const k of this.acceptances.keys()) {
      const [g, s] = k.split('/') as [string, string];
      if (g === group && Number(s) < slot) this.acceptances.delete(k);
    }
  }

  fail(checker: string, detail: string): void {
    this.violations.push({ checker, detail, atUs: this.now() });
  }

  get ok(): boolean {
    return this.violations.length === 0;
  }

  recordProposed(cmd: Command): void {
    this.proposed.set(cmd.id, canonicalJson(cmd.payload));
  }

  /** Oracle: a value is chosen once a phase-2 quorum has durably accepted it at one ballot. */
  recordDurableAccept(group: string, node: string, slot: number, ballot: Ballot, value: Value): void {
    if (slot < (this.pruneBelow.get(group) ?? 0)) return;
    const cfg = this.configAt(group, slot);
    const key = `${group}/${slot}`;
    let byBallot = this.acceptances.get(key);
    if (!byBallot) this.acceptances.set(key, (byBallot = new Map()));
    const bk = formatBallot(ballot);
    const v = canonicalJson(value);
    let a = byBallot.get(bk);
    if (!a) byBallot.set(bk, (a = { value: v, nodes: new Set() }));
    if (a.value !== v) {
      this.fail('one value per ballot', `${key} ballot ${bk}: ${a.value} vs ${v}`);
      return;
    }
    a.nodes.add(node);
    if (!cfg) return;
    let n = 0;
    for (const x of a.nodes) if (cfg.peers.includes(x)) n++;
    if (n >= cfg.q2 && !a.quorum) {
      a.quorum = true;
      if (value.kind === 'batch') for (const c of value.cmds) this.durablyChosen.add(c.id);
      this.recordChosen(group, slot, v, `quorum at ballot ${bk}`);
    }
  }

  private recordChosen(group: string, slot: number, v: string, how: string): void {
    if (slot < (this.pruneBelow.get(group) ?? 0)) return;
    let slots = this.chosen.get(group);
    if (!slots) this.chosen.set(group, (slots = new Map()));
    const prev = slots.get(slot);
    if (prev === undefined) {
      this.chosenEvents++;
      this.chosenCounts.set(group, (this.chosenCounts.get(group) ?? 0) + 1);
      slots.set(slot, v);
      this.checkProposed(group, slot, v);
      const value = JSON.parse(v) as Value;
      if (value.kind === 'config') {
        this.configs.get(group)?.push({ fromSlot: slot + this.window, peers: value.peers, q2: value.q2 });
      }
    } else if (prev !== v) {
      this.fail('at most one value chosen per slot', `${group} slot ${slot}: ${prev} vs ${v} (${how})`);
    }
  }

  private checkProposed(group: string, slot: number, v: string): void {
    const value = JSON.parse(v) as Value;
    if (value.kind !== 'batch') return;
    for (const c of value.cmds) {
      const p = this.proposed.get(c.id);
      if (p === undefined || p !== canonicalJson(c.payload)) {
        this.fail('only proposed values are chosen', `${group} slot ${slot}: command ${c.id} was never proposed as such`);
      }
    }
  }

  startIncarnation(group: string, node: string, incarnation: number, appliedFrom: number): void {
    // From a snapshot, commands applied before it are not in `ids`: duplicates of them are fine.
    this.appliers.set(`${group}/${node}#${incarnation}`, { next: appliedFrom, ids: new Set(), partial: appliedFrom > 0 });
  }

  recordApply(group: string, node: string, incarnation: number, e: ApplyEntry): void {
    const who = `${group}/${node}#${incarnation}`;
    const st = this.appliers.get(who);
    if (!st) throw new Error(`apply from unknown incarnation ${who}`);
    if (e.slot !== st.next) {
      this.fail('applied logs are gap-free prefixes', `${who} applied slot ${e.slot}, expected ${st.next}`);
    }
    st.next = e.slot + 1;
    if (e.slot < (this.pruneBelow.get(group) ?? 0)) return;
    const v = canonicalJson(e.value);
    this.recordChosen(group, e.slot, v, `applied by ${who}`);
    let decisions = this.applyDecisions.get(group);
    if (!decisions) this.applyDecisions.set(group, (decisions = new Map()));
    const d = `${v}|${e.commands.map((c) => c.id).join(',')}`;
    const prev = decisions.get(e.slot);
    if (prev === undefined) decisions.set(e.slot, d);
    else if (prev !== d) {
      this.fail('applied logs are prefixes of one another', `${group} slot ${e.slot}: ${prev} vs ${d} at ${who}`);
    }
    for (const c of e.commands) {
      if (st.ids.has(c.id)) this.fail('no command applied twice', `${who} applied ${c.id} again at slot ${e.slot}`);
      st.ids.add(c.id);
    }
    for (const id of e.duplicates) {
      if (!st.partial && !st.ids.has(id)) this.fail('no command applied twice', `${who} skipped ${id} at slot ${e.slot} as a duplicate it never applied`);
    }
  }

  chosenCount(group: string): number {
    return this.chosenCounts.get(group) ?? 0;
  }
}
