import { Packr } from 'msgpackr';
import { z } from 'zod';
import { appliedRecordOf, type ApplyEntry, type Snapshot, type SnapshotTransfer } from '@synod/paxos';
import type { MvccRecord, MvccRow, Storage, VersionWrite } from '@synod/storage';
import type { ChildInit, CoreNow, DecidedOutcome, SplitHeader, SplitTxnCore } from '@synod/txn';
import { MAX_KEY_BYTES, MAX_SLOT, MAX_TIMESTAMP_US, MAX_TXN_READS, MAX_TXN_WRITES } from '@synod/limits';

/** What the split's Paxos log carries. */


/**
 * The split's state-machine header (`SplitHeader` of @synod/txn: timestamps and prepared 2PC
 * transactions): all the core needs, beside the MVCC keyspace and the outcome table, to resume
 * after the entry it was written with. Stored with every applied entry (in the meta record) and
 * carried as the Paxos snapshot's `data`.
 */
const writeOp = z.object({ key: z.string().max(MAX_KEY_BYTES), value: z.unknown().optional(), deleted: z.boolean().optional() });
const splitHeader = z.object({
  maxAppliedTs: z.number().int().nonnegative().max(MAX_TIMESTAMP_US),
  lastCommitTs: z.number().int().nonnegative().max(MAX_TIMESTAMP_US),
  prepared: z
    .array(
      z.object({
        txn: z.string().min(1).max(128),
        ts: z.number().int().positive().max(MAX_TIMESTAMP_US),
        coordinator: z.string().min(1).max(63),
        writes: z.array(writeOp).max(MAX_TXN_WRITES),
        readKeys: z.array(z.string().max(MAX_KEY_BYTES)).max(MAX_TXN_READS),
      }),
    )
    .optional(),
  // Set once the split was cut (docs/transactions.md, rules 19-22).
  range: z.object({ start: z.string().max(MAX_KEY_BYTES), end: z.string().max(MAX_KEY_BYTES) }).optional(),
  generation: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
  cuts: z
    .array(z.object({ child: z.string().min(1).max(63), generation: z.number().int().positive().max(Number.MAX_SAFE_INTEGER), atKey: z.string().max(MAX_KEY_BYTES), ts: z.number().int().positive().max(MAX_TIMESTAMP_US) }))
    .max(64)
    .optional(),
});

/** Where SplitState starts: the durable applied index and the header written with it. */
export interface SplitResume {
  applied: number;
  header?: SplitHeader | undefined;
}

/** What a received snapshot's `data` holds: the header, every MVCC version of the split, and the replica's state at the same index. */
export interface InstalledSnapshotData {
  header: SplitHeader;
  rows: MvccRow[];
  /** The outcome table at the snapshot's index (docs/transactions.md, "Outcomes"). */
  outcomes: Array<[string, DecidedOutcome]>;
  snap: Pick<Snapshot, 'upTo' | 'dedupe' | 'configs'>;
}

// Rows travel as MessagePack (values may be binary, as on the wire), base64 inside the text.
const rowPackr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

export function parseHeader(x: unknown): SplitHeader | undefined {
  const r = splitHeader.safeParse(x);
  if (!r.success) return undefined;
  const { prepared, range, generation, cuts, ...rest } = r.data;
  const h: SplitHeader = prepared && prepared.length > 0 ? { ...rest, prepared } : rest;
  if (range) h.range = range;
  if (generation !== undefined) h.generation = generation;
  if (cuts) h.cuts = cuts;
  return h;
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
  outcomes: z
    .array(
      z.tuple([
        z.string().min(1).max(128),
        z.union([
          z.object({ committed: z.literal(true), ts: z.number().int().positive().max(MAX_TIMESTAMP_US), slot: z.number().int().nonnegative().max(MAX_SLOT), at: z.number().int().nonnegative().max(MAX_TIMESTAMP_US) }),
          z.object({ committed: z.literal(false), reason: z.string().max(1024), slot: z.number().int().nonnegative().max(MAX_SLOT), at: z.number().int().nonnegative().max(MAX_TIMESTAMP_US) }),
        ]),
      ]),
    )
    .max(1_000_000)
    .default([]),
});
const rowSchema = z.tuple([z.string().max(MAX_KEY_BYTES), z.number().int().positive().max(MAX_TIMESTAMP_US), z.union([z.object({ del: z.literal(1) }), z.object({ v: z.unknown() })])]);

/**
 * The storage side of one split on one node: writes what the transaction core decides for each
 * applied entry (versions, header, outcomes and the applied index in one LMDB transaction, in the
 * group's write chain), tells the core when each write is durable (and so visible to its reads),
 * and carries the split's snapshots (docs/spanserver.md). The decisions are the core's.
 */
