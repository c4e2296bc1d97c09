import { randomBytes } from 'node:crypto';
import { SynodError, type Envelope, type MessageInput, type SplitEntry, type SplitReport } from '@synod/codec';
import { checkKey, checkTxn, type LimitViolation } from '@synod/limits';
import type { Logger } from '@synod/config';
import { monotonicMicros, type PaxosHost } from '@synod/paxos-host';
import type { RangeMap, Split } from '@synod/placement';
import { Dedupe, resolveConfig, type AppliedState, type Replica, type ReplicaConfig, type Snapshot } from '@synod/paxos';
import type { PaxosStore, Storage } from '@synod/storage';
import type { Bus } from '@synod/transport';
import { SplitTxnCore, type ChildInit, type TxnBroken, type TxnReplyBody } from '@synod/txn';
import { CommitTally } from './commit-tally.js';
import { EventLoopDelay } from './event-loop-delay.js';
import { RunQueueProbe } from './run-queue-probe.js';
import { eachInSlices } from './slices.js';
import { HostedSplits } from './hosted-splits.js';
import { gcMetrics, observed, observedNow, processLoad } from './metrics.js';
import { removeReplica } from './remove-replica.js';
import { SplitSize } from './split-size.js';
import { SplitShell } from './split-shell.js';
import { SplitState, parseHeader, type InstalledSnapshotData } from './split-state.js';
import type { TimeSource } from './time-source.js';

export interface SpanserverOptions {
  nodeId: string;
  dc: string;
  bus: Bus;
  storage: Storage;
  host: PaxosHost;
  tt: TimeSource;
  rangeMap: RangeMap;
  heartbeatMs?: number;
  electionTimeoutMs?: number;
  /** How often an idle leader advances t_safe with a closed timestamp. */
  closedIntervalMs?: number;
  /** Versions older than this are garbage-collected (keeping the newest below); reads older get SNAPSHOT_TOO_OLD. */
  gcRetentionMs?: number;
  gcIntervalMs?: number;
  /** How often the time high-water mark is persisted (default 1 s). */
  timeMarkIntervalMs?: number;
  /**
   * Compact each split's log every this many applied entries (default 1,000; 0 turns compaction
   * off). The on-disk log of a split then stays below 2 × this + the Paxos window (64), see
   * docs/limits.md.
   */
  snapshotIntervalEntries?: number;
  /** Characters per snapshot-transfer chunk sent to a replica behind the compaction point (default 64 KiB). */
  snapshotChunkChars?: number;
  logger?: Pick<Logger, 'info' | 'warn' | 'error' | 'fatal'>;
  onFatal?: (err: unknown) => void;
  /**
   * The resync that clock evidence from a peer started, while it runs (main.ts wires the bus's
   * evidence to the daemon). Read and commit replies wait for it and are refused if it found this
   * clock wrong, so nothing timed by a clock a peer has just caught is acknowledged.
   */
  clockCheck?: () => Promise<unknown> | undefined;
  /** Deliberately broken transaction-core variants (tests only; docs/transactions.md). */
  broken?: TxnBroken;
  /** How often `placement.report` goes out (default 1 s). */
  reportIntervalMs?: number;
  /**
   * Sends a `placement.report` one way to the placement subject (`subjects(cluster).placement`).
   * Absent: reports are built (`report()`) but not sent; the bus has no one-way publish to a
   * subject yet (docs/spanserver.md, "Placement reports").
   */
  publishReport?: (report: MessageInput<'placement.report'>) => void;
}

interface HostedSplit {
  /** The entry this node hosts the split under (range and generation change at a cut). */
  entry: SplitEntry;
  split: Split;
  replica: Replica;
  state: SplitState;
  core: SplitTxnCore;
  shell: SplitShell;
  store: PaxosStore;
  size: SplitSize;
  /** The core's read and write counters at the last report, for per-second rates. */
  lastLoad: { read: number; written: number; atMs: number };
}

/** What hosting a split needs beyond its entry: fixed at start(). */
interface HostContext {
  onFatal: (err: unknown) => void;
  commandPrefix: string;
  snapshotIntervalEntries: number;
  mark: { issuedUs: number; gcHorizonUs: number };
  closedIntervalMs: number;
}

/** The reply to a lock-free read. */
interface ValuesReply {
  kind: 'kv.values';
  body: { values: Array<{ key: string; value?: unknown; ts?: number }>; ts?: number; leader?: string };
}

/** The reply body a request of this kind gets (the core answers with the matching kind). */
function expect<K extends TxnReplyBody['kind']>(body: TxnReplyBody, kind: K): Extract<TxnReplyBody, { kind: K }> {
  if (body.kind !== kind) throw new SynodError('INTERNAL', `transaction core answered ${body.kind}, expected ${kind}`);
  return body as Extract<TxnReplyBody, { kind: K }>;
}

