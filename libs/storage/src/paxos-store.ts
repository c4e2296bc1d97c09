import { strict as assert } from 'node:assert';
import type { Database } from 'lmdb';
import { compareBallot, type AcceptedEntry, type AppliedRecord, type Ballot, type PersistRequest, type Snapshot, type Value } from '@synod/paxos';
import { isBallot } from './ballot.js';
import type { GroupCommitter, SubmitOptions } from './group-commit.js';
import type { WriteAheadLog } from './wal.js';
import { isSlot, logKey, logRange, metaKey, type LogKey, type MetaKey } from './keys.js';
import type { DurableAppliedState, GroupId, PaxosDurableState } from './types.js';

/** `paxos-meta` value at `[groupId]`. */
export interface PaxosMetaRecord {
  promised?: Ballot;
  /** Slots below it are applied; written with each entry's effects (Storage.applyEntry). */
  applied?: number;
  /** The state machine's small header as of `applied` (the spanserver's t_safe inputs). */
  header?: unknown;
}

/** `paxos-applied` value at `[groupId, slot]` (the slot is the key). */
export type AppliedRecordValue = Omit<AppliedRecord, 'slot'>;

/**
 * Most keys of each kind (log entries, applied records) one truncation step deletes; the
 * committer's SWEEP_KEYS_PER_TRANSACTION caps all groups' steps in a transaction together. No
 * transaction (and no key list in memory) grows with the length of the log, e.g. the first
 * compaction of a log that grew for days: a compaction every 1,000 entries (the spanserver's
 * default) once deleted 1,000 log entries and 1,000 applied records in one go, and a few splits
 * compacting in the same batch stalled the loop for over 100 ms (docs/spanserver.md, "Periodic
 * work and the event loop").
 */
export const TRUNCATE_BATCH = 256;

/** `paxos-log` value at `[groupId, slot]`. */
export interface PaxosLogRecord {
  ballot: Ballot;
  value: Value;
}

/** How a PaxosStore reaches the process's write-ahead log (Storage). */
export interface WalPort {
  wal: WriteAheadLog;
  /** A write op for the LMDB transaction holding record `seq`'s writes: records that LMDB holds it. */
  markCommitted(seq: number): void;
  /** That transaction committed. */
  committed(seq: number): void;
  /** It failed: LMDB cannot take what the log acknowledged, so nothing more may be acknowledged. */
  copyFailed(err: unknown): void;
}

/** Options of PaxosStore.submit: GroupCommitter's, and whether the write is a barrier (below). */
export interface StoreSubmitOptions extends SubmitOptions {
  /**
   * The write changes the group's shape (a snapshot installed, the group dropped, a split cut):
   * until it is durable, persists of the group wait for LMDB instead of the write-ahead log, so
   * no acknowledged write can be replayed on top of a state that never had the barrier.
   */
  barrier?: boolean;
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
  // Resolves when this group's latest write is committed in LMDB; rejects if it failed.
  private lastWrite: Promise<void> = Promise.resolve();
  /** Barrier writes (StoreSubmitOptions.barrier, and persists taking the LMDB path) not yet durable. */
  private barriers = 0;

  constructor(
    readonly group: GroupId,
    private readonly meta: Database<PaxosMetaRecord, MetaKey>,
    private readonly log: Database<PaxosLogRecord, LogKey>,
    private readonly committer: GroupCommitter,
    private readonly snapshots: Database<Snapshot, MetaKey>,
    private readonly applied: Database<AppliedRecordValue, LogKey>,
    private readonly walPort?: WalPort,
  ) {
    this.metaView = { ...(meta.get(metaKey(group)) ?? {}) };
  }

  /**
   * The group's durable state, after this process's earlier writes to it have settled.
   * Meant for replica start-up; it reads the whole log of the group.
   */
  async load(): Promise<PaxosDurableState> {
    this.committer.flush();
    await this.lastWrite.catch(() => undefined);
    const record = this.meta.get(metaKey(this.group)) ?? {};
    const accepted: AcceptedEntry[] = [];
    for (const { key, value } of this.log.getRange(logRange(this.group))) {
      accepted.push({ slot: key[1], ballot: value.ballot, value: value.value });
    }
    const state: PaxosDurableState = { promised: record.promised ?? null, accepted };
    const snapshot = this.snapshots.get(metaKey(this.group));
    if (snapshot !== undefined) state.snapshot = snapshot;
    return state;
  }

