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
  private readonly appliers = new Map<string, { next: number; ids: Set<string> }>();
  chosenEvents = 0;

  constructor(private readonly now: () => number) {}

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
  recordDurableAccept(group: string, node: string, slot: number, ballot: Ballot, value: Value, q2: number): void {
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
    const before = a.nodes.size;
    a.nodes.add(node);
    if (before < q2 && a.nodes.size >= q2) this.recordChosen(group, slot, v, `quorum at ballot ${bk}`);
  }

  private recordChosen(group: string, slot: number, v: string, how: string): void {
    let slots = this.chosen.get(group);
    if (!slots) this.chosen.set(group, (slots = new Map()));
    const prev = slots.get(slot);
    if (prev === undefined) {
      this.chosenEvents++;
      slots.set(slot, v);
      this.checkProposed(group, slot, v);
    } else if (prev !== v) {
      this.fail('at most one value chosen per slot', `${group} slot ${slot}: ${prev} vs ${v} (${how})`);
    }
  }

  private checkProposed(group: string, slot: number, v: string): void {
    const value = JSON.parse(v) as Value;
    if (value.kind === 'noop') return;
    for (const c of value.cmds) {
      const p = this.proposed.get(c.id);
      if (p === undefined || p !== canonicalJson(c.payload)) {
        this.fail('only proposed values are chosen', `${group} slot ${slot}: command ${c.id} was never proposed as such`);
      }
    }
  }

  startIncarnation(group: string, node: string, incarnation: number, appliedFrom: number): void {
    this.appliers.set(`${group}/${node}#${incarnation}`, { next: appliedFrom, ids: new Set() });
  }

  recordApply(group: string, node: string, incarnation: number, e: ApplyEntry): void {
    const who = `${group}/${node}#${incarnation}`;
    const st = this.appliers.get(who);
    if (!st) throw new Error(`apply from unknown incarnation ${who}`);
    if (e.slot !== st.next) {
      this.fail('applied logs are gap-free prefixes', `${who} applied slot ${e.slot}, expected ${st.next}`);
    }
    st.next = e.slot + 1;
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
      if (!st.ids.has(id)) this.fail('no command applied twice', `${who} skipped ${id} at slot ${e.slot} as a duplicate it never applied`);
    }
  }

  chosenCount(group: string): number {
    return this.chosen.get(group)?.size ?? 0;
  }
}