/** Default of SpanserverOptions.snapshotIntervalEntries. */
export const DEFAULT_SNAPSHOT_INTERVAL_ENTRIES = 1_000;

/** The configuration a replica starts with before any snapshot (Replica's constructor does the same). */
function initialMembership(config: ReplicaConfig) {
  const c = resolveConfig(config);
  return { fromSlot: 0, peers: [...c.peers], q1: c.q1, q2: c.q2 };
}

function limitError(v: LimitViolation | null): void {
  if (v) throw new SynodError(v.code, v.message, v.hint);
}

/** One spanserver: hosts a replica of every split the range map gives this node, serves transactions and reads. */
export class Spanserver {
  private readonly splits = new Map<string, HostedSplit>();
  private latestMap: RangeMap | undefined;
  private ctx: HostContext | undefined;
  private hostedSet: HostedSplits | undefined;
  private reportTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private ticker: NodeJS.Timeout | undefined;
  private gcTimer: NodeJS.Timeout | undefined;
  private markTimer: NodeJS.Timeout | undefined;
  private loopDelay: EventLoopDelay | undefined;
  /** Commits acknowledged here as a split leader, for node.status (docs/picture.md). */
  private readonly commits = new CommitTally();
  /** The persisted time high-water mark as of start-up (docs/spanserver.md, "Time high-water mark"). */
  startMark: { issuedUs: number; gcHorizonUs: number } = { issuedUs: 0, gcHorizonUs: 0 };

  constructor(private readonly opts: SpanserverOptions) {}

