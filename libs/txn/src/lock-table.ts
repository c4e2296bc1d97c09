/**
 * The lock table of one split's leader, with wound-wait deadlock avoidance (Spanner §4.2.1):
 * transactions are ordered by start (older = higher priority). An older transaction that wants a
 * lock held by younger ones wounds them (they must abort and release); a younger one waits for
 * older holders. Waiting only ever points from younger to older, so there is no cycle.
 *
 * Pure and deterministic: the caller aborts wounded transactions and releases their locks.
 */
export type LockMode = 'shared' | 'exclusive';

export interface TxnRef {
  id: string;
  /** Priority: start timestamp, ties broken by id. Lower is older, and wins. */
  startTs: number;
}

type AcquireResult = { granted: true } | { granted: false; waitingFor: string[] };

export interface LockEvents {
  /** Transactions that must abort (wounded by an older one). Each appears once until released. */
  wounded: string[];
  /** Waiting requests granted by this call, in grant order. */
  granted: Array<{ txn: string; key: string; mode: LockMode }>;
}

interface Waiter {
  txn: TxnRef;
  mode: LockMode;
}

interface KeyLock {
  holders: Map<string, { txn: TxnRef; mode: LockMode }>;
  queue: Waiter[];
}

const olderThan = (a: TxnRef, b: TxnRef) => a.startTs < b.startTs || (a.startTs === b.startTs && a.id < b.id);
const compatible = (a: LockMode, b: LockMode) => a === 'shared' && b === 'shared';

export class LockTable {
  private readonly locks = new Map<string, KeyLock>();
  private readonly heldBy = new Map<string, Set<string>>();
  private readonly woundedSet = new Set<string>();
  private readonly waitingOn = new Map<string, Set<string>>();

  /** `wound: false` turns deadlock avoidance off; it exists so tests can show it is needed. */
  constructor(private readonly opts: { wound: boolean } = { wound: true }) {}

  /**
   * Requests `mode` on `key` for `txn`. Re-requesting a held lock is a no-op; shared→exclusive
   * is an upgrade. Returns whether it is granted now, plus the wounds this request inflicted.
   */
  acquire(txn: TxnRef, key: string, mode: LockMode): AcquireResult & { wounded: string[] } {
    const lock = this.lockOf(key);
    const mine = lock.holders.get(txn.id);
    if (mine && (mine.mode === 'exclusive' || mode === 'shared')) return { granted: true, wounded: [] };
    // A free key (the common case: no holder, nobody queued) is granted without building the lists below.
    if (lock.holders.size === 0 && lock.queue.length === 0) {
      this.grant(lock, key, txn, mode);
      return { granted: true, wounded: [] };
    }
    const conflicting = [...lock.holders.values()].filter((h) => h.txn.id !== txn.id && !compatible(h.mode, mode));
    // Queue order is respected: a request does not overtake an older conflicting waiter.
    const queuedAhead = lock.queue.filter((w) => w.txn.id !== txn.id && olderThan(w.txn, txn) && !compatible(w.mode, mode));
    if (conflicting.length === 0 && queuedAhead.length === 0) {
      this.grant(lock, key, txn, mode);
      return { granted: true, wounded: [] };
    }
    const wounded: string[] = [];
    for (const h of conflicting) {
      if (this.opts.wound && olderThan(txn, h.txn) && !this.woundedSet.has(h.txn.id)) {
        this.woundedSet.add(h.txn.id);
        wounded.push(h.txn.id);
      }
    }
    if (!lock.queue.some((w) => w.txn.id === txn.id && w.mode === mode)) {
      lock.queue.push({ txn, mode });
      lock.queue.sort((a, b) => (olderThan(a.txn, b.txn) ? -1 : olderThan(b.txn, a.txn) ? 1 : 0));
      let keys = this.waitingOn.get(txn.id);
      if (!keys) this.waitingOn.set(txn.id, (keys = new Set()));
      keys.add(key);
    }
    return { granted: false, waitingFor: conflicting.map((h) => h.txn.id), wounded };
  }

  /** Releases every lock and queued request of `txnId` (commit or abort) and grants what it can. */
  release(txnId: string): LockEvents {
    this.woundedSet.delete(txnId);
    const touched = new Set(this.heldBy.get(txnId) ?? []);
    this.heldBy.delete(txnId);
    for (const key of this.waitingOn.get(txnId) ?? []) {
      const lock = this.locks.get(key);
      if (lock) lock.queue = lock.queue.filter((w) => w.txn.id !== txnId);
      touched.add(key);
    }
    this.waitingOn.delete(txnId);
    const events: LockEvents = { wounded: [], granted: [] };
    for (const key of [...touched].sort()) {
      const lock = this.locks.get(key);
      if (!lock) continue;
      lock.holders.delete(txnId);
      this.promote(key, lock, events);
      if (lock.holders.size === 0 && lock.queue.length === 0) this.locks.delete(key);
    }
    return events;
  }

  isWounded(txnId: string): boolean {
    return this.woundedSet.has(txnId);
  }

  holders(key: string): Array<{ txn: string; mode: LockMode }> {
    return [...(this.locks.get(key)?.holders.values() ?? [])].map((h) => ({ txn: h.txn.id, mode: h.mode }));
  }

  /** Whether `txnId` holds `key` in `mode` or stronger (exclusive covers shared). */
  holds(txnId: string, key: string, mode: LockMode): boolean {
    const h = this.locks.get(key)?.holders.get(txnId);
    return h !== undefined && (mode === 'shared' || h.mode === 'exclusive');
  }

  heldKeys(txnId: string): string[] {
    return [...(this.heldBy.get(txnId) ?? [])].sort();
  }

  private promote(key: string, lock: KeyLock, events: LockEvents): void {
    while (lock.queue.length > 0) {
      const next = lock.queue[0]!;
      const blockers = [...lock.holders.values()].filter((h) => h.txn.id !== next.txn.id && !compatible(h.mode, next.mode));
      if (blockers.length > 0) {
        // The head still waits; if it is older than a blocker, that blocker is wounded.
        for (const h of blockers)
          if (this.opts.wound && olderThan(next.txn, h.txn) && !this.woundedSet.has(h.txn.id)) {
            this.woundedSet.add(h.txn.id);
            events.wounded.push(h.txn.id);
          }
        return;
      }
      lock.queue.shift();
      if (!lock.queue.some((w) => w.txn.id === next.txn.id)) this.waitingOn.get(next.txn.id)?.delete(key);
      this.grant(lock, key, next.txn, next.mode);
      events.granted.push({ txn: next.txn.id, key, mode: next.mode });
    }
  }

  private grant(lock: KeyLock, key: string, txn: TxnRef, mode: LockMode): void {
    const prev = lock.holders.get(txn.id);
    lock.holders.set(txn.id, { txn, mode: prev?.mode === 'exclusive' ? 'exclusive' : mode });
    let keys = this.heldBy.get(txn.id);
    if (!keys) this.heldBy.set(txn.id, (keys = new Set()));
    keys.add(key);
  }

  private lockOf(key: string): KeyLock {
    let lock = this.locks.get(key);
    if (!lock) this.locks.set(key, (lock = { holders: new Map(), queue: [] }));
    return lock;
  }
}