  /**
   * Makes `p` durable. Resolves once its write-ahead log record is fdatasync'd (with a log, and
   * no snapshot, truncation or pending barrier of the group) or else once the LMDB batch that
   * holds it is fsync'd; never before an earlier persist or barrier of this group. An empty `p`
   * waits for every earlier write of the group to be committed in LMDB: the reply it guards may
   * depend on them. Throws synchronously if `p` is malformed or moves `promised` backwards.
   */
  persist(p: PersistRequest): Promise<void> {
    const entries = p.accepted ?? [];
    if (p.promised === undefined && entries.length === 0 && p.snapshot === undefined && p.truncateBelow === undefined) {
      // The reply it guards waits for the earlier writes: a deferred one must not hold it back.
      this.committer.flush();
      return this.lastWrite;
    }
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
        previous === undefined || compareBallot(p.promised, previous) >= 0,
        `group ${this.group}: promised ballot must not decrease (${JSON.stringify(previous)} -> ${JSON.stringify(p.promised)})`,
      );
      this.metaView = { ...this.metaView, promised: { round: p.promised.round, node: p.promised.node } };
      metaRecord = this.metaView;
    }
    // Ballots are copied now; values are encoded when the record is appended (write-ahead log)
    // or when the batch runs, so callers must treat a value as immutable once handed to persist.
    const copies = entries.map((e): AcceptedEntry => ({ slot: e.slot, ballot: { round: e.ballot.round, node: e.ballot.node }, value: e.value }));
    const key = metaKey(this.group);
    const snapshot = p.snapshot;
    const writeLmdb = (markCommitted?: () => void) => () => {
      if (metaRecord) this.meta.putSync(key, metaRecord);
      // The replica's order: the snapshot first, then the entries, then compaction below it.
      if (snapshot) this.snapshots.putSync(key, snapshot);
      for (const e of copies) this.log.putSync(logKey(this.group, e.slot), { ballot: e.ballot, value: e.value });
      markCommitted?.();
    };

    // The write-ahead log (libs/storage/README.md): acknowledged once its record is on disk, and
    // written to LMDB right behind, where it may wait (deferrable) to share a transaction.
    const port = this.walPort;
    // A failed log fails the storage (fail-stop), as a failed LMDB commit does.
    if (port?.wal.failed) return Promise.reject(port.wal.failed);
    const fast = port !== undefined && snapshot === undefined && p.truncateBelow === undefined && this.barriers === 0 && !this.committer.failed;
    const appended = fast ? port.wal.append(metaRecord ? { group: this.group, promised: metaRecord.promised!, accepted: copies } : { group: this.group, accepted: copies }) : null;
    if (appended !== null) {
      const { seq, durable } = appended;
      const copied = this.chain(writeLmdb(() => port!.markCommitted(seq)), { deferrable: true });
      copied.then(
        () => port!.committed(seq),
        (err: unknown) => port!.copyFailed(err),
      );
      return durable;
    }
    const done = this.barrier(this.chain(writeLmdb()));
    if (p.truncateBelow !== undefined) this.truncate(p.truncateBelow);
    return done;
  }

  /**
   * A write op recording that entries below `upTo` are applied, for the same transaction as the
   * MVCC versions they wrote (Storage.applyEntry): a restart neither re-applies nor loses one.
   * With `record` (the entry's AppliedRecord) and `header` (the state machine's small header
   * after it), a restart resumes at `upTo` without re-applying anything (`appliedState()`).
   */
  appliedOp(upTo: number, record?: AppliedRecord, header?: unknown): () => void {
    assert(isSlot(upTo), `group ${this.group}: malformed applied index ${upTo}`);
    assert(upTo >= (this.metaView.applied ?? 0), `group ${this.group}: applied index must not decrease (${this.metaView.applied} -> ${upTo})`);
    if (record) assert(record.slot === upTo - 1, `group ${this.group}: applied record of slot ${record.slot} written with applied index ${upTo}`);
    this.metaView = header === undefined ? { ...this.metaView, applied: upTo } : { ...this.metaView, applied: upTo, header };
    const meta = this.metaView;
    const key = metaKey(this.group);
    let value: AppliedRecordValue | undefined;
    if (record) {
      value = record.config ? { commandIds: [...record.commandIds], config: record.config } : { commandIds: [...record.commandIds] };
      if (record.logHolds) value.logHolds = true;
      if (record.value !== undefined) value.value = record.value;
    }
    return () => {
      this.meta.putSync(key, meta);
      if (value) this.applied.putSync(logKey(this.group, upTo - 1), value);
    };
  }

  /**
   * A write op for installing a snapshot received from a peer (with the state machine's own
   * writes, Storage.installSnapshot): the snapshot record, the applied index `snapshot.upTo`
   * and `header`, and no applied records below it. The applied index may jump forward only.
   */
  installOp(snapshot: Snapshot, header: unknown): () => void {
    const upTo = snapshot.upTo;
    assert(isSlot(upTo), `group ${this.group}: malformed snapshot index ${upTo}`);
    assert(upTo >= (this.metaView.applied ?? 0), `group ${this.group}: installing snapshot ${upTo} below the applied index ${this.metaView.applied}`);
    this.metaView = { ...this.metaView, applied: upTo, header };
    const meta = this.metaView;
    const key = metaKey(this.group);
    return () => {
      this.meta.putSync(key, meta);
      this.snapshots.putSync(key, snapshot);
      // Queued from inside the transaction, behind the snapshot it relies on.
      this.truncate(upTo);
    };
  }

  /**
   * A write op deleting everything of this group (meta record, snapshot, log, applied records),
   * for a replica that stops hosting it (Storage.dropGroup). The log and applied records are
   * bounded by compaction (docs/limits.md), so one transaction holds them.
   */
  dropOp(): () => void {
    this.metaView = {};
    const key = metaKey(this.group);
    const range = logRange(this.group);
    // A pending truncation must not outlive the group: the group may be hosted here again later.
    this.committer.cancelSweep(this.group);
    return () => {
      this.meta.removeSync(key);
      this.snapshots.removeSync(key);
      for (const k of Array.from(this.log.getKeys(range))) this.log.removeSync(k);
      for (const k of Array.from(this.applied.getKeys(range))) this.applied.removeSync(k);
    };
  }

  /**
   * Where a durable applier resumes: the applied index and header, and the applied records from
   * the durable snapshot's index (or 0) up to it. Reads only that tail of the records.
   */
  async appliedState(): Promise<DurableAppliedState> {
    this.committer.flush();
    await this.lastWrite.catch(() => undefined);
    const meta = this.meta.get(metaKey(this.group)) ?? {};
    const snapshot = this.snapshots.get(metaKey(this.group));
    const upTo = meta.applied ?? 0;
    const from = Math.min(snapshot?.upTo ?? 0, upTo);
    const records: AppliedRecord[] = [];
    for (const { key, value } of this.applied.getRange(logRange(this.group, from, upTo))) records.push({ slot: key[1], ...value });
    const state: DurableAppliedState = { upTo, from, records };
    if (meta.header !== undefined) state.header = meta.header;
    if (snapshot !== undefined) state.snapshot = snapshot;
    return state;
  }

  /** Log entries of this group on disk now (cheap: counts keys, reads no values). */
  logSize(): number {
    return this.log.getKeysCount(logRange(this.group));
  }

  /** Applied records of this group on disk now. */
  appliedRecordCount(): number {
    return this.applied.getKeysCount(logRange(this.group));
  }

  /** Submits a composed write op in this group's order; resolves when durable (`deferrable`: GroupCommitter). */
  submit(op: () => void, options?: StoreSubmitOptions): Promise<void> {
    const done = this.chain(op, options);
    return options?.barrier === true ? this.barrier(done) : done;
  }

  /** Counts `write` as a barrier until it settles. */
  private barrier(write: Promise<void>): Promise<void> {
    this.barriers++;
    const settled = () => {
      this.barriers--;
    };
    write.then(settled, settled);
    return write;
  }

  /**
   * Queues the deletion of log entries and applied records below `slot` as a sweep of the
   * committer: it runs after the writes submitted before it (the snapshot that covers the
   * range), in steps within each transaction's shared budget. Partial truncation is harmless:
   * entries below the durable snapshot are ignored on load.
   */
  private truncate(slot: number): void {
    const range = logRange(this.group, 0, slot);
    this.committer.sweep(this.group, (budget) => {
      // Collect first (bounded): deleting under an open cursor would skip entries.
      const logLimit = Math.min(TRUNCATE_BATCH, budget);
      const logKeys = Array.from(this.log.getKeys({ ...range, limit: logLimit }));
      for (const key of logKeys) this.log.removeSync(key);
      const appliedLimit = Math.min(TRUNCATE_BATCH, budget - logKeys.length);
      const appliedKeys = appliedLimit > 0 ? Array.from(this.applied.getKeys({ ...range, limit: appliedLimit })) : [];
      for (const key of appliedKeys) this.applied.removeSync(key);
      const deleted = logKeys.length + appliedKeys.length;
      // Stopped by a limit (a limit of 0 included): there may be more, which one more step finds out.
      const more = logKeys.length === logLimit || appliedKeys.length === appliedLimit;
      return { deleted, more: more && deleted > 0 };
    });
  }

  private chain(op: () => void, options?: SubmitOptions): Promise<void> {
    const done = this.committer.submit(op, options);
    this.lastWrite = done;
    return done;
  }
}