  async start(): Promise<void> {
    const { bus, storage, host, rangeMap, nodeId } = this.opts;
    const onFatal =
      this.opts.onFatal ??
      ((err: unknown) => {
        this.opts.logger?.fatal({ err }, 'applying to storage failed; stopping');
        process.exit(70);
      });
    const commandPrefix = `${nodeId}-${randomBytes(6).toString('hex')}`;
    const snapshotIntervalEntries = this.opts.snapshotIntervalEntries ?? DEFAULT_SNAPSHOT_INTERVAL_ENTRIES;
    // The time high-water mark (docs/spanserver.md): no timestamp at or below one this node issued
    // before, and a GC horizon no lower than one already applied, whatever the clock says now (it
    // may have moved back, or this start-up may precede the first sync).
    const mark = (this.startMark = storage.timeMark());
    const closedIntervalMs = this.opts.closedIntervalMs ?? 50;
    this.ctx = { onFatal, commandPrefix, snapshotIntervalEntries, mark, closedIntervalMs };
    this.hostedSet = HostedSplits.load(storage.hostedSplits(), rangeMap, nodeId);
    for (const entry of this.hostedSet.all()) await this.hostSplit(entry);
    const waitUs = (ms: number | undefined, dflt: number) => (ms ?? dflt) * 1000;
    // The documented maxima (docs/limits.md), enforced here too: a client is not trusted to have checked.
    bus.on('kv.read', (env) => observed(bus.metrics, 'synod_read_latency_seconds', { kind: 'kv.read' }, async () => {
      const s = this.hosted(env);
      limitError(checkTxn(env.body.keys, []));
      const r = expect(await s.shell.request({ kind: 'read', txn: env.body.txn, keys: env.body.keys, waitUs: waitUs(env.body.waitMs, 2_000) }), 'values');
      return this.acknowledge({ kind: 'kv.values' as const, body: { values: r.values, ...(r.epoch ? { epoch: r.epoch } : {}) } });
    }));
    bus.on('kv.commit', (env) => observed(bus.metrics, 'synod_commit_latency_seconds', {}, async () => {
      const t0 = performance.now();
      const s = this.hosted(env);
      limitError(checkTxn(env.body.readKeys, env.body.writes));
      const b = env.body;
      for (const p of b.participants ?? []) if (!this.knownSplit(p)) throw new SynodError('INVALID_ARGUMENT', `participant ${JSON.stringify(p)} is not a split`, { generation: rangeMap.generation });
      const r = expect(await s.shell.request({ kind: 'commit', txn: b.txn, epoch: b.epoch, readKeys: b.readKeys, writes: b.writes, waitUs: waitUs(b.waitMs, 10_000), participants: b.participants }), 'committed');
      bus.metrics.observe('synod_commit_wait_seconds', r.commitWaitUs / 1e6);
      this.commits.record((performance.now() - t0) * 1000, r.commitWaitUs);
      return this.acknowledge({ kind: 'kv.committed' as const, body: { ts: r.ts, commitWaitUs: r.commitWaitUs } });
    }));
    bus.on('kv.prepare', async (env) => {
      const s = this.hosted(env);
      limitError(checkTxn(env.body.readKeys, env.body.writes));
      const b = env.body;
      if (!this.knownSplit(b.coordinator)) throw new SynodError('INVALID_ARGUMENT', `coordinator ${JSON.stringify(b.coordinator)} is not a split`, { generation: rangeMap.generation });
      const r = expect(await s.shell.request({ kind: 'prepare', txn: b.txn, coordinator: b.coordinator, epoch: b.epoch, readKeys: b.readKeys, writes: b.writes, waitUs: waitUs(b.waitMs, 10_000) }), 'prepared');
      return this.acknowledge({ kind: 'kv.prepared' as const, body: { ts: r.ts } });
    });
    bus.on('split.2pc', (env) => {
      const s = this.splits.get(env.group);
      const from = this.knownSplit(env.body.fromSplit);
      // Only a replica of the sending split speaks for it; anything else is counted and dropped.
      if (!s || !from || !from.replicas.includes(env.from)) {
        bus.metrics.inc('synod_split_2pc_refused_total', {});
        return;
      }
      s.shell.splitMessage(env.body.fromSplit, env.body.msg);
    });
    bus.on('kv.abort', async (env) => {
      await this.hosted(env).shell.request({ kind: 'abort', txnId: env.body.txnId });
      return { kind: 'kv.ok', body: {} };
    });
    bus.on('kv.txn-status', async (env) => {
      const s = this.hosted(env);
      const r = expect(await s.shell.request({ kind: 'status', txnId: env.body.txnId, waitUs: waitUs(env.body.waitMs, 2_000) }), 'status');
      return { kind: 'kv.txn-status.reply' as const, body: { state: r.state, ...(r.ts !== undefined ? { ts: r.ts } : {}), ...(r.reason !== undefined ? { reason: r.reason.slice(0, 1024) } : {}) } };
    });
    // Answered in the turn it arrives when the core serves it at once (requestNow): no promise.
    const snapshotOk = { kind: 'kv.snapshot', outcome: 'ok' };
    const snapshotFailed = (outcome: string) => ({ kind: 'kv.snapshot', outcome });
    bus.on('kv.snapshot', (env) =>
      observedNow(bus.metrics, 'synod_read_latency_seconds', snapshotOk, snapshotFailed, () => {
        const r = this.snapshotRead(env);
        return r instanceof Promise ? r.then((x) => this.acknowledge(x)) : this.acknowledge(r);
      }),
    );
    bus.on('split.closed', (env) => {
      const s = this.splits.get(env.group);
      // Only a replica of the split may speak for its leader; anything else is counted and dropped.
      if (!s || !s.replica.membership().peers.includes(env.from) || env.body.ballot.node !== env.from) {
        bus.metrics.inc('synod_split_closed_refused_total', {});
        return;
      }
      s.shell.closedReceived(env.body);
    });
    // One loop serves every hosted split: its delay is the node's (docs/metrics.md, "Event-loop delay").
    this.loopDelay = new EventLoopDelay({ runQueue: new RunQueueProbe() }).start();
    // Built in slices: with hundreds of splits the list is tens of ms of work (docs/spanserver.md).
    bus.on('node.status', async (env) => {
      const body = await this.statusSliced();
      if (env.body.resetEventLoop) this.loopDelay?.resetProbe();
      return { kind: 'node.status.reply' as const, body };
    });
    this.placementHandlers();
    // The time high-water mark (docs/spanserver.md): no timestamp at or below one this node issued
    // or served before, and a GC horizon no lower than one already applied, whatever the clock
    // says now (it may have moved back, or this start-up may precede the first sync).
    // Version GC runs in slices with event-loop turns between them (docs/spanserver.md, "Version
    // GC"); reads below a pass's horizon are refused from its start, so this one need not be awaited.
    const gcCount = gcMetrics(bus.metrics);
    const runGc = async (horizon: number) => {
      try {
        gcCount.onPass(await storage.collectVersions(horizon, { onSlice: gcCount.onSlice }));
      } catch (err) {
        // A failed deletion or horizon write, or a broken slice bound: fail-stop, like any
        // failed durable write (a pass stopped by close resolves 'stopped', it does not throw).
        if (!this.closing) onFatal(err);
      }
    };
    if (mark.gcHorizonUs > 0) void runGc(mark.gcHorizonUs);
    const behind = mark.issuedUs - this.opts.tt.now().latest;
    if (mark.issuedUs > 0 && behind > 0)
      this.opts.logger?.warn({ issuedUs: mark.issuedUs, behindUs: behind }, 'TrueTime is behind the persisted high-water mark (a clock moved back): timestamps continue above the mark and commits wait until TrueTime passes it');
    // Only timestamps in the log are marked (commits, barriers, closed entries), and only when
    // they moved: an idle node writes nothing. Closed timestamps sent outside the log and lease
    // reads need no mark: they stay inside the lease, which no later leader's timestamps reach
    // (docs/transactions.md, "Closed timestamps").
    let markedUs = mark.issuedUs;
    const saveMark = () => {
      let issuedUs = 0;
      for (const s of this.splits.values()) issuedUs = Math.max(issuedUs, s.core.header().maxAppliedTs);
      if (issuedUs <= markedUs) return;
      markedUs = issuedUs;
      void storage.raiseTimeMark({ issuedUs }).catch((err) => this.opts.logger?.error({ err }, 'persisting the time high-water mark failed'));
    };
    this.markTimer = setInterval(saveMark, this.opts.timeMarkIntervalMs ?? 1_000);
    // Version GC, only while TrueTime is within bounds (a clock out of bounds must not move the
    // horizon). A pass persists its horizon in the high-water mark before its first deletion
    // (Storage.collectVersions) and the mark is restored above, so neither a restart nor a clock
    // that moved back lowers it below what was collected. A pass that deletes nothing persists
    // nothing: reads below its horizon are still exact. One pass at a time: a tick while one runs
    // is skipped (`busy`).
    const retentionUs = (this.opts.gcRetentionMs ?? 3_600_000) * 1000;
    const collect = () => {
      if (!this.opts.tt.isServing()) return;
      const horizon = Math.floor(this.opts.tt.now().earliest - retentionUs);
      if (horizon > 0) void runGc(horizon);
    };
    collect();
    this.gcTimer = setInterval(collect, this.opts.gcIntervalMs ?? 60_000);
    this.ticker = setInterval(() => {
      for (const s of this.splits.values()) s.shell.poll();
    }, Math.max(10, Math.floor(closedIntervalMs / 2)));
    const publish = this.opts.publishReport;
    if (publish) this.reportTimer = setInterval(() => publish(this.report()), this.opts.reportIntervalMs ?? 1_000);
  }

