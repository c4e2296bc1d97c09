import type { ReadMode, TxnError, TxnReplyBody, TxnRequest, WriteOp } from '@synod/txn';
import type { Prng } from '../prng.js';
import type { Scheduler } from '../scheduler.js';
import type { RoMode, RoRecord, RwRecord, SpanHistory } from './history.js';
import type { SpanNet, SpanPayload } from './net.js';
import type { SplitSpec } from './node.js';
import { START_US } from './time.js';

export interface SpanClientTiming {
  /** No new operation in the first lullUs of every lullEveryUs (unset or 0: never): splits go idle (quiescence). */
  lullEveryUs?: number;
  lullUs?: number;
  /** Per-request timeout (no answer: try elsewhere, or for a commit look up its status). */
  requestTimeoutUs: number;
  /** How long a replica may park a request (waitUs), well inside the request timeout. */
  serverWaitUs: number;
  /** The same two for locking reads (they wait only for locks and the leader's barrier). */
  lockReadTimeoutUs: number;
  lockReadWaitUs: number;
  /** A read-write transaction thinks this long (0..max) between its reads and its commit. */
  computeMaxUs: number;
  /**
   * Probability that a read-write transaction reads its keys a second time before committing. In
   * the same epoch it uses the re-read's values; across a leadership change it keeps the first
   * read's values and epoch, and relies on the server refusing a commit from another epoch: the
   * new leader's locks (taken by the re-read) pass the read-lock check, so only the epoch check
   * stands between it and a lost update.
   */
  rereadProb: number;
  /**
   * Probability that a client whose commit's outcome is unknown looks its status up in the
   * background and goes on with its next operation (otherwise it waits for the answer).
   */
  backgroundStatusProb: number;
  /**
   * Probability that a read-write transaction does not echo its reads' epochs in its commit and
   * prepares (the wire makes it optional: a client that does not keep it). It does not re-read
   * (a re-read would take its locks again: its commit would be a fine one), so only the server's
   * read-lock check stands between a commit whose locks lapsed (idle-aborted and forgotten,
   * another leadership) and a lost update.
   */
  noEpochProb: number;
  /** A transaction (every attempt) must finish within this; an unknown commit outcome is looked up past it. */
  txnDeadlineUs: number;
  /** Status lookups of one unknown outcome give up after this. */
  statusDeadlineUs: number;
  thinkMaxUs: number;
}

export interface Workload {
  splits: readonly SplitSpec[];
  /** Per split: the account, register and list keys (all inside the split). */
  accounts: Record<string, string[]>;
  registers: Record<string, string[]>;
  lists: Record<string, string[]>;
  /** Op weights. */
  mix: Record<OpKind, number>;
  /** A hot split: operations pick it (first) with this probability (otherwise any split). */
  hot?: { split: string; prob: number } | undefined;
  /** Probability that a read-write operation of each kind spans two splits (two-phase commit). */
  crossSplit: Record<'transfer' | 'register' | 'append', number>;
  /** Probability that a multi-split read-only operation audits the bank: every split's accounts. */
  auditProb: number;
  /**
   * A cross-split register write or list append covers 2..txnSplitsMax splits (transfers: always
   * two). Unset: two, as the 3-split scenario always did.
   */
  txnSplitsMax?: number | undefined;
  /** A multi-split read that is no audit covers 1..readSplitsMax splits. Unset: up to every split. */
  readSplitsMax?: number | undefined;
}

/**
 * How a client of the placement scenario finds splits (docs/placement-sim.md): by its own cached
 * copy of the range map, refreshed from the placement service on KEY_OUT_OF_RANGE, as libs/client
 * does. Without one (the span scenario) a key's split is the one the workload filed it under.
 */
export interface ClientRouter {
  /** The split covering `key` in the cached map. */
  splitOf(key: string): string;
  /** The split's replicas in the cached map. */
  replicasOf(split: string): readonly string[];
  /** Re-reads the map (a KEY_OUT_OF_RANGE answer said the cached one is old). */
  refresh(): void;
}

