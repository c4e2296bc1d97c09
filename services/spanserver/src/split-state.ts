import { Packr } from 'msgpackr';
import { z } from 'zod';
import { SynodError } from '@synod/codec';
import { appliedRecordOf, type ApplyEntry, type Snapshot, type SnapshotTransfer } from '@synod/paxos';
import type { MvccRecord, MvccRow, Storage, VersionWrite } from '@synod/storage';
import { commitApplies } from '@synod/txn';
import { MAX_KEY_BYTES, MAX_SLOT, MAX_TIMESTAMP_US } from '@synod/limits';

/** What the split's Paxos log carries. */
export const splitCommand = z.discriminatedUnion('t', [
  z.object({
    t: z.literal('commit'),
    txn: z.string(),
    ts: z.number().int().positive(),
    writes: z.array(z.object({ key: z.string(), value: z.unknown().optional(), deleted: z.boolean().optional() })),
  }),
  /** The leader promises no commit at or below `ts` will follow: followers may serve reads up to it. */
  z.object({ t: z.literal('closed'), ts: z.number().int().positive() }),
]);
export type SplitCommand = z.infer<typeof splitCommand>;

export type Outcome = { committed: true; ts: number } | { committed: false; reason: string };

/**
 * The split's small state-machine header: all SplitState needs, beside the MVCC keyspace, to
 * resume after the entry it was written with. Stored with every applied entry (in the meta
 * record) and carried as the Paxos snapshot's `data`.
 */
export interface SplitHeader {
  maxAppliedTs: number;
  lastCommitTs: number;
}

const splitHeader = z.object({ maxAppliedTs: z.number().int().nonnegative(), lastCommitTs: z.number().int().nonnegative() });

/** Where SplitState starts: the durable applied index and the header written with it. */
export interface SplitResume {
  applied: number;
  header?: SplitHeader | undefined;
}

/** What a received snapshot's `data` holds: the header, every MVCC version of the split, and the replica's state at the same index. */
export interface InstalledSnapshotData {
  header: SplitHeader;
  rows: MvccRow[];
  snap: Pick<Snapshot, 'upTo' | 'dedupe' | 'configs'>;
}

// Rows travel as MessagePack (values may be binary, as on the wire), base64 inside the text.
const rowPackr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

export function parseHeader(x: unknown): SplitHeader | undefined {
  const r = splitHeader.safeParse(x);
  return r.success ? r.data : undefined;
}

/** A received snapshot's text (SplitState.transfer.encode), validated before anything uses it. */
const transferSchema = z.object({
  upTo: z.number().int().nonnegative().max(MAX_SLOT),
  dedupe: z.object({
    clients: z.array(z.tuple([z.string().max(256), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER), z.array(z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER))])),
    other: z.array(z.string().max(256)),
  }),
  configs: z.array(z.object({ fromSlot: z.number().int().nonnegative().max(MAX_SLOT), peers: z.array(z.string().min(1).max(63)).min(1).max(64), q1: z.number().int().positive().max(64), q2: z.number().int().positive().max(64) })).min(1),
  header: z.unknown(),
  rows: z.string(),
});
const rowSchema = z.tuple([z.string().max(MAX_KEY_BYTES), z.number().int().positive().max(MAX_TIMESTAMP_US), z.union([z.object({ del: z.literal(1) }), z.object({ v: z.unknown() })])]);

/**
 * The replicated state of one split on one node: applies the log to MVCC (versions and applied
 * index in one LMDB transaction), and tracks t_safe — the highest timestamp at or below which
 * every write of the split is applied here. By the apply-time rule (commitApplies) that is simply
 * the highest timestamp applied, which every replica computes alike.
 */
export class SplitState {
  private maxAppliedTs = 0;
  private durableTs = 0;
  private durableApplied: number;
  /** The applied index this incarnation started at: entries below it are re-applied ones. */
  private readonly startedAt: number;
  private applyChain: Promise<void> = Promise.resolve();
  /** Applied entries whose write is not yet durable, oldest first (a snapshot sent meanwhile includes them). */
  private readonly inflight: Array<{ upTo: number; versions: VersionWrite[] }> = [];
  /** Entries applied again below the applied index this incarnation started at (0 when resuming properly). */
  reappliedEntries = 0;
  /** Commits proposed by this replica (as leader) whose outcome someone awaits. */
  private readonly awaited = new Map<string, (o: Promise<Outcome>) => void>();
  private readonly safeWaiters = new Set<{ ts: number; resolve: () => void }>();
  lastCommitTs = 0;

  constructor(
    readonly id: string,
    private readonly storage: Storage,
    resume: SplitResume,
    private readonly onFatal: (err: unknown) => void,
    /** The split's key range `[start, end)` (`end` '' = unbounded): what a snapshot carries. */
    private readonly range: { start: string; end: string } = { start: '', end: '' },
  ) {
    this.durableApplied = resume.applied;
    this.startedAt = resume.applied;
    // The header was written in the same transaction as the applied index: it is durable state.
    if (resume.header) this.setHeader(resume.header, true);
  }