  /** The placement service's operations on this node (docs/spanserver.md, "Cutting a split", "Hosting and dropping"). */
  private placementHandlers(): void {
    const { bus, nodeId } = this.opts;
    bus.on('split.cut', async (env) => {
      const s = this.hosted(env);
      const b = env.body;
      const r = expect(await s.shell.request({ kind: 'cut', child: b.child, generation: b.generation, atKey: b.atKey, waitUs: 10_000_000 }), 'cut');
      return { kind: 'split.op-done' as const, body: { split: s.entry.id, generation: r.generation, detail: { atKey: r.atKey, child: r.child, cutTs: r.cutTs } } };
    });
    bus.on('split.host', async (env) => {
      const entry = env.body.split;
      if (!entry.replicas.includes(nodeId) && !entry.learners.includes(nodeId)) throw new SynodError('INVALID_ARGUMENT', `${nodeId} is not a replica or learner of split ${entry.id}`);
      const known = this.splits.get(entry.id);
      if (!known) {
        this.hostedSet!.set(entry);
        await this.opts.storage.setHostedSplits(this.hostedSet!.record());
        await this.hostSplit(entry);
      }
      return { kind: 'split.op-done' as const, body: { split: entry.id, generation: this.splits.get(entry.id)!.entry.generation, detail: { node: nodeId } } };
    });
    bus.on('split.reconfigure', async (env) => {
      const s = this.hosted(env);
      const { replicas, learners, generation } = env.body;
      await this.opts.host.reconfigure(s.entry.id, { peers: replicas, learners }, 10_000);
      this.membersChanged(s, generation);
      return { kind: 'split.op-done' as const, body: { split: s.entry.id, generation: s.entry.generation, detail: { replicas: replicas.join(','), learners: learners.join(',') } } };
    });
    bus.on('split.transfer', async (env) => {
      const s = this.hosted(env);
      await this.opts.host.transferLeadership(s.entry.id, env.body.to, 5_000);
      return { kind: 'split.op-done' as const, body: { split: s.entry.id, generation: s.entry.generation, detail: { leader: env.body.to } } };
    });
    bus.on('split.drop', async (env) => {
      const { split, generation } = env.body;
      await this.dropSplit(split, generation);
      return { kind: 'split.op-done' as const, body: { split, generation, detail: { node: nodeId } } };
    });
  }