export class SplitState {
  private durableApplied: number;
  /** The applied index this incarnation started at: entries below it are re-applied ones. */
  private readonly startedAt: number;
  private applyChain: Promise<void> = Promise.resolve();
  /** Applied entries whose write is not yet durable, oldest first (a snapshot sent meanwhile includes them). */
  private readonly inflight: Array<{ upTo: number; versions: VersionWrite[] }> = [];
  /** Entries applied again below the applied index this incarnation started at (0 when resuming properly). */
  reappliedEntries = 0;
  private core: SplitTxnCore | undefined;
  private now: () => CoreNow = () => {
    throw new Error(`split ${this.id}: no transaction core attached`);
  };
  /** Drains the core's outputs; `now` is the input's time, reused to arm the wake timer. */
  private afterInput: (now?: CoreNow) => void = () => undefined;
  /** A snapshot from a peer was taken in (its header may carry cuts this replica never applied). */
  onRestored: (header: SplitHeader) => void = () => undefined;
  /** Each applied entry's versions, before they are written (the split's size for placement reports). */
  onVersions: (versions: readonly VersionWrite[]) => void = () => undefined;
  /**
   * A cut applied here at `slot`: returns the child's initial Paxos snapshot and the node's hosted
   * set to write with the entry; `durable` resolves once they are on disk (docs/spanserver.md,
   * "Cutting a split").
   */
  onCut: (child: ChildInit, durable: Promise<void>, slot: number) => { snapshot: Snapshot; hostedSplits: unknown } = () => {
    throw new Error(`split ${this.id}: a cut applied with no handler`);
  };

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
  }

  /** Connects the core: `now` times its inputs, `afterInput` drains its outputs. */
  attach(core: SplitTxnCore, now: () => CoreNow, afterInput: (now?: CoreNow) => void): void {
    this.core = core;
    this.now = now;
    this.afterInput = afterInput;
  }

  private requireCore(): SplitTxnCore {
    if (!this.core) throw new Error(`split ${this.id}: no transaction core attached`);
    return this.core;
  }

  /** The Paxos apply callback: called in slot order, once per chosen entry. */
  apply(entry: ApplyEntry): void {
    const core = this.requireCore();
    if (entry.slot < this.startedAt) this.reappliedEntries++;
    const now = this.now();
    const w = core.apply(entry, now);
    const versions: VersionWrite[] = w.versions;
    if (versions.length > 0) this.onVersions(versions);
    const upTo = entry.slot + 1;
    // Entries at or below the durable applied index were applied before a restart: their
    // versions are already on disk (rewriting them is harmless), their index must not go back.
    const fresh = upTo > this.durableApplied;
    let cut: ((durable: Promise<void>) => void) | undefined;
    let cutExtra = {};
    if (w.child && fresh) {
      const child = w.child;
      let resolveDurable: () => void = () => undefined;
      const durable = new Promise<void>((r) => (resolveDurable = r));
      const { snapshot, hostedSplits } = this.onCut(child, durable, entry.slot);
      cutExtra = { newGroups: [{ group: child.splitId, header: child.header, snapshot }], hostedSplits };
      // A failed write never hosts the child; the failure itself stops the process below (onFatal on applyChain).
      cut = (d) => void d.then(resolveDurable, () => undefined);
    }
    const write = fresh
      ? this.storage.applyEntry(this.id, upTo, versions, { record: appliedRecordOf(entry), header: w.header, outcomes: { put: w.outcomes, forget: w.forgotten }, ...cutExtra })
      : versions.length > 0
        ? this.storage.mvcc.put(versions)
        : Promise.resolve();
    if (fresh) this.durableApplied = upTo;
    if (versions.length > 0) {
      const pending = { upTo, versions };
      this.inflight.push(pending);
      // Bookkeeping only: a failed write reaches onFatal through applyChain below.
      void write.then(() => {
        const i = this.inflight.indexOf(pending);
        if (i >= 0) this.inflight.splice(i, 1);
      }, () => undefined);
    }
    this.applyChain = this.applyChain.then(() => write);
    cut?.(this.applyChain);
    this.applyChain.then(() => {
      const later = this.now();
      core.durable(upTo, later);
      this.afterInput(later);
    }, (err: unknown) => this.onFatal(err));
    this.afterInput(now);
  }

  /**
   * The range a header covers: after a cut, the lower part of the range this split was hosted
   * with. A snapshot never installs (or deletes) rows outside it: the upper half belongs to the
   * child, whose versions share the keyspace. A header claiming more is refused.
   */
  private rangeOf(header: SplitHeader): { start: string; end: string } {
    const r = header.range;
    if (!r) return this.range;
    const inside = r.start >= this.range.start && (this.range.end === '' || (r.end !== '' && r.end <= this.range.end));
    if (!inside) throw new Error(`split ${this.id}: header range [${JSON.stringify(r.start)}, ${JSON.stringify(r.end)}) is not inside the hosted range`);
    return r;
  }

  /**
   * Resolves once every write submitted so far has settled (a replica being dropped). A failed
   * write has already stopped the process through onFatal (apply), so it is not raised twice here.
   */
  settled(): Promise<void> {
    return this.applyChain.catch(() => undefined);
  }

  /** GroupSpec.snapshot: the header right after the entry the replica marked (the MVCC keyspace and outcome table are the rest). */
  snapshotData(): { header: SplitHeader } {
    return { header: this.requireCore().header() };
  }

  /**
   * How this split's snapshots travel: the Snapshot's index, dedupe and configurations, the
   * header, the outcome table at the index, and every MVCC version of the split's range there.
   *
   * The versions are read from LMDB when a peer asks, so the read may also find versions of
   * entries after `upTo`. It is made exact by the apply-time rule: every commit applied after
   * `upTo` has a timestamp above the header's `maxAppliedTs`, and every version written before
   * `upTo` is at or below it, so the versions at or below `maxAppliedTs` are exactly the state
   * at `upTo` (less what version GC removed below its horizon, which no read may see). Versions
   * of entries below `upTo` whose write is not yet durable are taken from memory (`inflight`).
   * Outcomes carry the slot that decided them, so those of later entries are left out.
   */
  readonly transfer: SnapshotTransfer = {
    encode: (snap) => {
      const data = snap.data as Partial<InstalledSnapshotData> | undefined;
      const header = parseHeader(data?.header);
      if (!header) throw new Error(`split ${this.id}: snapshot ${snap.upTo} has no header`);
      let rows: MvccRow[];
      let outcomes: Array<[string, DecidedOutcome]>;
      if (Array.isArray(data?.rows)) {
        rows = data.rows; // installed from a peer, possibly not yet written here: send it on as is
        outcomes = data.outcomes ?? [];
      } else {
        const byKey = new Map<string, MvccRow>();
        const range = this.rangeOf(header);
        for (const row of this.storage.mvcc.rangeRows(range.start, range.end, header.maxAppliedTs)) byKey.set(`${row[1]}:${row[0]}`, row);
        for (const p of this.inflight) {
          if (p.upTo > snap.upTo) break;
          for (const v of p.versions) if (v.ts <= header.maxAppliedTs) byKey.set(`${v.ts}:${v.key}`, [v.key, v.ts, (v.deleted ? { del: 1 } : { v: v.value }) as MvccRecord]);
        }
        rows = [...byKey.values()];
        outcomes = this.requireCore().outcomesBelow(snap.upTo);
      }
      return JSON.stringify({ upTo: snap.upTo, dedupe: snap.dedupe, configs: snap.configs, header, rows: rowPackr.pack(rows).toString('base64'), outcomes });
    },
    // A snapshot from a peer is untrusted input: anything malformed throws here, and the Paxos
    // core drops the transfer (it never reaches restore, the disk or the replica's state).
    decode: (text) => {
      const o = transferSchema.parse(JSON.parse(text));
      const header = parseHeader(o.header);
      if (!header) throw new Error(`split ${this.id}: received snapshot ${o.upTo} without a valid header`);
      const rows = z.array(rowSchema).parse(rowPackr.unpack(Buffer.from(o.rows, 'base64'))) as MvccRow[];
      const { start, end } = this.rangeOf(header);
      for (const [key] of rows) if (key < start || (end !== '' && key >= end)) throw new Error(`split ${this.id}: snapshot row ${JSON.stringify(key.slice(0, 64))} outside the split`);
      const snap = { upTo: o.upTo, dedupe: o.dedupe, configs: o.configs };
      const data: InstalledSnapshotData = { header, rows, snap, outcomes: o.outcomes };
      return { ...snap, data };
    },
  };

  /**
   * GroupSpec.restore. With rows (a snapshot from a peer), installs it in one write in the
   * group's write chain: ordered after every earlier apply and before every later one. With a
   * header only (the host restoring a local snapshot at start-up), the MVCC keyspace and outcome
   * table are already durable and nothing is written.
   */
  restore(data: unknown): Promise<void> {
    const d = data as Partial<InstalledSnapshotData> | undefined;
    const header = parseHeader(d?.header);
    if (!header) throw new Error(`split ${this.id}: cannot restore a snapshot without a header`);
    if (!Array.isArray(d?.rows) || !d.snap) return Promise.resolve();
    const { snap, rows } = d as InstalledSnapshotData;
    const outcomes = d.outcomes ?? [];
    // The record stored with the install carries no rows: the MVCC keyspace holds them from now on.
    const write = this.storage.installSnapshot(this.id, this.rangeOf(header), rows, { ...snap, data: { header } }, header, outcomes);
    this.durableApplied = Math.max(this.durableApplied, snap.upTo);
    this.inflight.length = 0;
    // The core takes the snapshot's state now, in log order: later entries apply on top of it.
    this.core?.restored({ header, appliedIndex: snap.upTo, outcomes }, this.now());
    this.onRestored(header);
    this.applyChain = this.applyChain.then(() => write);
    const durable = this.applyChain.then(() => {
      this.core?.durable(snap.upTo, this.now());
      this.afterInput();
      // Written here now: the replica's copy of the snapshot need not hold the rows any more.
      delete (d as Partial<InstalledSnapshotData>).rows;
    });
    durable.catch((err) => this.onFatal(err));
    return durable;
  }
}