  /** The state-machine header now (after the last entry applied). */
  header(): SplitHeader {
    return { maxAppliedTs: this.maxAppliedTs, lastCommitTs: this.lastCommitTs };
  }

  private setHeader(h: SplitHeader, durable: boolean): void {
    this.maxAppliedTs = h.maxAppliedTs;
    this.lastCommitTs = h.lastCommitTs;
    if (durable && h.maxAppliedTs > this.durableTs) this.durableTs = h.maxAppliedTs;
  }

  /** Highest timestamp applied (possibly not yet durable): the leader's timestamp floor. */
  get maxApplied(): number {
    return this.maxAppliedTs;
  }

  /** t_safe on this replica: reads at or below it see every write of the split. */
  get tSafe(): number {
    return this.durableTs;
  }

  /** The Paxos apply callback: called in slot order, once per chosen entry. */
  apply(entry: ApplyEntry): void {
    if (entry.slot < this.startedAt) this.reappliedEntries++;
    const versions: VersionWrite[] = [];
    const decided: Array<[string, Outcome]> = [];
    for (const cmd of entry.commands) {
      const parsed = splitCommand.safeParse(cmd.payload);
      if (!parsed.success) {
        decided.push([cmd.id, { committed: false, reason: 'malformed command' }]);
        continue;
      }
      const c = parsed.data;
      if (c.t === 'closed') {
        if (c.ts > this.maxAppliedTs) this.maxAppliedTs = c.ts;
        continue;
      }
      if (!commitApplies(this.maxAppliedTs, c.ts)) {
        decided.push([cmd.id, { committed: false, reason: `timestamp ${c.ts} is not above ${this.maxAppliedTs}` }]);
        continue;
      }
      this.maxAppliedTs = c.ts;
      this.lastCommitTs = c.ts;
      for (const w of c.writes) versions.push(w.deleted ? { key: w.key, ts: c.ts, deleted: true } : { key: w.key, ts: c.ts, value: w.value });
      decided.push([cmd.id, { committed: true, ts: c.ts }]);
    }
    // A command id seen before is skipped by every replica; whoever awaits it must hear so.
    for (const id of entry.duplicates) decided.push([id, { committed: false, reason: 'duplicate command id' }]);
    const upTo = entry.slot + 1;
    const safeAfter = this.maxAppliedTs;
    // Entries at or below the durable applied index were applied before a restart: their
    // versions are already on disk (rewriting them is harmless), their index must not go back.
    const fresh = upTo > this.durableApplied;
    const write = fresh
      ? this.storage.applyEntry(this.id, upTo, versions, { record: appliedRecordOf(entry), header: this.header() })
      : versions.length > 0
        ? this.storage.mvcc.put(versions)
        : Promise.resolve();
    if (fresh) this.durableApplied = upTo;
    if (versions.length > 0) {
      const pending = { upTo, versions };
      this.inflight.push(pending);
      void write.then(() => {
        const i = this.inflight.indexOf(pending);
        if (i >= 0) this.inflight.splice(i, 1);
      }, () => undefined);
    }
    this.applyChain = this.applyChain.then(() => write);
    const durable = this.applyChain.then(() => {
      if (safeAfter > this.durableTs) {
        this.durableTs = safeAfter;
        for (const w of this.safeWaiters)
          if (w.ts <= safeAfter) {
            this.safeWaiters.delete(w);
            w.resolve();
          }
      }
    });
    durable.catch((err) => this.onFatal(err));
    for (const [txn, outcome] of decided) {
      const deliver = this.awaited.get(txn);
      if (!deliver) continue;
      this.awaited.delete(txn);
      deliver(durable.then(() => outcome));
    }
  }

  /** GroupSpec.snapshot: the header right after the entry the replica marked (the MVCC keyspace is the rest). */
  snapshotData(): { header: SplitHeader } {
    return { header: this.header() };
  }