type Part = { split: string; keys: string[]; readOnly?: boolean };

export type OpKind = 'transfer' | 'register' | 'append' | 'strong' | 'strong1' | 'snapshot' | 'stale';

type Answer = { ok: true; body: TxnReplyBody } | { ok: false; error: TxnError } | { ok: false; timeout: true };

export interface ClientStats {
  rwCommitted: number;
  /** Of which cross-split (two-phase commit). */
  xsplitCommitted: number;
  rwAborted: number;
  roCompleted: number;
  statusLookups: number;
  unknown: number;
  requests: number;
}

/**
 * A client in one DC running the span workload one operation at a time, in the protocol a real
 * client speaks: 'read' (locks, at the leader) then 'commit' with the read's epoch and read keys;
 * NOT_LEADER hints are followed, UNAVAILABLE retried elsewhere, an aborted transaction retried as
 * a new attempt (same priority) until its deadline, and a commit whose answer is TIMEOUT (or
 * lost) is looked up with 'status' until decided. Read-only operations read one or more splits at
 * one timestamp: the first split's reply gives it, the others are read at it.
 *
 * Everything is callbacks on the scheduler (no promises), so a run is a pure function of its seed.
 */
export class SpanClient {
  private seq = 0;
  private creq = 0;
  private readonly pending = new Map<number, (a: Answer) => void>();
  private readonly leaders = new Map<string, string>();
  /** Timestamps this client has seen (commits, reads): snapshot reads pick one. */
  private readonly seenTs: number[] = [];
  private stopped = false;
  private opBusy = false;
  private backgroundLookups = 0;
  readonly stats: ClientStats = { rwCommitted: 0, xsplitCommitted: 0, rwAborted: 0, roCompleted: 0, statusLookups: 0, unknown: 0, requests: 0 };

  constructor(
    readonly id: string,
    readonly dc: string,
    /** Node ids hosting every split (one per DC). */
    private readonly nodes: readonly string[],
    private readonly nodeDc: (node: string) => string,
    private readonly sched: Scheduler,
    private readonly net: SpanNet,
    private readonly rng: Prng,
    private readonly history: SpanHistory,
    private readonly w: Workload,
    private readonly t: SpanClientTiming,
    private readonly trace: (line: string) => void,
    private readonly router?: ClientRouter | undefined,
  ) {
    net.register(id, dc, (_from, p) => this.receive(p));
  }

  start(): void {
    this.sched.after(this.rng.int(this.t.thinkMaxUs + 1), () => this.next());
  }

  stopIssuing(): void {
    this.stopped = true;
  }

  /** An operation, or a status lookup in the background, is still running. */
  get busy(): boolean {
    return this.opBusy || this.backgroundLookups > 0;
  }

  private get now(): number {
    return this.sched.nowUs;
  }

  // ------------------------------------------------------------------ requests

  private receive(p: SpanPayload): void {
    if (p.kind !== 'txnReply') return;
    const cb = this.pending.get(p.creq);
    if (!cb) return; // answered already (a duplicate), or timed out
    this.pending.delete(p.creq);
    cb(p.error ? { ok: false, error: p.error } : { ok: true, body: p.body! });
  }

  private request(split: string, node: string, req: TxnRequest, cb: (a: Answer) => void, timeoutUs = this.t.requestTimeoutUs): void {
    const creq = ++this.creq;
    this.stats.requests++;
    this.pending.set(creq, cb);
    this.net.send(this.id, node, { kind: 'txnReq', split, creq, req });
    this.sched.after(timeoutUs, () => {
      const waiting = this.pending.get(creq);
      if (!waiting) return;
      this.pending.delete(creq);
      waiting({ ok: false, timeout: true });
    });
  }

