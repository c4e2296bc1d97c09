/**
 * Inbound work, bounded per event-loop turn (docs/transport.md, "Inbound budget"). A process
 * that fell behind reads a large backlog from its socket at once, and handling all of it in one
 * turn keeps every timer waiting: heartbeats, lease renewals and commit waits of every split the
 * process hosts. Once this turn's inbound work has run for `budgetMs`, later messages wait, in
 * arrival order, for a later turn, so timers run in between. Nothing is dropped: past
 * `maxQueuedBytes` everything queued runs at once (memory stays bounded; the turn does not).
 */
export interface TurnBudgetOptions<T> {
  /** Inbound work per turn before the rest waits for a later turn, ms. */
  budgetMs: number;
  /** Most bytes waiting; past it the queue is worked off at once. */
  maxQueuedBytes: number;
  size: (item: T) => number;
  /** Called when `item` is queued rather than run at once (the bus reads its clock for the receipt here). */
  onQueued?: (item: T) => void;
  /** Runs `fn` after the current turn (setImmediate in production). */
  schedule: (fn: () => void) => void;
  nowMs: () => number;
}

export class TurnBudget<T> {
  private readonly queue: T[] = [];
  private head = 0;
  private queuedBytes = 0;
  /** When this turn's inbound work began; null until something arrives in it. */
  private turnStart: number | null = null;
  /** Items that waited for a later turn, since construction. */
  deferred = 0;

  constructor(
    private readonly run: (item: T) => void,
    private readonly opts: TurnBudgetOptions<T>,
  ) {}

  /** Runs `item` now if nothing waits and this turn's budget lasts; otherwise queues it. */
  offer(item: T): void {
    if (this.turnStart === null) this.beginTurn();
    if (this.waiting() === 0 && this.opts.nowMs() - this.turnStart! < this.opts.budgetMs) {
      this.run(item);
      return;
    }
    const bytes = this.opts.size(item);
    if (this.queuedBytes + bytes > this.opts.maxQueuedBytes) {
      this.workOff(Number.POSITIVE_INFINITY);
      this.run(item);
      return;
    }
    this.deferred++;
    this.opts.onQueued?.(item);
    this.queue.push(item);
    this.queuedBytes += bytes;
  }

  /** Items waiting for a later turn. */
  waiting(): number {
    return this.queue.length - this.head;
  }

  private beginTurn(): void {
    this.turnStart = this.opts.nowMs();
    this.opts.schedule(this.endTurn);
  }

  private readonly endTurn = (): void => {
    this.turnStart = null;
    if (this.waiting() === 0) return;
    this.beginTurn();
    this.workOff(this.turnStart! + this.opts.budgetMs);
  };

  /** Runs queued items in order until `untilMs` (at least one). */
  private workOff(untilMs: number): void {
    do {
      const item = this.queue[this.head]!;
      this.queue[this.head++] = undefined as T;
      this.queuedBytes -= this.opts.size(item);
      this.run(item);
    } while (this.waiting() > 0 && this.opts.nowMs() < untilMs);
    if (this.waiting() === 0) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }
}