  /**
   * How this split's snapshots travel: the Snapshot's index, dedupe and configurations, the
   * header, and every MVCC version of the split's range at the snapshot's index.
   *
   * The versions are read from LMDB when a peer asks, so the read may also find versions of
   * entries after `upTo`. It is made exact by the apply-time rule: every commit applied after
   * `upTo` has a timestamp above the header's `maxAppliedTs` (commitApplies), and every version
   * written before `upTo` is at or below it, so the versions at or below `maxAppliedTs` are
   * exactly the state at `upTo` (less what version GC removed below its horizon, which no read
   * may see). Versions of entries below `upTo` whose write is not yet durable are taken from
   * memory (`inflight`).
   */
  readonly transfer: SnapshotTransfer = {
    encode: (snap) => {
      const data = snap.data as Partial<InstalledSnapshotData> | undefined;
      const header = parseHeader(data?.header);
      if (!header) throw new Error(`split ${this.id}: snapshot ${snap.upTo} has no header`);
      let rows: MvccRow[];
      if (Array.isArray(data?.rows)) {
        rows = data.rows; // installed from a peer, possibly not yet written here: send it on as is
      } else {
        const byKey = new Map<string, MvccRow>();
        for (const row of this.storage.mvcc.rangeRows(this.range.start, this.range.end, header.maxAppliedTs)) byKey.set(`${row[1]}:${row[0]}`, row);
        for (const p of this.inflight) {
          if (p.upTo > snap.upTo) break;
          for (const v of p.versions) if (v.ts <= header.maxAppliedTs) byKey.set(`${v.ts}:${v.key}`, [v.key, v.ts, (v.deleted ? { del: 1 } : { v: v.value }) as MvccRecord]);
        }
        rows = [...byKey.values()];
      }
      return JSON.stringify({ upTo: snap.upTo, dedupe: snap.dedupe, configs: snap.configs, header, rows: rowPackr.pack(rows).toString('base64') });
    },
    // A snapshot from a peer is untrusted input: anything malformed throws here, and the Paxos
    // core drops the transfer (it never reaches restore, the disk or the replica's state).
    decode: (text) => {
      const o = transferSchema.parse(JSON.parse(text));
      const header = parseHeader(o.header);
      if (!header) throw new Error(`split ${this.id}: received snapshot ${o.upTo} without a valid header`);
      const rows = z.array(rowSchema).parse(rowPackr.unpack(Buffer.from(o.rows, 'base64'))) as MvccRow[];
      const { start, end } = this.range;
      for (const [key] of rows) if (key < start || (end !== '' && key >= end)) throw new Error(`split ${this.id}: snapshot row ${JSON.stringify(key.slice(0, 64))} outside the split`);
      const snap = { upTo: o.upTo, dedupe: o.dedupe, configs: o.configs };
      const data: InstalledSnapshotData = { header, rows, snap };
      return { ...snap, data };
    },
  };

  /**
   * GroupSpec.restore. With rows (a snapshot from a peer), installs it in one write in the
   * group's write chain: ordered after every earlier apply and before every later one. With a
   * header only (the host restoring a local snapshot at start-up), the MVCC keyspace is already
   * durable and only the header is taken.
   */
  restore(data: unknown): Promise<void> {
    const d = data as Partial<InstalledSnapshotData> | undefined;
    const header = parseHeader(d?.header);
    if (!header) throw new Error(`split ${this.id}: cannot restore a snapshot without a header`);
    if (!Array.isArray(d?.rows) || !d.snap) {
      this.setHeader(header, true);
      return Promise.resolve();
    }
    const { snap, rows } = d as InstalledSnapshotData;
    // The record stored with the install carries no rows: the MVCC keyspace holds them from now on.
    const write = this.storage.installSnapshot(this.id, this.range, rows, { ...snap, data: { header } }, header);
    this.setHeader(header, false);
    this.durableApplied = Math.max(this.durableApplied, snap.upTo);
    this.inflight.length = 0;
    this.applyChain = this.applyChain.then(() => write);
    const durable = this.applyChain.then(() => {
      if (header.maxAppliedTs > this.durableTs) this.durableTs = header.maxAppliedTs;
      for (const w of this.safeWaiters)
        if (w.ts <= this.durableTs) {
          this.safeWaiters.delete(w);
          w.resolve();
        }
      // Written here now: the replica's copy of the snapshot need not hold the rows any more.
      delete (d as Partial<InstalledSnapshotData>).rows;
    });
    durable.catch((err) => this.onFatal(err));
    return durable;
  }

  /**
   * Registers interest in a commit about to be proposed (by its Paxos command id); resolves
   * with its outcome once applied here and durable. Call before proposing.
   */
  expectOutcome(commandId: string): { outcome: Promise<Outcome>; cancel: () => void } {
    let deliver!: (o: Promise<Outcome>) => void;
    const outcome = new Promise<Promise<Outcome>>((resolve) => (deliver = resolve)).then((o) => o);
    this.awaited.set(commandId, deliver);
    return { outcome, cancel: () => this.awaited.delete(commandId) };
  }

  /** Resolves once t_safe reaches `ts`; rejects UNAVAILABLE after `waitMs`. */
  waitForSafe(ts: number, waitMs: number): Promise<void> {
    if (ts <= this.durableTs) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w = { ts, resolve: () => (clearTimeout(timer), resolve()) };
      const timer = setTimeout(() => {
        this.safeWaiters.delete(w);
        reject(new SynodError('UNAVAILABLE', `t_safe ${this.durableTs} did not reach ${ts} within ${waitMs} ms`, { tSafe: this.durableTs }));
      }, waitMs);
      this.safeWaiters.add(w);
    });
  }
}