  /** The nodes that may host `split`: every node, or its replicas in the cached map. */
  private pool(split: string): readonly string[] {
    const replicas = this.router?.replicasOf(split);
    return replicas && replicas.length > 0 ? replicas : this.nodes;
  }

  private leaderGuess(split: string): string {
    return this.leaders.get(split) ?? this.rng.pick(this.pool(split));
  }

  private nearest(split: string): string {
    const pool = this.pool(split);
    return pool.find((n) => this.nodeDc(n) === this.dc) ?? this.rng.pick(pool);
  }

  private other(split: string, than: string): string {
    const others = this.pool(split).filter((n) => n !== than);
    return others.length > 0 ? this.rng.pick(others) : than;
  }

  /** A KEY_OUT_OF_RANGE answer: the cached map is old (rule 20's hint); re-read it. */
  private outOfRange(a: Answer): boolean {
    if (!this.router || a.ok || !('error' in a) || a.error.code !== 'KEY_OUT_OF_RANGE') return false;
    this.router.refresh();
    return true;
  }

  /** The parts of an operation by the splits now covering their keys (the cached map); unchanged without a router. */
  private routed(parts: readonly Part[]): Part[] {
    const router = this.router;
    if (!router) return [...parts];
    const out: Part[] = [];
    for (const p of parts)
      for (const key of p.keys) {
        const split = router.splitOf(key);
        const q = out.find((x) => x.split === split);
        if (!q) out.push({ split, keys: [key], ...(p.readOnly ? { readOnly: true } : {}) });
        else {
          q.keys.push(key);
          if (!p.readOnly) delete q.readOnly;
        }
      }
    return out;
  }

  /** Where to go next after an error from `node`: the hinted leader, or another replica. */
  private redirect(split: string, node: string, a: Answer): { node: string; delayUs: number } {
    const hint = !a.ok && 'error' in a ? a.error.hint?.leader : undefined;
    if (typeof hint === 'string' && this.nodes.includes(hint) && hint !== node) {
      this.leaders.set(split, hint);
      return { node: hint, delayUs: 0 };
    }
    this.leaders.delete(split);
    return { node: this.other(split, node), delayUs: this.rng.range(5_000, 30_000) };
  }

  // ------------------------------------------------------------------ operations

  private next(): void {
    if (this.stopped) return;
    const every = this.t.lullEveryUs ?? 0;
    const lull = this.t.lullUs ?? 0;
    if (every > 0 && this.sched.nowUs % every < lull) {
      this.sched.after(lull - (this.sched.nowUs % every), () => this.next());
      return;
    }
    this.opBusy = true;
    const kind = this.pickKind();
    this.trace(`${this.id} op ${kind}`);
    const done = (): void => {
      this.opBusy = false;
      this.sched.after(this.rng.int(this.t.thinkMaxUs + 1), () => this.next());
    };
    if (kind === 'transfer' || kind === 'register' || kind === 'append') this.runRw(kind, done);
    else this.runRo(kind, done);
  }

  private pickKind(): OpKind {
    const entries = Object.entries(this.w.mix) as Array<[OpKind, number]>;
    let x = this.rng.next() * entries.reduce((s, [, w]) => s + w, 0);
    for (const [k, w] of entries) {
      if (x < w) return k;
      x -= w;
    }
    return entries[0]![0];
  }

  // ---- read-write

