import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { GroupCommitter, type GroupCommitStats } from './group-commit.js';
import { DB_NAMES, type LegacyOutcomeKey, type LogKey, type MetaKey, type OutcomeKey } from './keys.js';
import { MvccStore, type MvccKey, type MvccRecord, type MvccRow, type VersionWrite } from './mvcc-store.js';
import { PaxosStore, type AppliedRecordValue, type PaxosLogRecord, type PaxosMetaRecord, type WalPort } from './paxos-store.js';
import { WriteAheadLog } from './wal.js';
import { replayWal, WAL_COMMITTED_KEY } from './wal-recovery.js';
import type { AppliedRecord, Snapshot } from '@synod/paxos';
import type { GroupId, OutcomeChanges, StoredOutcome } from './types.js';
import type { GcPassOptions, GcPassReport } from './version-gc.js';
import { isTimestamp } from './version-rule.js';
import { VALUE_ENCODING } from './value-encoding.js';

interface StorageOptions {
  /** Directory of the LMDB environment (created if missing). */
  path: string;
  /**
   * true (default): every committed batch is fsync'd before its promises resolve.
   * false: commits reach the OS page cache only (survive a process crash, not a
   * power loss or kernel crash); for tests and simulations.
   */
  fsync?: boolean;
  /** Upper bound on the number of named databases; raise it only if keyspaces are added. */
  maxDbs?: number;
  /**
   * true (default when fsync is on): acceptor writes (PaxosStore.persist without a snapshot) are
   * acknowledged once appended to the write-ahead log in `<path>/wal` and fdatasync'd, and
   * committed to LMDB right behind (libs/storage/README.md, "Write-ahead log"). false: every
   * persist waits for its LMDB commit. Start-up replays a log left by an earlier run either way.
   */
  wal?: boolean;
}

/**
 * The process's persisted time high-water mark (µs): the highest TrueTime `latest` it has used for
 * a timestamp and the highest GC horizon it has applied. Both only move forward, so a clock that
 * moved back (or a restart on one) cannot issue a timestamp at or below one already issued, nor
 * make the GC horizon look lower than what was collected.
 */
export interface TimeMark {
  issuedUs: number;
  gcHorizonUs: number;
}

/** `node-meta` key of the node's hosted split entries (docs/spanserver.md). */
const HOSTED_SPLITS_KEY = 'hosted-splits';

/**
 * `txn-outcomes` value at `[groupId, seq]`: the transaction id and its outcome. The key is the
 * group's decision order, not the id: a round's outcomes are written next to each other and the
 * oldest are deleted from one end, so an LMDB transaction dirties a few leaf pages instead of one
 * per outcome (client ids spread writes over every client's part of the tree). Measured with
 * `round-bench.ts` (90 commits a round): 37 → 27 µs of CPU per commit (libs/storage/README.md,
 * "Outcome layout").
 */
interface OutcomeRecord {
  i: string;
  o: StoredOutcome;
}

/** The record of an outcome as written before the sequence moved into the key. */
interface LegacyOutcomeRecord {
  s: number;
  o: StoredOutcome;
}

/** Where each of a group's outcomes is: its id's sequence number, and the next one to hand out. */
interface OutcomeIndex {
  seqOf: Map<string, number>;
  next: number;
}

/** `node-meta` key whose value says the outcome records are keyed by sequence (OUTCOME_LAYOUT). */
const OUTCOME_LAYOUT_KEY = 'outcome-layout';
const OUTCOME_LAYOUT = 2;

/**
 * The process's single LMDB environment (DESIGN §6) and its group committer.
 * Open it once per process and hand out per-group views with `paxos(groupId)`.
 */
