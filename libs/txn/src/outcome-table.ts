import type { DecidedOutcome, TxnOutcome } from './core-types.js';

interface Entry {
  outcome: TxnOutcome;
  /** The split's max applied timestamp when it was decided: identical on every replica. */
  decidedAtTs: number;
  /** The log slot of the entry that decided it. */
  slot: number;
  durable: boolean;
}

/**
 * The decided outcome of every recent transaction of a split, by client-chosen transaction id:
 * what makes a retried commit idempotent and a status lookup possible. Replicated state (changed
 * only by applied entries), so eviction depends only on applied timestamps: every replica keeps
 * the same outcomes. Kept at least `retentionUs` of timestamps, at most `max` entries.
 */
export class OutcomeTable {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly max: number,
    private readonly retentionUs: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(txnId: string): TxnOutcome | undefined {
    return this.entries.get(txnId)?.outcome;
  }

  isDurable(txnId: string): boolean {
    return this.entries.get(txnId)?.durable === true;
  }

  /** Records a decision; returns it as stored. */
  put(txnId: string, outcome: TxnOutcome, decidedAtTs: number, slot: number): DecidedOutcome {
    this.entries.set(txnId, { outcome, decidedAtTs, slot, durable: false });
    return { ...outcome, slot, at: decidedAtTs };
  }

  markDurable(txnId: string): void {
    const e = this.entries.get(txnId);
    if (e) e.durable = true;
  }

  /** Drops outcomes past retention or over the count, oldest first; returns their ids. */
  evict(maxAppliedTs: number): string[] {
    const gone: string[] = [];
    for (const [id, e] of this.entries) {
      if (this.entries.size <= this.max && e.decidedAtTs >= maxAppliedTs - this.retentionUs) break;
      this.entries.delete(id);
      gone.push(id);
    }
    return gone;
  }

  /** Replaces the table (a restart: durable; an installed snapshot: durable once its write is), oldest first. */
  load(outcomes: ReadonlyArray<readonly [string, TxnOutcome & Partial<{ slot: number; at: number }>]>, fallbackAtTs: number, durable: boolean): void {
    this.entries.clear();
    for (const [id, o] of outcomes) {
      const outcome: TxnOutcome = o.committed ? { committed: true, ts: o.ts } : { committed: false, reason: o.reason };
      this.entries.set(id, { outcome, decidedAtTs: o.at ?? fallbackAtTs, slot: o.slot ?? 0, durable });
    }
  }

  /** The outcomes decided by entries below `index`, as a snapshot at `index` carries them. */
  exportBelow(index: number): Array<[string, DecidedOutcome]> {
    const out: Array<[string, DecidedOutcome]> = [];
    for (const [id, e] of this.entries) if (e.slot < index) out.push([id, { ...e.outcome, slot: e.slot, at: e.decidedAtTs }]);
    return out;
  }
}