  /**
   * The keys of one read-write operation, per split in the order they are read. Most transfers
   * move money between accounts on two splits; some register writes and list appends cover two
   * splits too (half of those register operations only read the first split's register and write
   * the second's: a read-only participant, or a coordinator that only reads, prepares with no
   * writes); the rest stay on one split.
   */
  private rwKeys(kind: 'transfer' | 'register' | 'append'): Part[] {
    const hot = this.w.hot;
    const split = hot && this.rng.chance(hot.prob) ? hot.split : this.rng.pick(this.w.splits).id;
    const cross = this.w.splits.length > 1 && this.rng.chance(this.w.crossSplit[kind]);
    const others = cross ? this.otherSplits(split, kind === 'transfer' ? 2 : (this.w.txnSplitsMax ?? 2)) : [];
    const second = others[0];
    const one = (xs: string[]) => this.rng.pick(xs);
    let parts: Part[];
    if (kind === 'transfer') {
      // From an account of `split` to one of `second` (or another of `split`).
      if (second) parts = [{ split, keys: [one(this.w.accounts[split]!)] }, { split: second, keys: [one(this.w.accounts[second]!)] }];
      else parts = [{ split, keys: pickTwo(this.rng, this.w.accounts[split]!) }];
    } else if (kind === 'register') {
      const regs = this.w.registers[split]!;
      if (second) parts = [{ split, keys: [one(regs)], ...(this.rng.chance(0.5) ? { readOnly: true } : {}) }, ...others.map((o) => ({ split: o, keys: [one(this.w.registers[o]!)] }))];
      else parts = [{ split, keys: this.rng.chance(0.3) && regs.length > 1 ? pickTwo(this.rng, regs) : [one(regs)] }];
    } else {
      // An append of the transaction's id to one list, or to one list on each of two splits.
      parts = [{ split, keys: [one(this.w.lists[split]!)] }];
      for (const o of others) parts.push({ split: o, keys: [one(this.w.lists[o]!)] });
    }
    return parts;
  }

  /** The other splits of a cross-split operation: one, or 1..max-1 distinct ones when `max` > 2 (2PC across several splits). */
  private otherSplits(split: string, max: number): string[] {
    const candidates = this.w.splits.filter((s) => s.id !== split).map((s) => s.id);
    if (max <= 2) return [this.rng.pick(candidates)];
    const width = this.rng.range(2, Math.min(max, candidates.length + 1));
    return shuffle(this.rng, candidates).slice(0, width - 1);
  }