  /**
   * Stops this node's replica of `id` and deletes its local state: Paxos log, applied records,
   * snapshot, outcomes, and the MVCC rows of its range unless another hosted split overlaps them.
   * Idempotent; refuses a generation older than the one hosted (a stale request).
   */
  async dropSplit(id: string, generation: number): Promise<void> {
    const s = this.splits.get(id);
    if (!s) return;
    if (s.entry.generation > generation) throw new SynodError('INVALID_ARGUMENT', `split ${id} is hosted here at generation ${s.entry.generation}, above ${generation}`, { ...s.core.entry() });
    this.splits.delete(id);
    s.shell.close();
    await removeReplica(this.opts.host, id);
    await s.state.settled();
    const range = { start: s.core.entry().start, end: s.core.entry().end };
    this.hostedSet!.drop(id, generation);
    const keepRows = this.hostedSet!.overlapsOther(id, range);
    await this.opts.storage.dropGroup(id, keepRows ? null : range, this.hostedSet!.record());
    this.opts.logger?.info({ split: id, generation, rowsDeleted: !keepRows }, 'split dropped');
  }

  /**
   * A membership change applied (docs/spanserver.md, "Hosting and dropping"): the hosted entry
   * follows the replica's configuration, and the hosted set on disk with it.
   */
  private membersChanged(s: HostedSplit, generation: number): void {
    const m = s.replica.membership();
    s.entry = { ...s.entry, replicas: [...m.peers], learners: [...(m.learners ?? [])], generation: Math.max(s.entry.generation, generation) };
    this.hostedSet!.set(s.entry);
    void this.opts.storage.setHostedSplits(this.hostedSet!.record()).catch((err: unknown) => this.ctx!.onFatal(err));
  }

  /** The entries this node hosts now (after cuts, hosts and drops). */
  hostedEntries(): SplitEntry[] {
    return [...this.splits.values()].map((s) => s.entry);
  }

  /** This node's `placement.report`: per hosted split, its range, generation, leadership, size and load since the last report. */
  report(): MessageInput<'placement.report'> {
    const nowMs = Date.now();
    const splits: SplitReport[] = [];
    for (const s of this.splits.values()) {
      const st = s.core.statsCounters;
      const secs = Math.max(0.001, (nowMs - s.lastLoad.atMs) / 1000);
      const e = s.core.entry();
      const median = s.core.loadMedianKey();
      splits.push({
        id: s.entry.id,
        start: e.start,
        end: e.end,
        generation: e.generation,
        leader: s.replica.isLeader(),
        appliedIndex: s.replica.appliedUpTo(),
        sizeBytes: Math.round(s.size.bytes),
        keys: s.size.keys,
        writesPerSec: (st.keysWritten - s.lastLoad.written) / secs,
        readsPerSec: (st.keysRead - s.lastLoad.read) / secs,
        ...(median !== undefined ? { loadMedianKey: median } : {}),
      });
      s.lastLoad = { read: st.keysRead, written: st.keysWritten, atMs: nowMs };
    }
    return { node: this.opts.nodeId, dc: this.opts.dc, at: Math.floor(this.opts.tt.now().earliest), splits };
  }

