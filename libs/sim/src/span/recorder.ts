import { compareBallot, formatBallot, type Ballot } from '@synod/paxos';
import type { ApplyWrite } from '@synod/txn';
import { canonical } from './checkers.js';
import { emptyHistory, type BankLayout, type SpanHistory, type SpanViolation } from './history.js';

/**
 * Collects the span history while a run goes (true virtual time from `now`), and checks online
 * what must hold at every step:
 *  - appliedAlike: replicas apply each slot of a split alike (the same versions and outcomes);
 *  - refusalsAreLate: the apply-time rule refuses only a deposed leader's late entry. A commit
 *    refused for a timestamp not above one applied before it must have, at an earlier slot, a
 *    command proposed under a higher ballot than its own: a later leader's entries went before it.
 *    A leader whose own commit is refused in its own term assigned a timestamp below the log's
 *    (its timestamp oracle ignored what was applied): its commits abort for nothing.
 *  - replica assertions (the nodes report them).
 */
/** A cut as the first replica applied it: the child's range is [atKey, end). */
export interface CutApplied {
  split: string;
  child: string;
  atKey: string;
  end: string;
  generation: number;
  cutTs: number;
  slot: number;
  atUs: number;
}

export class SpanRecorder {
  readonly history: SpanHistory;
  readonly online: SpanViolation[] = [];
  /** `${split}/${slot}` -> canonical form of what it applied (first replica to apply it). */
  private readonly applied = new Map<string, string>();
  private readonly lastTSafe = new Map<string, number>();
  /** Commits the apply-time rule refused (a timestamp not above one applied before it). */
  applyRefusals = 0;
  /** `${split}|${command id}` -> the ballot its proposer led with (command ids are unique within a split's log). */
  private readonly proposalBallots = new Map<string, Ballot>();
  /** split -> the highest proposal ballot of the commands applied so far (in slot order). */
  private readonly highestBallot = new Map<string, Ballot>();
  /** `${split}|${txn}` of the prepare records applied so far (a prepare is recorded once per split). */
  private readonly prepared = new Set<string>();
  /**
   * The placement scenario: split -> its range as of the slots applied so far (cuts shrink it,
   * rule 20; a child starts with its half, rule 22). Absent: ranges are not checked.
   */
  private ranges: Map<string, { start: string; end: string }> | null = null;
  /** Cuts applied (first replica to apply each), in the order they applied. */
  readonly cuts: CutApplied[] = [];
  /** `${node}|${split}|${child}` -> when that replica first applied the cut into `child`. */
  readonly cutAppliedAt = new Map<string, number>();

  constructor(
    private readonly now: () => number,
    bank: BankLayout,
  ) {
    this.history = emptyHistory(bank);
  }

  /** Checks from now on that every commit applied in a split writes only inside the split's range at its slot (servedInRange). */
  trackRanges(splits: ReadonlyArray<{ id: string; start: string; end: string }>): void {
    this.ranges = new Map(splits.map((s) => [s.id, { start: s.start, end: s.end }]));
  }

  get ok(): boolean {
    return this.online.length === 0;
  }

  fail(checker: string, detail: string): void {
    if (this.online.length < 10) this.online.push({ checker, detail, atUs: this.now() });
  }

  /** A leader of `split` proposed command `id` while leading with `ballot`. */
  recordProposal(split: string, id: string, ballot: Ballot): void {
    const k = `${split}|${id}`;
    if (!this.proposalBallots.has(k)) this.proposalBallots.set(k, ballot);
  }

