import type { ApplyWrite } from '@synod/txn';
import { canonical } from './checkers.js';
import { emptyHistory, type BankLayout, type SpanHistory, type SpanViolation } from './history.js';

/**
 * Collects the span history while a run goes (true virtual time from `now`), and checks online
 * what must hold at every step: replicas apply each slot of a split alike (the same versions and
 * outcomes), and no replica hits an assertion.
 */
export class SpanRecorder {
  readonly history: SpanHistory;
  readonly online: SpanViolation[] = [];
  /** `${split}/${slot}` -> canonical form of what it applied (first replica to apply it). */
  private readonly applied = new Map<string, string>();
  private readonly lastTSafe = new Map<string, number>();
  /** Commits the apply-time rule refused (a timestamp not above one applied before it). */
  applyRefusals = 0;

  constructor(
    private readonly now: () => number,
    bank: BankLayout,
  ) {
    this.history = emptyHistory(bank);
  }

  get ok(): boolean {
    return this.online.length === 0;
  }

  fail(checker: string, detail: string): void {
    if (this.online.length < 10) this.online.push({ checker, detail, atUs: this.now() });
  }

  /** A replica applied `slot` of `split` and got `w` to write. The first one to apply a slot defines the ground truth. */
  recordApply(node: string, split: string, slot: number, w: ApplyWrite): void {
    const key = `${split}/${slot}`;
    const form = canonical({ v: w.versions, o: w.outcomes.map(([t, o]) => [t, o.committed, o.committed ? o.ts : 0]) });
    const first = this.applied.get(key);
    if (first !== undefined) {
      if (first !== form) this.fail('appliedAlike', `${node} applied ${key} as ${form}, another replica as ${first}`);
      return;
    }
    this.applied.set(key, form);
    for (const [txn, o] of w.outcomes) {
      if (!o.committed && o.reason.includes('is not above')) this.applyRefusals++;
      if (!o.committed) continue;
      const writes = w.versions.filter((v) => v.ts === o.ts).map((v) => (v.deleted ? { key: v.key, deleted: true } : { key: v.key, value: v.value }));
      this.history.commits.push({ txn, split, ts: o.ts, slot, writes });
    }
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