export class Storage {
  private readonly stores = new Map<GroupId, PaxosStore>();
  /** Per group, each outcome's sequence number (its key) and the next one (one above every one written). */
  private readonly outcomeIndexes = new Map<GroupId, OutcomeIndex>();
  /** Groups whose applied entries nobody waits on promptly (this replica follows): their writes are deferrable. */
  private readonly deferredApplies = new Set<GroupId>();
  /** The time mark as it will be once every submitted raise is durable (this process is its only writer). */
  private markView: TimeMark | undefined;
  private lastMarkWrite: Promise<void> = Promise.resolve();
  private closed = false;
  /** The write-ahead log's view of this storage (PaxosStore), when it has one. */
  private readonly walPort: WalPort | undefined;
  /** The highest write-ahead log record LMDB has committed (every lower one too: commits keep log order). */
  private walCommitted = 0;
  /** The process's one MVCC keyspace (all splits hosted here; they never overlap). */
  readonly mvcc: MvccStore;

  private constructor(
    private readonly root: RootDatabase,
    private readonly meta: Database<PaxosMetaRecord, MetaKey>,
    private readonly log: Database<PaxosLogRecord, LogKey>,
    private readonly committer: GroupCommitter,
    readonly fsync: boolean,
    mvccDb: Database<MvccRecord, MvccKey>,
    private readonly snapshots: Database<Snapshot, MetaKey>,
    private readonly appliedRecords: Database<AppliedRecordValue, LogKey>,
    private readonly nodeMeta: Database<TimeMark, string>,
    private readonly outcomeDb: Database<OutcomeRecord, OutcomeKey>,
    private readonly wal: WriteAheadLog | null,
  ) {
    this.mvcc = new MvccStore(mvccDb, committer);
    if (wal)
      this.walPort = {
        wal,
        markCommitted: (seq) => this.nodeMeta.putSync(WAL_COMMITTED_KEY, seq as unknown as TimeMark),
        committed: (seq) => {
          this.walCommitted = Math.max(this.walCommitted, seq);
          wal.retireThrough(this.walCommitted);
        },
        copyFailed: (err) => wal.abort(err),
      };
  }

  static open(options: StorageOptions): Storage {
    const fsync = options.fsync ?? true;
    const root = open({
      ...VALUE_ENCODING,
      path: options.path,
      maxDbs: options.maxDbs ?? 8,
      // Durability contract. lmdb-js's Linux default is overlappingSync: true, which
      // commits with MDB_NOSYNC and fsyncs *afterwards* on another thread; its write
      // promises then resolve at commit, before the fsync (only `db.flushed` waits
      // for it), and recovery after a reboot falls back to the last flushed
      // transaction. That would let a Paxos reply escape before its state is on disk.
      // With overlappingSync off and noSync off, mdb_txn_commit() itself fsyncs data
      // and meta pages, and lmdb-js marks the transaction committed (resolving its
      // promise) only after that call returns.
      overlappingSync: false,
      noSync: !fsync,
      // A stray write through a writable mmap could corrupt committed pages; the
      // malloc+pwrite path keeps committed data out of reach of the process.
      useWritemap: false,
    });
    const meta = root.openDB<PaxosMetaRecord, MetaKey>({ name: DB_NAMES.paxosMeta });
    const log = root.openDB<PaxosLogRecord, LogKey>({ name: DB_NAMES.paxosLog });
    const mvcc = root.openDB<MvccRecord, MvccKey>({ name: DB_NAMES.mvcc });
    const snapshots = root.openDB<Snapshot, MetaKey>({ name: DB_NAMES.paxosSnapshot });
    const applied = root.openDB<AppliedRecordValue, LogKey>({ name: DB_NAMES.paxosApplied });
    const nodeMeta = root.openDB<TimeMark, string>({ name: DB_NAMES.nodeMeta });
    const outcomes = root.openDB<OutcomeRecord, OutcomeKey>({ name: DB_NAMES.txnOutcomes });
    try {
      upgradeOutcomeLayout(root, outcomes, nodeMeta as unknown as Database<unknown, string>);
    } catch (err) {
      void root.close();
      throw err;
    }
    const walDir = join(options.path, 'wal');
    const nextSeq = replayWal(walDir, { root, meta, log, nodeMeta: nodeMeta as unknown as Database<unknown, string> });
    const wal = fsync && (options.wal ?? true) ? new WriteAheadLog(walDir, nextSeq) : null;
    return new Storage(root, meta, log, new GroupCommitter(root), fsync, mvcc, snapshots, applied, nodeMeta, outcomes, wal);
  }