  /**
   * Starts this node's replica of `entry`: the Paxos group (resumed at its durable applied index,
   * docs/spanserver.md "Storage"), the transaction core and its shell.
   */
  private async hostSplit(entry: SplitEntry): Promise<void> {
    if (this.splits.has(entry.id)) return;
    const { storage, host, nodeId, bus } = this.opts;
    const { onFatal, commandPrefix, snapshotIntervalEntries, mark, closedIntervalMs } = this.ctx!;
    const split: Split = entry;
    const store = storage.paxos(split.id);
    const groupConfig: ReplicaConfig = {
      group: split.id,
      self: nodeId,
      peers: split.replicas,
      heartbeatIntervalUs: (this.opts.heartbeatMs ?? 50) * 1000,
      electionTimeoutUs: (this.opts.electionTimeoutMs ?? 500) * 1000,
      ...(split.q1 ? { q1: split.q1 } : {}),
      ...(split.q2 ? { q2: split.q2 } : {}),
      snapshotIntervalEntries,
      ...(this.opts.snapshotChunkChars ? { snapshotChunkChars: this.opts.snapshotChunkChars } : {}),
    };
    const range = { start: split.start, end: split.end };
    let resume = await store.appliedState();
    const snapData = resume.snapshot?.data as Partial<InstalledSnapshotData> | undefined;
    if (resume.snapshot && resume.snapshot.upTo > resume.upTo) {
      // Only a snapshot from a peer can be ahead of the applied index: its Paxos record became
      // durable but the install write did not. The record still carries the rows: install now.
      if (!Array.isArray(snapData?.rows)) throw new Error(`split ${split.id}: durable snapshot ${resume.snapshot.upTo} is ahead of the applied index ${resume.upTo} and carries no rows`);
      await new SplitState(split.id, storage, { applied: resume.upTo }, onFatal, range).restore(snapData);
      resume = await store.appliedState();
    }
    // Resume at the applied index when the applied records cover the slots from the durable
    // snapshot to it (data written before records existed does not: it replays the log instead).
    const contiguous = resume.records.length === resume.upTo - resume.from && resume.records.every((r, i) => r.slot === resume.from + i);
    const header = contiguous ? parseHeader(resume.header) : undefined;
    let applied: AppliedState | undefined;
    if (header && resume.upTo > 0) {
      applied = { upTo: resume.upTo, records: resume.records };
      // Compact at the applied index before the replica starts. A replica resumed from applied
      // records holds no chosen values for the slots below its applied index, so it could not
      // serve a peer's catch-up for them (and a peer behind it would ask again and again);
      // with the snapshot at the applied index it sends that peer the snapshot instead.
      if (resume.upTo > resume.from && !resume.records.some((r) => r.config)) {
        const dedupe = new Dedupe(resume.snapshot?.dedupe, resume.records.flatMap((r) => r.commandIds)).export();
        const configs = resume.snapshot?.configs ?? [initialMembership(groupConfig)];
        await store.persist({ snapshot: { upTo: resume.upTo, data: { header }, dedupe, configs }, truncateBelow: resume.upTo });
        applied = { upTo: resume.upTo, records: [] };
      }
    } else if (resume.upTo > 0) this.opts.logger?.warn({ split: split.id, applied: resume.upTo, records: resume.records.length }, 'applied records incomplete (older data); replaying the log');
    const state = new SplitState(split.id, storage, { applied: resume.upTo, header }, onFatal, range);
    const core = new SplitTxnCore({
      splitId: split.id,
      range,
      self: nodeId,
      reader: storage.mvcc,
      commandPrefix,
      resume: header ? { header, appliedIndex: resume.upTo, outcomes: storage.outcomes(split.id) } : undefined,
      floorTs: mark.issuedUs,
      limits: { closedIntervalUs: closedIntervalMs * 1000 },
      ...(this.opts.broken ? { broken: this.opts.broken } : {}),
    });
    let shell: SplitShell | undefined;
    const coreNow = () => {
      const r = this.opts.tt.nowServing();
      return { tt: r.tt, serving: r.serving, monoUs: monotonicMicros() };
    };
    state.attach(core, coreNow, (now) => shell?.drain(now));
    const replica = await host.addGroup({
      config: groupConfig,
      apply: (entry) => state.apply(entry),
      // The snapshot is the header plus the MVCC keyspace and outcome table. Neither needs a
      // capture: every entry's versions and outcomes are written (Storage.applyEntry) in the
      // group's write chain when it is applied, before the host hands the replica this snapshot,
      // so the compaction's persist (snapshot record + truncation, PaxosStore.persist in the same
      // chain) is committed in the same or a later LMDB transaction than every version it
      // covers: GroupCommitter runs ops in submission order (libs/storage/src/group-commit.ts).
      // See docs/spanserver.md.
      snapshot: () => state.snapshotData(),
      restore: (data) => void state.restore(data),
      ...(applied ? { applied } : {}),
      snapshotTransfer: state.transfer,
    });
    shell = new SplitShell(split, nodeId, core, replica, host, bus, this.opts.tt, (id) => this.knownSplit(id)?.replicas ?? []);
    const size = new SplitSize();
    size.seed(storage.mvcc, core.entry());
    state.onVersions = (versions) => size.applied(versions, storage.mvcc);
    const hs: HostedSplit = { entry, split, replica, state, core, shell, store, size, lastLoad: { read: 0, written: 0, atMs: Date.now() } };
    state.onCut = (child, durable, slot) => this.cutApplied(hs, child, durable, slot);
    state.onRestored = (h) => {
      size.forget();
      this.cutsMissed(hs, h.cuts ?? []);
    };
    this.splits.set(split.id, hs);
    }

  /**
   * A snapshot carried the parent past cuts this replica never applied: it has no state for those
   * children (docs/spanserver.md, "Known gaps"), so they are reported, not hosted.
   */
  private cutsMissed(parent: HostedSplit, cuts: ReadonlyArray<{ child: string; atKey: string }>): void {
    for (const c of cuts) {
      if (this.splits.has(c.child)) continue;
      this.opts.bus.metrics.inc('synod_split_cut_missed_total', { split: parent.entry.id });
      this.opts.logger?.warn({ split: parent.entry.id, child: c.child, atKey: c.atKey }, 'a snapshot took this replica past a cut it never applied: the child is not hosted here until split.host');
    }
  }

  /**
   * The voters of split `id` as best known here: this node's replica's configuration when it
   * hosts one, else the newest range map heard from the placement service, else the hosted set
   * or the static map.
   */
  private knownSplit(id: string): { replicas: readonly string[] } | undefined {
    const hosted = this.splits.get(id);
    if (hosted) return { replicas: hosted.replica.membership().peers };
    return this.latestMap?.split(id) ?? this.hostedSet?.get(id) ?? this.opts.rangeMap.split(id);
  }