  private runRw(kind: 'transfer' | 'register' | 'append', opDone: () => void): void {
    let finished = false;
    const done = (): void => {
      if (finished) return;
      finished = true;
      opDone();
    };
    const picked = this.rwKeys(kind);
    const base = `${this.id}:${++this.seq}`;
    const startTs = START_US + this.now;
    const deadline = this.now + this.t.txnDeadlineUs;
    const amount = this.rng.range(1, 20);
    let attempt = 0;

    const startAttempt = (): void => {
      attempt++;
      // Each attempt routes by the map as cached now: after a cut its participant set may differ.
      const parts = this.routed(picked);
      const readOnly = new Set(parts.filter((p) => p.readOnly).flatMap((p) => p.keys));
      // The coordinator: the first split written, in split order (as the client); the outcome lives there.
      const coordinator = parts.filter((p) => !p.readOnly).map((p) => p.split).sort()[0]!;
      const participants = parts.map((p) => p.split).filter((s) => s !== coordinator);
      const id = `${base}.${attempt}`;
      const txn = { id, startTs };
      const rec: RwRecord = { id, client: this.id, split: coordinator, invokeUs: this.now, reads: [], writes: [], outcome: { state: 'abandoned' } };
      if (participants.length > 0) rec.participants = participants;
      this.history.rw.push(rec);
      /** What the attempt did at each split: the leader its reads ran at, their epoch and values. */
      const at = parts.map((p) => ({ ...p, node: undefined as string | undefined, epoch: undefined as string | undefined, values: [] as Array<{ key: string; value: unknown }>, locked: false }));
      let committing = false;
      const withEpoch = !this.rng.chance(this.t.noEpochProb);
      this.trace(`${this.id} rw ${id} ${kind} ${parts.map((p) => `${p.split}:${p.keys.join(',')}${p.readOnly ? '(read)' : ''}`).join(' ')}${participants.length ? ` coordinator ${coordinator}` : ''}`);

      const retryTxn = (why: string): void => {
        this.stats.rwAborted++;
        this.trace(`${this.id} rw ${id} aborted: ${why}`);
        // Release what the attempt may hold (best effort), unless its commit was sent: from then
        // on the coordinator decides, and an abort would race the commit (as the real client).
        if (!committing) for (const p of at) if (p.locked && p.node) this.request(p.split, p.node, { kind: 'abort', txnId: id }, () => undefined);
        if (this.now + 20_000 < deadline && !this.stopped) this.sched.after(this.rng.range(1_000, 20_000), startAttempt);
        else done();
      };

      /** The locking reads of part `i` (`round` 2: the re-read, whose values and epoch are used only in the same epoch). */
      const read = (i: number, node: string, round: 1 | 2): void => {
        if (i === at.length) {
          rec.reads = at.flatMap((p) => p.values);
          const writes = this.writesFor(kind, id, rec.reads.filter((r) => !readOnly.has(r.key)), amount);
          return void this.sched.after(this.rng.int(this.t.computeMaxUs + 1), () => commit(writes));
        }
        if (this.now >= deadline) return retryTxn('deadline');
        const p = at[i]!;
        const req: TxnRequest = { kind: 'read', txn, keys: p.keys, waitUs: this.t.lockReadWaitUs };
        this.request(
          p.split,
          node,
          req,
          (a) => {
            if (a.ok && a.body.kind === 'values') {
              this.leaders.set(p.split, node);
              p.node = node;
              p.locked = true;
              const values = p.keys.map((key) => ({ key, value: a.body.kind === 'values' ? a.body.values.find((v) => v.key === key)?.value : undefined }));
              if (round === 1) {
                p.epoch = a.body.epoch;
                p.values = values;
                if (withEpoch && this.rng.chance(this.t.rereadProb)) return void this.sched.after(this.rng.int(this.t.computeMaxUs + 1), () => read(i, node, 2));
              } else if (a.body.epoch === p.epoch) {
                // Same leadership: the re-read's locks are the ones the commit is checked against,
                // so its values are the ones to use (the first read's locks may have lapsed since).
                p.values = values;
              } else this.trace(`${this.id} rw ${id} re-read ${p.split} in epoch ${a.body.epoch}, keeps its reads of epoch ${p.epoch}`);
              const nextPart = at[i + 1];
              return read(i + 1, nextPart ? this.leaderGuess(nextPart.split) : node, 1);
            }
            if (!a.ok && 'error' in a && a.error.code === 'TXN_ABORTED') return retryTxn(a.error.message);
            if (this.outOfRange(a)) return retryTxn(`${p.split} no longer covers ${p.keys.join(',')}`);
            if (!a.ok && 'error' in a && !['NOT_LEADER', 'UNAVAILABLE', 'TIMEOUT'].includes(a.error.code)) throw new Error(`${id}: read answered ${a.error.code}: ${a.error.message}`);
            const r = this.redirect(p.split, node, a);
            this.sched.after(r.delayUs, () => read(i, r.node, round));
          },
          this.t.lockReadTimeoutUs,
        );
      };

      /** Each participant's prepare, at its leader (following hints a few times); its answer only informs (the coordinator decides). */
      const prepare = (p: (typeof at)[number], node: string, writes: WriteOp[], tries: number): void => {
        const req: TxnRequest = { kind: 'prepare', txn, coordinator, epoch: withEpoch ? p.epoch : undefined, readKeys: p.keys, writes, waitUs: this.t.serverWaitUs };
        this.request(p.split, node, req, (a) => {
          if (a.ok || ('error' in a && ['TXN_ABORTED', 'INVALID_ARGUMENT'].includes(a.error.code)) || this.outOfRange(a) || tries <= 1 || this.now >= deadline) {
            this.trace(`${this.id} rw ${id} prepare at ${p.split}: ${a.ok ? a.body.kind : 'error' in a ? a.error.code : 'no answer'}`);
            return;
          }
          const r = this.redirect(p.split, node, a);
          this.sched.after(r.delayUs, () => prepare(p, r.node, writes, tries - 1));
        });
      };

      const commit = (writes: WriteOp[]): void => {
        rec.writes = writes;
        if (this.now >= deadline) return retryTxn('deadline');
        const coord = at.find((p) => p.split === coordinator)!;
        const of = (p: (typeof at)[number]) => writes.filter((w) => p.keys.includes(w.key));
        // 2PC (docs/transactions.md): the prepares to the other splits and the commit to the coordinator, at once.
        committing = true;
        for (const p of at) if (p !== coord) prepare(p, p.node!, of(p), 3);
        sendCommit(coord.node!, { kind: 'commit', txn, epoch: withEpoch ? coord.epoch : undefined, readKeys: coord.keys, writes: of(coord), waitUs: this.t.serverWaitUs, participants: participants.length > 0 ? participants : undefined });
      };

      const sendCommit = (node: string, req: TxnRequest): void => {
        this.request(coordinator, node, req, (a) => {
          if (a.ok && a.body.kind === 'committed') {
            rec.outcome = { state: 'committed', ts: a.body.ts, atUs: this.now, via: 'reply' };
            this.committed(rec, a.body.ts);
            this.trace(`${this.id} rw ${id} committed ts=${a.body.ts}`);
            return done();
          }
          if (!a.ok && 'error' in a && a.error.code === 'TXN_ABORTED') {
            rec.outcome = { state: 'aborted', atUs: this.now, via: 'reply', reason: a.error.message };
            return retryTxn(a.error.message);
          }
          if (this.outOfRange(a)) {
            // Refused before proposing, or decided aborted at apply (rule 20): not committed anywhere.
            rec.outcome = { state: 'aborted', atUs: this.now, via: 'reply', reason: 'KEY_OUT_OF_RANGE' };
            return retryTxn('KEY_OUT_OF_RANGE at the coordinator');
          }
          if (!a.ok && 'error' in a && a.error.code === 'NOT_LEADER') {
            // Not proposed there: follow the hint (a new leader aborts it: its reads' locks are gone).
            const r = this.redirect(coordinator, node, a);
            return void this.sched.after(r.delayUs, () => sendCommit(r.node, req));
          }
          if (!a.ok && 'error' in a && !['UNAVAILABLE', 'TIMEOUT'].includes(a.error.code)) throw new Error(`${id}: commit answered ${a.error.code}: ${a.error.message}`);
          // TIMEOUT, UNAVAILABLE or no answer: the commit may be in the log. Ask the coordinator until decided.
          const background = this.rng.chance(this.t.backgroundStatusProb);
          this.trace(`${this.id} rw ${id} outcome unknown (${'error' in a ? a.error.code : 'no answer'}): status lookups${background ? ' in the background' : ''}`);
          if (background) {
            this.backgroundLookups++;
            done();
          }
          lookup(node, this.now + this.t.statusDeadlineUs, background);
        });
      };

      /** Status lookups at the coordinator until decided or `until`; in the `background` the client has moved on (no retry). */
      const lookup = (node: string, until: number, background: boolean): void => {
        const end = (): void => {
          if (background) this.backgroundLookups--;
          done();
        };
        if (this.now >= until) {
          rec.outcome = { state: 'unknown' };
          this.stats.unknown++;
          this.trace(`${this.id} rw ${id} outcome still unknown`);
          return end();
        }
        this.stats.statusLookups++;
        this.request(coordinator, node, { kind: 'status', txnId: id, waitUs: this.t.serverWaitUs }, (a) => {
          if (a.ok && a.body.kind === 'status' && a.body.state !== 'pending') {
            const committed = a.body.state === 'committed';
            this.history.status.push({ txn: id, state: a.body.state, ts: a.body.ts, atUs: this.now });
            this.trace(`${this.id} rw ${id} status ${a.body.state}${committed ? ` ts=${a.body.ts}` : ''}`);
            if (committed) {
              rec.outcome = { state: 'committed', ts: a.body.ts!, atUs: this.now, via: 'status' };
              this.committed(rec, a.body.ts!);
              return end();
            }
            rec.outcome = { state: 'aborted', atUs: this.now, via: 'status', reason: a.body.reason ?? 'aborted' };
            if (background) {
              this.stats.rwAborted++;
              return end();
            }
            return retryTxn(`status: ${a.body.reason ?? 'aborted'}`);
          }
          if (a.ok) return void this.sched.after(this.rng.range(10_000, 50_000), () => lookup(node, until, background));
          const r = this.redirect(coordinator, node, a);
          this.sched.after(Math.max(r.delayUs, 5_000), () => lookup(r.node, until, background));
        });
      };

      read(0, this.leaderGuess(at[0]!.split), 1);
    };
    startAttempt();
  }