  /** The durable Paxos state of one group. Same instance for the same id. */
  paxos(group: GroupId): PaxosStore {
    this.assertOpen();
    let store = this.stores.get(group);
    if (!store) {
      store = new PaxosStore(group, this.meta, this.log, this.committer, this.snapshots, this.appliedRecords, this.walPort);
      this.stores.set(group, store);
    }
    return store;
  }

  /**
   * Applies one chosen entry of `group`: its MVCC versions, the group's new applied index, and
   * (when given) the entry's AppliedRecord, the state machine's header after it and the changes to
   * the group's outcome table, in one LMDB transaction (DESIGN §6), durable when the promise
   * resolves: a crash keeps all of them or none. Submitted in the group's write chain, so it is
   * durable no later than any write of the group submitted after it. Outcomes in `put` are
   * written first, then those in `forget` removed, so the table after the entry is
   * (table + put) - forget: what an in-memory table that decides, then evicts, holds. Throws
   * synchronously, writing nothing, if any part is malformed.
   */
  applyEntry(
    group: GroupId,
    appliedUpTo: number,
    versions: readonly VersionWrite[],
    extra: { record?: AppliedRecord; header?: unknown; outcomes?: OutcomeChanges; newGroups?: ReadonlyArray<{ group: GroupId; header: unknown; snapshot: Snapshot }>; hostedSplits?: unknown } = {},
  ): Promise<void> {
    const store = this.paxos(group);
    if (extra.outcomes) validateOutcomeChanges(extra.outcomes);
    const writeVersions = this.mvcc.writeOp(versions);
    const writeApplied = store.appliedOp(appliedUpTo, extra.record, extra.header);
    const writeOutcomes = extra.outcomes && this.outcomesOp(group, extra.outcomes);
    // A split cut by this entry: the new group's initial state, as a snapshot at its first slot,
    // and the node's hosted set, in the same transaction as the entry (docs/spanserver.md,
    // "Cutting a split").
    const writeNewGroups = (extra.newGroups ?? []).map((g) => this.paxos(g.group).installOp(g.snapshot, g.header));
    const hosted = extra.hostedSplits;
    // A cut is waited on (the child is hosted once it is durable): it never waits to share a batch.
    const deferrable = writeNewGroups.length === 0 && hosted === undefined && this.deferredApplies.has(group);
    return store.submit(
      () => {
        writeVersions();
        writeOutcomes?.();
        writeApplied();
        for (const w of writeNewGroups) w();
        if (hosted !== undefined) this.nodeMeta.putSync(HOSTED_SPLITS_KEY, hosted as TimeMark);
      },
      { deferrable, barrier: writeNewGroups.length > 0 || hosted !== undefined },
    );
  }

  /**
   * Whether `group`'s applied entries (applyEntry) may wait up to DEFER_MAX_MS to share a
   * transaction with a later write (GroupCommitter, "Deferrable writes"): set while this replica
   * follows, whose applies only its t_safe waits for; cleared when it leads, whose commits are
   * acknowledged once their apply is durable. Clearing starts any deferred write at once.
   */
  deferApplies(group: GroupId, deferrable: boolean): void {
    // Not a write, only how later writes are batched: a shell that reports a leadership change
    // while it shuts down (after close) is not an error.
    if (this.closed) return;
    if (deferrable) this.deferredApplies.add(group);
    else if (this.deferredApplies.delete(group)) this.committer.flush();
  }

  /** The node's persisted set of hosted split entries (undefined before any was written). */
  hostedSplits(): unknown {
    this.assertOpen();
    return this.nodeMeta.get(HOSTED_SPLITS_KEY) as unknown;
  }