  /** The placement service's range map, when newer than the one known (main.ts polls it). */
  mapHeard(map: RangeMap): void {
    if (!this.latestMap || map.generation > this.latestMap.generation) this.latestMap = map;
  }

  /**
   * A cut applied on this replica (docs/spanserver.md, "Cutting a split"): the parent's entry
   * shrinks, the child's entry joins the hosted set written with the cut entry, and once that
   * write is durable the child's group starts here with the parent's peers.
   */
  private cutApplied(parent: HostedSplit, child: ChildInit, durable: Promise<void>, slot: number): { snapshot: Snapshot; hostedSplits: unknown } {
    const set = this.hostedSet!;
    // The child's members are the parent's at the cut's slot: the same on every replica.
    const members = parent.replica.membershipAt(slot);
    parent.entry = { ...parent.entry, end: child.range.start, generation: child.generation };
    const childEntry: SplitEntry = { ...parent.entry, id: child.splitId, start: child.range.start, end: child.range.end, generation: child.generation, replicas: [...members.peers], learners: [...(members.learners ?? [])] };
    // The child's log starts at slot 1 behind a snapshot of its initial state: its rows at or
    // below T_cut are in the shared keyspace, not in any log entry, so a replica that joins it
    // later must be sent a snapshot (which carries the rows), never a replay from slot 0.
    const snapshot: Snapshot = { upTo: 1, data: { header: child.header }, dedupe: { clients: [], other: [] }, configs: [{ ...members, fromSlot: 0, peers: [...members.peers], learners: [...(members.learners ?? [])] }] };
    set.set(parent.entry);
    set.set(childEntry);
    parent.size.keepRange(this.opts.storage.mvcc, parent.core.entry());
    this.opts.logger?.info({ split: parent.entry.id, child: child.splitId, atKey: child.range.start, cutTs: child.cutTs }, 'split cut');
    void durable.then(() => (this.closing ? undefined : this.hostSplit(childEntry))).catch((err: unknown) => this.ctx!.onFatal(err));
    return { snapshot, hostedSplits: set.record() };
  }

  /** The event-loop delay of the last completed rolling window (the gauges'), once measuring. */
  eventLoopFigures(): { p99Ms: number; maxMs: number } | undefined {
    return this.loopDelay?.window();
  }

  /** The node's figures without the per-split list (node.status, docs/spanserver.md). */
  private statusHead() {
    const now = this.opts.tt.now();
    return {
      node: this.opts.nodeId,
      dc: this.opts.dc,
      tt: { earliest: now.earliest, latest: now.latest, epsilonUs: (now.latest - now.earliest) / 2, serving: this.opts.tt.isServing() },
      fsyncs: this.opts.storage.fsyncCount(),
      ...processLoad(this.opts.bus, this.loopDelay),
      commits: this.commits.figures(),
      quietGroups: this.opts.host.quietGroups(),
    };
  }

  /** One split's entry of node.status (its log counted once: an LMDB range count). */
  private groupStatus(s: HostedSplit) {
    const twoPhase = s.core.twoPhaseState();
    return {
      id: s.split.id,
      isLeader: s.replica.isLeader(),
      leader: s.replica.leaderHint(),
      tSafe: s.core.tSafe,
      appliedUpTo: s.replica.appliedUpTo(),
      chosenUpTo: s.replica.chosenUpTo(),
      lastCommitTs: s.core.stats().lastCommitTs,
      reappliedEntries: s.state.reappliedEntries,
      logEntries: s.store.logSize(),
      snapshotUpTo: s.replica.snapshotUpTo(),
      locksHeld: twoPhase.locksHeld,
      prepared: twoPhase.prepared.length,
      quiet: s.replica.isQuiet(),
    };
  }

  /**
   * Per split, what /readyz checks (a known leader, the apply lag): field reads only, no log
   * count or transaction state, so a probe costs little even with hundreds of splits.
   */
  splitHealth(): Array<{ id: string; leader: string | null; appliedUpTo: number; chosenUpTo: number }> {
    return [...this.splits.values()].map((s) => ({ id: s.split.id, leader: s.replica.leaderHint(), appliedUpTo: s.replica.appliedUpTo(), chosenUpTo: s.replica.chosenUpTo() }));
  }

  /** node.status in one go (the stdio control and tests); the bus handler builds it in slices (statusSliced). */
  status() {
    return { ...this.statusHead(), groups: [...this.splits.values()].map((s) => this.groupStatus(s)) };
  }

  /**
   * node.status with its per-split list built in slices, a turn of the event loop between them
   * (docs/spanserver.md, "Periodic work and the event loop"): with hundreds of splits the list
   * costs tens of ms. Splits hosted when it starts are listed (one dropped meanwhile included).
   */
  async statusSliced(sliceMs?: number): Promise<ReturnType<Spanserver['status']>> {
    const groups: Array<ReturnType<Spanserver['groupStatus']>> = [];
    await eachInSlices([...this.splits.values()], (s) => groups.push(this.groupStatus(s)), sliceMs);
    return { ...this.statusHead(), groups };
  }

