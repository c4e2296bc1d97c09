import type { TxnOutcome } from './core-types.js';

interface Entry {
  outcome: TxnOutcome;
  /** The split's max applied timestamp when it was decided: identical on every replica. */
  decidedAtTs: number;
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

  put(txnId: string, outcome: TxnOutcome, decidedAtTs: number): void {
    this.entries.set(txnId, { outcome, decidedAtTs, durable: false });
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

  /** Replaces the table with durable outcomes (a restart or an installed snapshot), oldest first. */
  load(outcomes: Array<[string, TxnOutcome]>, decidedAtTs: number): void {
    this.entries.clear();
    for (const [id, outcome] of outcomes) this.entries.set(id, { outcome, decidedAtTs, durable: true });
  }

  export(): Array<[string, TxnOutcome]> {
    return [...this.entries].map(([id, e]) => [id, e.outcome]);
  }
}