  /** Persists the node's set of hosted split entries on its own; durable on resolve. */
  setHostedSplits(entries: unknown): Promise<void> {
    this.assertOpen();
    return this.committer.submit(() => this.nodeMeta.putSync(HOSTED_SPLITS_KEY, entries as TimeMark));
  }

  /**
   * Deletes everything of `group` here (Paxos meta, snapshot, log, applied records, outcomes)
   * and, when `range` is given, every MVCC version in it, with the node's new hosted set, in one
   * transaction submitted in the group's write chain. The group must no longer be hosted.
   */
  dropGroup(group: GroupId, range: { start: string; end: string } | null, hostedSplits?: unknown): Promise<void> {
    const store = this.paxos(group);
    const drop = store.dropOp();
    const clear = range ? this.mvcc.replaceRangeOp(range.start, range.end, []) : undefined;
    const done = store.submit(
      () => {
        drop();
        clear?.();
        for (const key of this.outcomeKeys(group)) this.outcomeDb.removeSync(key);
        if (hostedSplits !== undefined) this.nodeMeta.putSync(HOSTED_SPLITS_KEY, hostedSplits as TimeMark);
      },
      { barrier: true },
    );
    // Empty once the drop commits; set now, so a group hosted again here never scans the records
    // the drop is about to delete.
    this.outcomeIndexes.set(group, { seqOf: new Map(), next: 0 });
    this.deferredApplies.delete(group);
    return done;
  }

  /**
   * Installs a snapshot from a peer in ONE transaction, submitted in the group's write chain
   * (so it lands after every earlier apply of the group and before every later one): replaces
   * every MVCC version in `[start, end)` with `rows`, records `snapshot` as the group's durable
   * snapshot, sets the applied index to `snapshot.upTo` with `header`, drops the applied
   * records below it, and replaces the group's outcome table with `outcomes` (in their order;
   * none given = an empty table).
   */
  installSnapshot(
    group: GroupId,
    range: { start: string; end: string },
    rows: readonly MvccRow[],
    snapshot: Snapshot,
    header: unknown,
    outcomes: ReadonlyArray<readonly [string, StoredOutcome]> = [],
  ): Promise<void> {
    const store = this.paxos(group);
    validateOutcomeChanges({ put: outcomes, forget: [] });
    const replace = this.mvcc.replaceRangeOp(range.start, range.end, rows);
    const install = store.installOp(snapshot, header);
    // An id listed twice keeps its later place, as a put again does.
    const seqOf = new Map<string, number>();
    outcomes.forEach(([id], seq) => seqOf.set(id, seq));
    const records = outcomes.flatMap(([id, o], seq): Array<[OutcomeKey, OutcomeRecord]> => (seqOf.get(id) === seq ? [[[group, seq], { i: id, o: copyOutcome(o) }]] : []));
    this.outcomeIndexes.set(group, { seqOf, next: outcomes.length });
    return store.submit(
      () => {
        replace();
        install();
        for (const key of this.outcomeKeys(group)) this.outcomeDb.removeSync(key);
        for (const [key, rec] of records) this.outcomeDb.putSync(key, rec);
      },
      { barrier: true },
    );
  }

  /**
   * The durable outcome table of `group`, in decision order (the order the outcomes were put;
   * an id put again moves to its latest place). For start-up: it reads what is committed now.
   */
  outcomes(group: GroupId): Array<[string, StoredOutcome]> {
    this.assertOpen();
    return Array.from(this.outcomeRange(group), ({ value }): [string, StoredOutcome] => [value.i, value.o]);
  }

  /**
   * Synced LMDB commits and write-ahead log fdatasyncs so far (monotone; 0 when opened with
   * `fsync: false`): every durable flush of this process's storage. An idle node should not move it.
   */
  fsyncCount(): number {
    return this.fsync ? this.committer.commits + (this.wal?.syncs ?? 0) : 0;
  }