  /**
   * Calls `fn` with each hosted split's node.status entry, in slices with a turn of the event
   * loop between them: the scrape-time gauges per split (metrics.ts) are set so.
   */
  eachGroupSliced(fn: (g: ReturnType<Spanserver['groupStatus']>) => void, sliceMs?: number): Promise<void> {
    return eachInSlices([...this.splits.values()], (s) => fn(this.groupStatus(s)), sliceMs);
  }

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.reportTimer);
    for (const s of this.splits.values()) s.shell.close();
    clearInterval(this.ticker);
    clearInterval(this.gcTimer);
    clearInterval(this.markTimer);
    this.loopDelay?.stop();
  }

  /**
   * The last step before a read or commit reply leaves: wait out a resync started by clock
   * evidence, and refuse to acknowledge if the clock is not serving (a healthy clock passes at
   * once after the resync; a wrong one is caught here, not by the client).
   */
  private acknowledge<T>(reply: T): T | Promise<T> {
    const check = this.opts.clockCheck?.();
    // Synchronous when no resync is running (every handler calling it is async, so a throw here
    // still rejects its reply): no promise and no extra turns per reply.
    if (check) return check.then(() => this.servingOr(reply));
    return this.servingOr(reply);
  }

  private servingOr<T>(reply: T): T {
    if (!this.opts.tt.isServing()) throw new SynodError('UNAVAILABLE', `${this.opts.nodeId}: clock found out of bounds before replying; not serving`);
    return reply;
  }

  private hosted(env: Envelope): HostedSplit {
    const s = this.splits.get(env.group);
    if (!s) {
      // A split this node will host but does not yet (a cut it has not applied, a replica being
      // added) is a moment's unavailability here: another replica may serve. One the newest map
      // known here puts elsewhere means the sender's map is old: it refreshes on KEY_OUT_OF_RANGE.
      const known = this.latestMap?.split(env.group) ?? this.hostedSet?.get(env.group) ?? this.opts.rangeMap.split(env.group);
      const generation = Math.max(this.latestMap?.generation ?? 0, this.opts.rangeMap.generation);
      if (!known || known.replicas.includes(this.opts.nodeId) || known.learners?.includes(this.opts.nodeId))
        throw new SynodError('UNAVAILABLE', `${this.opts.nodeId} does not host split ${JSON.stringify(env.group)} yet`, { split: env.group, reason: 'not hosted yet' });
      throw new SynodError('KEY_OUT_OF_RANGE', `${this.opts.nodeId} hosts no replica of split ${JSON.stringify(env.group)}`, { split: env.group, generation });
    }
    if (!this.opts.tt.isServing()) throw new SynodError('UNAVAILABLE', `${this.opts.nodeId}: clock is not within bounds; not serving`);
    return s;
  }

  /** A lock-free read; synchronous when the core serves it at once (it throws its refusal then). */
  private snapshotRead(env: Envelope<'kv.snapshot'>): ValuesReply | Promise<ValuesReply> {
    const s = this.hosted(env);
    const req = env.body;
    for (const k of req.keys ?? []) limitError(checkKey(k));
    // The server decides whether a strong read may be a lease read (the core's rule); the
    // request's `leaseRead` is accepted for compatibility and ignored. `soleSplit`: the client
    // reads no other split at this timestamp (docs/transactions.md, rule 9a).
    const mode = req.ts !== undefined ? { ts: req.ts } : req.maxStalenessUs !== undefined ? { maxStalenessUs: req.maxStalenessUs } : { strong: true as const };
    const r = s.shell.requestNow({ kind: 'snapshot', keys: req.keys, scan: req.scan, mode, waitUs: req.waitMs * 1000, leaseRead: req.leaseRead, soleSplit: req.soleSplit });
    const strong = 'strong' in mode;
    return r instanceof Promise ? r.then((b) => this.valuesReply(s, strong, b)) : this.valuesReply(s, strong, r);
  }

  private valuesReply(s: HostedSplit, strong: boolean, body: TxnReplyBody): ValuesReply {
    const r = expect(body, 'values');
    // A strong read answered here without leading (it waited for t_safe): name the leader, so
    // the client, which took this replica for the leader, asks the one that answers at once.
    const leader = strong && !s.replica.isLeader() ? s.replica.leaderHint() : null;
    return { kind: 'kv.values' as const, body: { values: r.values, ...(r.ts !== undefined ? { ts: r.ts } : {}), ...(leader && leader !== this.opts.nodeId ? { leader } : {}) } };
  }
}
