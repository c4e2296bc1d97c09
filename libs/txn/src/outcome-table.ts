import type { DecidedOutcome, TxnOutcome } from './core-types.js';

interface Entry {
  outcome: TxnOutcome;
  /** The split's max applied timestamp when it was decided: identical on every replica. */
  decidedAtTs: number;
  /** The log slot of the entry that decided it. */
  slot: number;
  durable: boolean;
}

/** Ids per chunk of the decision-order queue. */
const CHUNK = 1024;

/**
 * Outcomes are spread over this many Maps by a hash of the id. One Map of 100,000 outcomes
 * (maxOutcomes) rehashed all of them at once whenever it grew or filled with deleted slots: a
 * 61 ms `put` on a busy split's leader (docs/benchmarks.md, "the stalls that were left"). A
 * shard holds about 1/64 of them, so its rehash is a fraction of a millisecond.
 */
const SHARDS = 64;

/**
 * FNV-1a over the id's UTF-16 units, of a long id only its first 8 and last 24 (a client's ids
 * are `<prefix>:<seq>.<attempt>`: the tail tells them apart, the head tells clients apart). Only
 * the spread depends on it: each Map compares whole ids. Hashing whole ids cost the leader about
 * 2% of its CPU under puts (a few lookups per transaction).
 */
function shardOf(id: string): number {
  let h = 0x811c9dc5;
  const n = id.length;
  if (n <= 32) for (let i = 0; i < n; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  else {
    for (let i = 0; i < 8; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
    for (let i = n - 24; i < n; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  }
  return (h >>> 0) % SHARDS;
}

/** A FIFO of ids in fixed-size chunks: pushing and popping never copies the whole queue. */
class IdQueue {
  private chunks: string[][] = [];
  private head = 0;

  get length(): number {
    return this.chunks.length === 0 ? 0 : (this.chunks.length - 1) * CHUNK + this.chunks[this.chunks.length - 1]!.length - this.head;
  }

  push(id: string): void {
    const last = this.chunks[this.chunks.length - 1];
    if (last === undefined || last.length === CHUNK) this.chunks.push([id]);
    else last.push(id);
  }

  peek(): string | undefined {
    return this.chunks[0]?.[this.head];
  }

  shift(): void {
    // A spent first chunk goes: it was full, or it was the only one and the queue is now empty.
    if (++this.head === this.chunks[0]!.length) {
      this.chunks.shift();
      this.head = 0;
    }
  }

  clear(): void {
    this.chunks = [];
    this.head = 0;
  }

  *[Symbol.iterator](): IterableIterator<string> {
    for (let c = 0; c < this.chunks.length; c++) {
      const chunk = this.chunks[c]!;
      for (let i = c === 0 ? this.head : 0; i < chunk.length; i++) yield chunk[i]!;
    }
  }
}

/**
 * The decided outcome of every recent transaction of a split, by client-chosen transaction id:
 * what makes a retried commit idempotent and a status lookup possible. Replicated state (changed
 * only by applied entries), so eviction depends only on applied timestamps: every replica keeps
 * the same outcomes. Kept at least `retentionUs` of timestamps, at most `max` entries, evicted in
 * the order they were first decided.
 */
export class OutcomeTable {
  private readonly shards: Array<Map<string, Entry>> = Array.from({ length: SHARDS }, () => new Map());
  /** Every id in the table, in the order it was first decided (the eviction order). */
  private readonly order = new IdQueue();
  private count = 0;
  private changeCount = 0;

  constructor(
    private readonly max: number,
    private readonly retentionUs: number,
  ) {}

  get size(): number {
    return this.count;
  }

  /**
   * Rises on every change to any outcome or its durability (put, markDurable, an eviction, load):
   * a reader that saw some id's entry at one value may keep what it saw until this moves.
   */
  get changes(): number {
    return this.changeCount;
  }

  private entry(txnId: string): Entry | undefined {
    return this.shards[shardOf(txnId)]!.get(txnId);
  }

  get(txnId: string): TxnOutcome | undefined {
    return this.entry(txnId)?.outcome;
  }

  /** The outcome and whether it is durable here, in one look-up. */
  find(txnId: string): Readonly<{ outcome: TxnOutcome; durable: boolean }> | undefined {
    return this.entry(txnId);
  }

  isDurable(txnId: string): boolean {
    return this.entry(txnId)?.durable === true;
  }

  /** Records a decision (an id decided again keeps its place in the eviction order); returns it as stored. */
  put(txnId: string, outcome: TxnOutcome, decidedAtTs: number, slot: number): DecidedOutcome {
    this.set(txnId, { outcome, decidedAtTs, slot, durable: false });
    // Built field by field, not by an object spread: `put` (self) was 2-4% of each replica's time under puts.
    return outcome.committed ? { committed: true, ts: outcome.ts, slot, at: decidedAtTs } : { committed: false, reason: outcome.reason, slot, at: decidedAtTs };
  }

  private set(txnId: string, e: Entry): void {
    this.changeCount++;
    const shard = this.shards[shardOf(txnId)]!;
    // One Map operation, not has() then set(): a new id is one the set made the Map grow by.
    const before = shard.size;
    shard.set(txnId, e);
    if (shard.size !== before) {
      this.order.push(txnId);
      this.count++;
    }
  }

  markDurable(txnId: string): void {
    const e = this.entry(txnId);
    if (e && !e.durable) {
      e.durable = true;
      this.changeCount++;
    }
  }

  /** Drops outcomes past retention or over the count, oldest first; returns their ids. */
  evict(maxAppliedTs: number): string[] {
    const gone: string[] = [];
    for (let id = this.order.peek(); id !== undefined; id = this.order.peek()) {
      const shard = this.shards[shardOf(id)]!;
      const e = shard.get(id)!;
      if (this.count <= this.max && e.decidedAtTs >= maxAppliedTs - this.retentionUs) break;
      shard.delete(id);
      this.order.shift();
      this.count--;
      this.changeCount++;
      gone.push(id);
    }
    return gone;
  }

  /** Replaces the table (a restart: durable; an installed snapshot: durable once its write is), oldest first. */
  load(outcomes: ReadonlyArray<readonly [string, TxnOutcome & Partial<{ slot: number; at: number }>]>, fallbackAtTs: number, durable: boolean): void {
    for (const shard of this.shards) shard.clear();
    this.order.clear();
    this.count = 0;
    this.changeCount++;
    for (const [id, o] of outcomes) {
      const outcome: TxnOutcome = o.committed ? { committed: true, ts: o.ts } : { committed: false, reason: o.reason };
      this.set(id, { outcome, decidedAtTs: o.at ?? fallbackAtTs, slot: o.slot ?? 0, durable });
    }
  }

  /** The outcomes decided by entries below `index`, in eviction order, as a snapshot at `index` carries them. */
  exportBelow(index: number): Array<[string, DecidedOutcome]> {
    const out: Array<[string, DecidedOutcome]> = [];
    for (const id of this.order) {
      const e = this.entry(id)!;
      if (e.slot < index) out.push([id, { ...e.outcome, slot: e.slot, at: e.decidedAtTs }]);
    }
    return out;
  }
}