  /** The persisted time high-water mark (zeros if none yet). */
  timeMark(): TimeMark {
    const m = this.nodeMeta.get('time-mark');
    return { issuedUs: m?.issuedUs ?? 0, gcHorizonUs: m?.gcHorizonUs ?? 0 };
  }

  /**
   * Raises the persisted time high-water mark to at least `m` (never lowers either field); durable
   * on resolve. A call that raises nothing writes nothing (no commit, no fsync): it resolves once
   * the raises before it are durable.
   */
  raiseTimeMark(m: Partial<TimeMark>): Promise<void> {
    this.assertOpen();
    const cur = (this.markView ??= this.timeMark());
    const next = { issuedUs: Math.max(cur.issuedUs, m.issuedUs ?? 0), gcHorizonUs: Math.max(cur.gcHorizonUs, m.gcHorizonUs ?? 0) };
    if (next.issuedUs === cur.issuedUs && next.gcHorizonUs === cur.gcHorizonUs) return this.lastMarkWrite;
    this.markView = next;
    this.lastMarkWrite = this.committer.submit(() => this.nodeMeta.putSync('time-mark', next));
    return this.lastMarkWrite;
  }

  /**
   * One incremental version-GC pass at `horizon` (MvccStore.gcPass) that persists the horizon in
   * the time high-water mark before its first deletion: the mark's write is submitted to the same
   * chain just before that deletion, so it is durable first, and a crash or close in the middle of
   * the pass cannot restart below a horizon whose versions are partly gone. A pass that deletes
   * nothing writes nothing (docs/spanserver.md, "Version GC").
   */
  collectVersions(horizon: number, options: Omit<GcPassOptions, 'beforeFirstDelete'> = {}): Promise<GcPassReport> {
    this.assertOpen();
    return this.mvcc.gcPass(horizon, { ...options, beforeFirstDelete: () => this.raiseTimeMark({ gcHorizonUs: horizon }) });
  }

  get stats(): Readonly<GroupCommitStats> {
    return this.committer.stats;
  }

  /** Waits for queued writes to settle, then closes the environment. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // First: a GC pass submits nothing once this is called, and is done before the chain closes.
    await this.mvcc.closeGc();
    await this.committer.close();
    // Every record LMDB committed needs no replay: a clean close leaves no log behind.
    if (this.wal) await this.wal.close(this.walCommitted >= this.wal.lastSeq);
    await this.root.close();
  }

  /**
   * A write op for one entry's outcome changes; takes the group's next sequence numbers now, in
   * call order. An id put again moves to its new place (its old record goes); a forgotten id's
   * record goes. Puts are written before removals, so an id put and forgotten at once is gone.
   */
  private outcomesOp(group: GroupId, changes: OutcomeChanges): () => void {
    const index = this.outcomeIndex(group);
    const puts: Array<[OutcomeKey, OutcomeRecord]> = [];
    const removals: OutcomeKey[] = [];
    for (const [id, o] of changes.put) {
      const before = index.seqOf.get(id);
      if (before !== undefined) removals.push([group, before]);
      const seq = index.next++;
      index.seqOf.set(id, seq);
      puts.push([[group, seq], { i: id, o: copyOutcome(o) }]);
    }
    for (const id of changes.forget) {
      const seq = index.seqOf.get(id);
      if (seq === undefined) continue;
      index.seqOf.delete(id);
      removals.push([group, seq]);
    }
    return () => {
      for (const [key, rec] of puts) this.outcomeDb.putSync(key, rec);
      for (const key of removals) this.outcomeDb.removeSync(key);
    };
  }

  private outcomeIndex(group: GroupId): OutcomeIndex {
    let index = this.outcomeIndexes.get(group);
    if (index === undefined) {
      // First use in this process: every earlier write of the group's outcomes is committed.
      index = { seqOf: new Map(), next: 0 };
      for (const { key, value } of this.outcomeRange(group)) {
        index.seqOf.set(value.i, key[1]);
        index.next = key[1] + 1;
      }
      this.outcomeIndexes.set(group, index);
    }
    return index;
  }

