import { open, type Database, type RootDatabase } from 'lmdb';
import { GroupCommitter, type GroupCommitStats } from './group-commit.js';
import { DB_NAMES, type LogKey, type MetaKey } from './keys.js';
import { MvccStore, type MvccKey, type MvccRecord, type MvccRow, type VersionWrite } from './mvcc-store.js';
import { PaxosStore, type AppliedRecordValue, type PaxosLogRecord, type PaxosMetaRecord } from './paxos-store.js';
import type { AppliedRecord, Snapshot } from '@synod/paxos';
import type { GroupId } from './types.js';

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

/**
 * The process's single LMDB environment (DESIGN §6) and its group committer.
 * Open it once per process and hand out per-group views with `paxos(groupId)`.
 */
export class Storage {
  private readonly stores = new Map<GroupId, PaxosStore>();
  private closed = false;
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
  ) {
    this.mvcc = new MvccStore(mvccDb, committer);
  }

  static open(options: StorageOptions): Storage {
    const fsync = options.fsync ?? true;
    const root = open({
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
    return new Storage(root, meta, log, new GroupCommitter(root), fsync, mvcc, snapshots, applied, nodeMeta);
  }

  /** The durable Paxos state of one group. Same instance for the same id. */
  paxos(group: GroupId): PaxosStore {
    this.assertOpen();
    let store = this.stores.get(group);
    if (!store) {
      store = new PaxosStore(group, this.meta, this.log, this.committer, this.snapshots, this.appliedRecords);
      this.stores.set(group, store);
    }
    return store;
  }

  /**
   * Applies one chosen entry of `group`: its MVCC versions, the group's new applied index, and
   * (when given) the entry's AppliedRecord and the state machine's header after it, in one LMDB
   * transaction (DESIGN §6), durable when the promise resolves. Submitted in the group's write
   * chain, so it is durable no later than any write of the group submitted after it.
   */
  applyEntry(group: GroupId, appliedUpTo: number, versions: readonly VersionWrite[], extra: { record?: AppliedRecord; header?: unknown } = {}): Promise<void> {
    const store = this.paxos(group);
    const writeVersions = this.mvcc.writeOp(versions);
    const writeApplied = store.appliedOp(appliedUpTo, extra.record, extra.header);
    return store.submit(() => {
      writeVersions();
      writeApplied();
    });
  }

  /**
   * Installs a snapshot from a peer in ONE transaction, submitted in the group's write chain
   * (so it lands after every earlier apply of the group and before every later one): replaces
   * every MVCC version in `[start, end)` with `rows`, records `snapshot` as the group's durable
   * snapshot, sets the applied index to `snapshot.upTo` with `header`, and drops the applied
   * records below it.
   */
  installSnapshot(group: GroupId, range: { start: string; end: string }, rows: readonly MvccRow[], snapshot: Snapshot, header: unknown): Promise<void> {
    const store = this.paxos(group);
    const replace = this.mvcc.replaceRangeOp(range.start, range.end, rows);
    const install = store.installOp(snapshot, header);
    return store.submit(() => {
      replace();
      install();
    });
  }

  /** The persisted time high-water mark (zeros if none yet). */
  timeMark(): TimeMark {
    const m = this.nodeMeta.get('time-mark');
    return { issuedUs: m?.issuedUs ?? 0, gcHorizonUs: m?.gcHorizonUs ?? 0 };
  }

  /** Raises the persisted time high-water mark to at least `m` (never lowers either field); durable on resolve. */
  raiseTimeMark(m: Partial<TimeMark>): Promise<void> {
    this.assertOpen();
    return this.committer.submit(() => {
      const cur = this.timeMark();
      const next = { issuedUs: Math.max(cur.issuedUs, m.issuedUs ?? 0), gcHorizonUs: Math.max(cur.gcHorizonUs, m.gcHorizonUs ?? 0) };
      if (next.issuedUs !== cur.issuedUs || next.gcHorizonUs !== cur.gcHorizonUs) this.nodeMeta.putSync('time-mark', next);
    });
  }

  get stats(): Readonly<GroupCommitStats> {
    return this.committer.stats;
  }

  /** Waits for queued writes to settle, then closes the environment. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.committer.close();
    await this.root.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('storage is closed');
  }
}

export function openStorage(options: StorageOptions): Storage {
  return Storage.open(options);
}
