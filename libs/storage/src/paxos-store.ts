import { strict as assert } from 'node:assert';
import type { Database } from 'lmdb';
import { compareBallots, isBallot } from './ballot.js';
import type { GroupCommitter } from './group-commit.js';
import { isSlot, logKey, logRange, metaKey, type LogKey, type MetaKey } from './keys.js';
import type { AcceptedEntry, Ballot, GroupId, PaxosDurableState, PaxosPersist, SnapshotRecord, Value } from './types.js';

/** `paxos-meta` value at `[groupId]`. Fields beyond `promised` are written by later issues. */
export interface PaxosMetaRecord {
  promised?: Ballot;
  config?: unknown;
  applied?: number;
  snapshotIndex?: number;
}

/** `paxos-log` value at `[groupId, slot]`. */
export interface PaxosLogRecord {
  ballot: Ballot;
  value: Value;
}

/**
 * Durable acceptor state of one Paxos group. Obtain it from `Storage.paxos()`;
 * it assumes it is the only writer of its group (one environment per process,
 * one instance per group).
 */
export class PaxosStore {
  // The meta record as it will be once every submitted write is durable. Keeping it
  // in memory lets each persist write a whole record without reading inside the
  // batch, and lets us assert that `promised` never goes backwards at the call site,
  // where the bug is, rather than inside somebody else's batch.
  private metaView: PaxosMetaRecord;
  // Resolves when this group's latest write is durable; rejects if it failed.
  private lastWrite: Promise<void> = Promise.resolve();

  constructor(
    readonly group: GroupId,
    private readonly meta: Database<PaxosMetaRecord, MetaKey>,
    private readonly log: Database<PaxosLogRecord, LogKey>,
    private readonly committer: GroupCommitter,
    private readonly snapshots: Database<SnapshotRecord, MetaKey>,
  ) {
    this.metaView = { ...(meta.get(metaKey(group)) ?? {}) };
  }

  /**
   * The group's durable state, after this process's earlier writes to it have settled.
   * Meant for replica start-up; it reads the whole log of the group.
   */
  async load(): Promise<PaxosDurableState> {
    await this.lastWrite.catch(() => undefined);
    const record = this.meta.get(metaKey(this.group)) ?? {};
    const accepted: AcceptedEntry[] = [];
    for (const { key, value } of this.log.getRange(logRange(this.group))) {
      accepted.push({ slot: key[1], ballot: value.ballot, value: value.value });
    }
    const state: PaxosDurableState = { promised: record.promised ?? null, accepted };
    if (record.config !== undefined) state.config = record.config;
    if (record.applied !== undefined) state.applied = record.applied;
    if (record.snapshotIndex !== undefined) state.snapshotIndex = record.snapshotIndex;
    const snapshot = this.snapshots.get(metaKey(this.group));
    if (snapshot !== undefined) state.snapshot = snapshot;
    return state;
  }

  /**
   * Makes `p` durable. Resolves after the fsync of the batch that holds it, and
   * never before an earlier write of this group. An empty `p` still waits for
   * the earlier writes: the reply it guards may depend on them.
   * Throws synchronously if `p` is malformed or moves `promised` backwards.
   */
  persist(p: PaxosPersist): Promise<void> {
    const entries = p.accepted ?? [];
    if (p.promised === undefined && entries.length === 0 && p.snapshot === undefined && p.truncateBelow === undefined) return this.lastWrite;
    if (p.snapshot !== undefined) assert(isSlot(p.snapshot.upTo), `group ${this.group}: malformed snapshot index ${p.snapshot.upTo}`);
    if (p.truncateBelow !== undefined) assert(isSlot(p.truncateBelow), `group ${this.group}: malformed truncation slot ${p.truncateBelow}`);

    // Validate everything before touching metaView, so a rejected call changes nothing.
    for (const entry of entries) {
      assert(isSlot(entry.slot), `group ${this.group}: malformed slot ${entry.slot}`);
      assert(isBallot(entry.ballot), `group ${this.group}: malformed ballot at slot ${entry.slot}`);
    }
    let metaRecord: PaxosMetaRecord | null = null;
    if (p.promised !== undefined) {
      assert(isBallot(p.promised), `group ${this.group}: malformed promised ballot ${JSON.stringify(p.promised)}`);
      const previous = this.metaView.promised;
      assert(
        previous === undefined || compareBallots(p.promised, previous) >= 0,
        `group ${this.group}: promised ballot must not decrease (${JSON.stringify(previous)} -> ${JSON.stringify(p.promised)})`,
      );
      this.metaView = { ...this.metaView, promised: { round: p.promised.round, node: p.promised.node } };
      metaRecord = this.metaView;
    }
    // Ballots are copied now; values are encoded only when the batch runs, so
    // callers must treat a value as immutable once it has been handed to persist.
    const records = entries.map((e) => ({
      key: logKey(this.group, e.slot),
      record: { ballot: { round: e.ballot.round, node: e.ballot.node }, value: e.value } satisfies PaxosLogRecord,
    }));
    const key = metaKey(this.group);
    const snapshot = p.snapshot;
    const truncate = p.truncateBelow !== undefined ? logRange(this.group, 0, p.truncateBelow) : undefined;
    return this.chain(() => {
      if (metaRecord) this.meta.putSync(key, metaRecord);
      // The replica's order: the snapshot first, then the entries, then compaction below it.
      if (snapshot) this.snapshots.putSync(key, snapshot);
      for (const { key, record } of records) this.log.putSync(key, record);
      if (truncate) for (const k of Array.from(this.log.getKeys(truncate))) this.log.removeSync(k);
    });
  }

  /**
   * A write op recording that entries below `upTo` are applied, for the same transaction as the
   * MVCC versions they wrote (Storage.applyEntry): a restart neither re-applies nor loses one.
   */
  appliedOp(upTo: number): () => void {
    assert(isSlot(upTo), `group ${this.group}: malformed applied index ${upTo}`);
    assert(upTo >= (this.metaView.applied ?? 0), `group ${this.group}: applied index must not decrease (${this.metaView.applied} -> ${upTo})`);
    this.metaView = { ...this.metaView, applied: upTo };
    const record = this.metaView;
    const key = metaKey(this.group);
    return () => this.meta.putSync(key, record);
  }

  /** Submits a composed write op in this group's order; resolves when durable. */
  submit(op: () => void): Promise<void> {
    return this.chain(op);
  }

  /** Deletes the group's log entries with slot < `slot` (compaction). Durable on resolution. */
  truncateBelow(slot: number): Promise<void> {
    assert(isSlot(slot), `group ${this.group}: malformed slot ${slot}`);
    const range = logRange(this.group, 0, slot);
    return this.chain(() => {
      // Collect first: deleting under an open cursor would skip entries.
      const keys = Array.from(this.log.getKeys(range));
      for (const key of keys) this.log.removeSync(key);
    });
  }

  private chain(op: () => void): Promise<void> {
    const done = this.committer.submit(op);
    this.lastWrite = done;
    return done;
  }
}