  /** A replica applied `slot` of `split` and got `w` to write. The first one to apply a slot defines the ground truth. */
  recordApply(node: string, split: string, slot: number, w: ApplyWrite, commands: ReadonlyArray<{ id: string; payload: unknown }> = []): void {
    const key = `${split}/${slot}`;
    if (w.child && !this.cutAppliedAt.has(`${node}|${split}|${w.child.splitId}`)) this.cutAppliedAt.set(`${node}|${split}|${w.child.splitId}`, this.now());
    const form = canonical({ v: w.versions, o: w.outcomes.map(([t, o]) => [t, o.committed, o.committed ? o.ts : 0]) });
    const first = this.applied.get(key);
    if (first !== undefined) {
      if (first !== form) this.fail('appliedAlike', `${node} applied ${key} as ${form}, another replica as ${first}`);
      return;
    }
    this.applied.set(key, form);
    // First applications of a split's slots come in slot order (every replica applies in order).
    const before = this.highestBallot.get(split);
    const commandOf = new Map<string, string>();
    /** txn -> the command that decided it in this entry (the first one naming it: later ones of a decided id change nothing). */
    const payloadOf = new Map<string, { t?: string; txn?: string; ts?: number; participants?: string[]; coordinator?: string }>();
    for (const c of commands) {
      const p = c.payload as { t?: string; txn?: string; ts?: number; participants?: string[]; coordinator?: string };
      if (typeof p.txn !== 'string') continue;
      if (p.t === 'commit') commandOf.set(p.txn, c.id);
      // A prepare the core took (a late one, for a transaction decided already, changes nothing).
      const took = (txn: string) => w.header.prepared?.some((x) => x.txn === txn) === true;
      if (p.t === 'prepare' && typeof p.ts === 'number' && typeof p.coordinator === 'string' && !this.prepared.has(`${split}|${p.txn}`) && took(p.txn)) {
        this.prepared.add(`${split}|${p.txn}`);
        this.history.prepares.push({ txn: p.txn, split, ts: p.ts, coordinator: p.coordinator, slot, atUs: this.now() });
      }
      if (!payloadOf.has(p.txn) && (p.t === 'commit' || p.t === 'decide' || p.t === 'abort')) payloadOf.set(p.txn, p);
    }
    for (const [txn, o] of w.outcomes) {
      const p = payloadOf.get(txn);
      const kind = p?.t === 'commit' || p?.t === 'decide' || p?.t === 'abort' ? p.t : 'other';
      const participants = p?.t === 'commit' && p.participants?.length ? p.participants : undefined;
      if (!o.committed && o.reason.includes('is not above')) {
        this.applyRefusals++;
        const id = commandOf.get(txn);
        const own = id !== undefined ? this.proposalBallots.get(`${split}|${id}`) : undefined;
        if (own && (!before || compareBallot(before, own) <= 0))
          this.fail('refusalsAreLate', `${split} slot ${slot}: ${txn}'s commit (${id}, proposed at ballot ${formatBallot(own)}) was refused (${o.reason}), but no later leader's entry precedes it (highest ballot before: ${before ? formatBallot(before) : 'none'})`);
      }
      if (!o.committed) {
        this.history.aborts.push({ txn, split, slot, kind, participants, reason: o.reason });
        continue;
      }
      const writes = w.versions.filter((v) => v.ts === o.ts).map((v) => (v.deleted ? { key: v.key, deleted: true } : { key: v.key, value: v.value }));
      const range = this.ranges?.get(split);
      const outside = range && writes.find((x) => x.key < range.start || (range.end !== '' && x.key >= range.end));
      if (range && outside)
        this.fail('servedInRange', `${split} slot ${slot}: ${txn} committed ${outside.key} at ${o.ts}, outside the split's range [${JSON.stringify(range.start)}, ${JSON.stringify(range.end)}) after its cuts`);
      this.history.commits.push({ txn, split, ts: o.ts, slot, writes, kind: kind === 'decide' ? 'decide' : 'commit', participants });
    }
    if (w.child) {
      const c = w.child;
      this.ranges?.set(split, { start: this.ranges.get(split)?.start ?? '', end: c.range.start });
      this.ranges?.set(c.splitId, { ...c.range });
      this.cuts.push({ split, child: c.splitId, atKey: c.range.start, end: c.range.end, generation: c.generation, cutTs: c.cutTs, slot, atUs: this.now() });
    }
    let highest = before;
    for (const c of commands) {
      const b = this.proposalBallots.get(`${split}|${c.id}`);
      if (b && (!highest || compareBallot(b, highest) > 0)) highest = b;
    }
    if (highest) this.highestBallot.set(split, highest);
  }

  /** The versions at `tss` became durably visible in `node`'s MVCC store. */
  recordVisible(node: string, split: string, tss: Iterable<number>): void {
    const k = `${node}|${split}`;
    let m = this.history.visible.get(k);
    if (!m) this.history.visible.set(k, (m = new Map()));
    const at = this.now();
    for (const ts of tss) if (!m.has(ts)) m.set(ts, at);
  }

  /** A core's t_safe after an input (recorded when it changed). */
  recordTSafe(node: string, split: string, tSafe: number): void {
    const k = `${node}|${split}`;
    if (this.lastTSafe.get(k) === tSafe) return;
    this.lastTSafe.set(k, tSafe);
    this.history.tSafe.push({ node, split, atUs: this.now(), tSafe });
  }

  /** A node restarted: its next t_safe is recorded even if equal to the last. */
  forgetTSafe(node: string, split: string): void {
    this.lastTSafe.delete(`${node}|${split}`);
  }
}