  private committed(rec: RwRecord, ts: number): void {
    this.stats.rwCommitted++;
    if (rec.participants?.length) this.stats.xsplitCommitted++;
    this.seenTs.push(ts);
  }

  private writesFor(kind: 'transfer' | 'register' | 'append', id: string, reads: Array<{ key: string; value: unknown }>, amount: number): WriteOp[] {
    if (kind === 'transfer') {
      const [a, b] = reads as [{ key: string; value: unknown }, { key: string; value: unknown }];
      const balA = typeof a.value === 'number' ? a.value : INITIAL_BALANCE;
      const balB = typeof b.value === 'number' ? b.value : INITIAL_BALANCE;
      const move = Math.min(amount, balA);
      return [
        { key: a.key, value: balA - move },
        { key: b.key, value: balB + move },
      ];
    }
    if (kind === 'register') return reads.map((r) => ({ key: r.key, value: `${id}` }));
    return reads.map((r) => ({ key: r.key, value: [...(Array.isArray(r.value) ? (r.value as unknown[]) : []), id] }));
  }

  // ---- read-only

  private runRo(kind: 'strong' | 'strong1' | 'snapshot' | 'stale', done: () => void): void {
    let mode: ReadMode;
    let roMode: RoMode;
    if (kind === 'snapshot' && this.seenTs.length > 0) {
      const recent = this.seenTs.slice(-20);
      mode = { ts: this.rng.pick(recent) - this.rng.int(50_000) };
      roMode = 'snapshot';
    } else if (kind === 'stale') {
      mode = { maxStalenessUs: this.rng.range(5_000, 500_000) };
      roMode = 'stale';
    } else {
      mode = { strong: true };
      roMode = 'strong';
    }
    // A bank audit reads every split's accounts at one timestamp (transfers cross splits: only the total is conserved).
    const audit = kind !== 'strong1' && this.w.splits.length > 1 && this.rng.chance(this.w.auditProb);
    const splitCount = kind === 'strong1' ? 1 : audit ? this.w.splits.length : this.rng.range(1, Math.min(this.w.splits.length, this.w.readSplitsMax ?? this.w.splits.length));
    let splits = shuffle(this.rng, this.w.splits.map((s) => s.id)).slice(0, splitCount);
    const hot = this.w.hot;
    if (hot && this.rng.chance(hot.prob)) splits = [hot.split, ...splits.filter((s) => s !== hot.split)].slice(0, splitCount);
    const keysBy = new Map<string, string[]>();
    for (const s of splits) {
      const all = [...this.w.accounts[s]!, ...this.w.registers[s]!, ...this.w.lists[s]!];
      keysBy.set(s, audit || this.rng.chance(0.5) ? [...this.w.accounts[s]!] : shuffle(this.rng, all).slice(0, this.rng.range(1, all.length)));
    }
    /** What is left to read, by the split covering the keys (a KEY_OUT_OF_RANGE re-routes it); `home`: the workload's split of each key. */
    const home = new Map<string, string>();
    for (const [s, keys] of keysBy) for (const k of keys) home.set(k, s);
    const reqs = this.routed(splits.map((s) => ({ split: s, keys: keysBy.get(s)! })));
    const id = `${this.id}:ro${++this.seq}`;
    const rec: RoRecord = { id, client: this.id, mode: roMode, invokeUs: this.now, ackUs: 0, ts: 0, reads: [] };
    const deadline = this.now + this.t.txnDeadlineUs;
    let ts: number | undefined;
    this.trace(`${this.id} ro ${id} ${JSON.stringify(mode)} ${splits.join(',')}${audit ? ' (audit)' : ''}`);

    const readSplit = (i: number, node: string): void => {
      if (i === reqs.length) {
        rec.ackUs = this.now;
        rec.ts = ts!;
        this.history.ro.push(rec);
        this.stats.roCompleted++;
        this.seenTs.push(ts!);
        this.trace(`${this.id} ro ${id} done ts=${ts}`);
        return done();
      }
      if (this.now >= deadline) {
        this.trace(`${this.id} ro ${id} gave up`);
        return done();
      }
      const split = reqs[i]!.split;
      const keys = reqs[i]!.keys;
      const m: ReadMode = ts === undefined ? mode : { ts };
      // As the client does: a read of one split says so (soleSplit: a strong read may run at the
      // leader's last commit, rule 9a). The old hint leaseRead is sent too: only the old rule,
      // oldLeaseRead, uses it.
      const soleSplit = reqs.length === 1;
      const req: TxnRequest = { kind: 'snapshot', keys, mode: m, waitUs: this.t.serverWaitUs, leaseRead: reqs.length === 1, soleSplit };
      this.request(split, node, req, (a) => {
        if (a.ok && a.body.kind === 'values') {
          const at = a.body.ts;
          if (at === undefined || (ts !== undefined && at !== ts)) throw new Error(`${id}: ${split} answered at ${at}, asked ${ts ?? JSON.stringify(mode)}`);
          if (ts === undefined && soleSplit && 'strong' in m) rec.soleSplit = true;
          ts = at;
          const values = a.body.values;
          for (const key of keys) rec.reads.push({ split: home.get(key)!, key, value: values.find((v) => v.key === key)?.value });
          const nextSplit = reqs[i + 1]?.split;
          return readSplit(i + 1, nextSplit === undefined ? node : this.rng.chance(0.7) ? this.nearest(nextSplit) : this.rng.pick(this.pool(nextSplit)));
        }
        if (!a.ok && 'error' in a && a.error.code === 'SNAPSHOT_TOO_OLD') return done();
        if (this.outOfRange(a)) {
          // The rest is read at the same timestamp from the splits the refreshed map names.
          reqs.splice(i, reqs.length - i, ...this.routed(reqs.slice(i)));
          return void this.sched.after(this.rng.range(1_000, 10_000), () => readSplit(i, this.leaderGuess(reqs[i]!.split)));
        }
        if (!a.ok && 'error' in a && !['NOT_LEADER', 'UNAVAILABLE', 'TIMEOUT'].includes(a.error.code)) throw new Error(`${id}: snapshot answered ${a.error.code}: ${a.error.message}`);
        const r = this.redirect(split, node, a);
        this.sched.after(r.delayUs, () => readSplit(i, r.node));
      });
    };
    // A strong read starts at the leader (a lease read there) or at the nearest replica; the others nearest.
    const first = reqs[0]!.split;
    readSplit(0, 'strong' in mode && this.rng.chance(0.6) ? this.leaderGuess(first) : this.nearest(first));
  }
}

export const INITIAL_BALANCE = 100;

function pickTwo(rng: Prng, xs: readonly string[]): string[] {
  const a = rng.int(xs.length);
  const b = (a + 1 + rng.int(xs.length - 1)) % xs.length;
  return [xs[a]!, xs[b]!];
}

function shuffle<T>(rng: Prng, xs: readonly T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