  /** The group's outcome records, in decision order. */
  private *outcomeRange(group: GroupId): Generator<{ key: OutcomeKey; value: OutcomeRecord }> {
    yield* this.outcomeDb.getRange({ start: [group, 0], end: [group, Number.MAX_SAFE_INTEGER] });
  }

  /** The group's outcome keys, collected (deleting under an open cursor would skip entries). */
  private outcomeKeys(group: GroupId): OutcomeKey[] {
    return Array.from(this.outcomeRange(group), (e) => e.key);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('storage is closed');
  }
}

export function openStorage(options: StorageOptions): Storage {
  return Storage.open(options);
}

function validateOutcomeChanges(changes: OutcomeChanges): void {
  const slotLike = (x: unknown) => x === undefined || (Number.isSafeInteger(x) && (x as number) >= 0);
  for (const [id, o] of changes.put) {
    if (typeof id !== 'string') throw new Error(`outcome: transaction id must be a string, got ${JSON.stringify(id)}`);
    const ok =
      typeof o === 'object' &&
      o !== null &&
      (o.committed === true ? isTimestamp(o.ts) : o.committed === false && typeof o.reason === 'string') &&
      slotLike(o.slot) &&
      slotLike(o.at);
    if (!ok) throw new Error(`outcome of ${id} is malformed: ${JSON.stringify(o)}`);
  }
  for (const id of changes.forget) if (typeof id !== 'string') throw new Error(`outcome: forgotten id must be a string, got ${JSON.stringify(id)}`);
}

/** Copied now (shallowly): the caller may keep mutating its objects. */
function copyOutcome(o: StoredOutcome): StoredOutcome {
  return { ...o };
}

/**
 * Rewrites outcome records keyed `[groupId, txnId] -> {s, o}` (the layout before sequence keys)
 * as `[groupId, s] -> {i: txnId, o}`, in one transaction at open, before anything else writes;
 * then marks the environment so later opens skip the scan. A fresh environment is only marked.
 */
function upgradeOutcomeLayout(root: RootDatabase, outcomes: Database<OutcomeRecord, OutcomeKey>, nodeMeta: Database<unknown, string>): void {
  if (nodeMeta.get(OUTCOME_LAYOUT_KEY) === OUTCOME_LAYOUT) return;
  const legacy = outcomes as unknown as Database<LegacyOutcomeRecord, LegacyOutcomeKey | OutcomeKey>;
  const found: Array<{ key: LegacyOutcomeKey; value: LegacyOutcomeRecord }> = [];
  // Every [group, seq] key the rewrite would write or find: two claims on one would lose a record.
  const claimed = new Map<string, string>();
  const claim = (group: string, seq: number, by: string): void => {
    const k = JSON.stringify([group, seq]);
    const other = claimed.get(k);
    if (other !== undefined) throw new Error(`outcome records ${other} and ${by} both claim sequence number ${seq} of group ${group}`);
    claimed.set(k, by);
  };
  for (const e of legacy.getRange()) {
    if (typeof e.key[1] === 'string') found.push(e as { key: LegacyOutcomeKey; value: LegacyOutcomeRecord });
    else claim(e.key[0], e.key[1], JSON.stringify(e.key));
  }
  // Checked before anything is written: a malformed record stops the open and changes nothing.
  for (const { key, value } of found) {
    if (!Number.isSafeInteger(value?.s) || value.s < 0) throw new Error(`outcome record ${JSON.stringify(key)} has no sequence number: ${JSON.stringify(value)}`);
    claim(key[0], value.s, JSON.stringify(key));
  }
  root.transactionSync(() => {
    for (const { key, value } of found) {
      legacy.removeSync(key);
      outcomes.putSync([key[0], value.s], { i: key[1], o: value.o });
    }
    nodeMeta.putSync(OUTCOME_LAYOUT_KEY, OUTCOME_LAYOUT);
  });
}
