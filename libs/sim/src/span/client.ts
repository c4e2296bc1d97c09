import type { ReadMode, TxnError, TxnReplyBody, TxnRequest, WriteOp } from '@synod/txn';
import { hashString, type Prng } from '../prng.js';
import type { Scheduler } from '../scheduler.js';
import type { RoMode, RoRecord, RwRecord, SpanHistory } from './history.js';
import type { SpanNet, SpanPayload } from './net.js';
import type { SplitSpec } from './node.js';
import { START_US } from './time.js';

export interface SpanClientTiming {
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
}

export type OpKind = 'transfer' | 'register' | 'append' | 'strong' | 'strong1' | 'snapshot' | 'stale';

type Answer = { ok: true; body: TxnReplyBody } | { ok: false; error: TxnError } | { ok: false; timeout: true };

export interface ClientStats {
  rwCommitted: number;
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
  readonly stats: ClientStats = { rwCommitted: 0, rwAborted: 0, roCompleted: 0, statusLookups: 0, unknown: 0, requests: 0 };
  /**
   * A third of the clients leave the optional epoch out of their commits, as a client written
   * against the wire alone may: for them the read-lock check at commit is the only guard against
   * reads whose locks lapsed (another leadership, an idle abort).
   */
  private readonly sendsEpoch: boolean;

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
  ) {
    net.register(id, dc, (_from, p) => this.receive(p));
    this.sendsEpoch = hashString(id) % 3 !== 0;
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

  private leaderGuess(split: string): string {
    return this.leaders.get(split) ?? this.rng.pick(this.nodes);
  }

  private nearest(): string {
    return this.nodes.find((n) => this.nodeDc(n) === this.dc) ?? this.rng.pick(this.nodes);
  }

  private other(than: string): string {
    const others = this.nodes.filter((n) => n !== than);
    return others.length > 0 ? this.rng.pick(others) : than;
  }

  /** Where to go next after an error from `node`: the hinted leader, or another replica. */
  private redirect(split: string, node: string, a: Answer): { node: string; delayUs: number } {
    const hint = !a.ok && 'error' in a ? a.error.hint?.leader : undefined;
    if (typeof hint === 'string' && this.nodes.includes(hint) && hint !== node) {
      this.leaders.set(split, hint);
      return { node: hint, delayUs: 0 };
    }
    this.leaders.delete(split);
    return { node: this.other(node), delayUs: this.rng.range(5_000, 30_000) };
  }

  // ------------------------------------------------------------------ operations

  private next(): void {
    if (this.stopped) return;
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

  private runRw(kind: 'transfer' | 'register' | 'append', opDone: () => void): void {
    let finished = false;
    const done = (): void => {
      if (finished) return;
      finished = true;
      opDone();
    };
    const hot = this.w.hot;
    const split = hot && this.rng.chance(hot.prob) ? hot.split : this.rng.pick(this.w.splits).id;
    let keys: string[];
    if (kind === 'transfer') {
      const accts = this.w.accounts[split]!;
      const a = this.rng.int(accts.length);
      const b = (a + 1 + this.rng.int(accts.length - 1)) % accts.length;
      keys = [accts[a]!, accts[b]!];
    } else if (kind === 'register') {
      const regs = this.w.registers[split]!;
      keys = this.rng.chance(0.3) && regs.length > 1 ? pickTwo(this.rng, regs) : [this.rng.pick(regs)];
    } else keys = [this.rng.pick(this.w.lists[split]!)];
    const base = `${this.id}:${++this.seq}`;
    const startTs = START_US + this.now;
    const deadline = this.now + this.t.txnDeadlineUs;
    const amount = this.rng.range(1, 20);
    let attempt = 0;

    const startAttempt = (): void => {
      attempt++;
      const id = `${base}.${attempt}`;
      const rec: RwRecord = { id, client: this.id, split, invokeUs: this.now, reads: [], writes: [], outcome: { state: 'abandoned' } };
      this.history.rw.push(rec);
      let epoch: string | undefined;
      let lockedAt: string | undefined;
      this.trace(`${this.id} rw ${id} ${kind} ${keys.join(',')}`);

      const retryTxn = (why: string): void => {
        this.stats.rwAborted++;
        this.trace(`${this.id} rw ${id} aborted: ${why}`);
        // Release what the attempt may hold (best effort).
        if (lockedAt) this.request(split, lockedAt, { kind: 'abort', txnId: id }, () => undefined);
        if (this.now + 20_000 < deadline && !this.stopped) this.sched.after(this.rng.range(1_000, 20_000), startAttempt);
        else done();
      };

      /** A locking read of every key (`round` 2: the re-read, whose values and epoch are not used). */
      const read = (node: string, round: 1 | 2): void => {
        if (this.now >= deadline) return retryTxn('deadline');
        const req: TxnRequest = { kind: 'read', txn: { id, startTs }, keys, waitUs: this.t.lockReadWaitUs };
        this.request(
          split,
          node,
          req,
          (a) => {
            if (a.ok && a.body.kind === 'values') {
              this.leaders.set(split, node);
              lockedAt = node;
              const values = keys.map((key) => ({ key, value: a.body.kind === 'values' ? a.body.values.find((v) => v.key === key)?.value : undefined }));
              if (round === 1) {
                epoch = a.body.epoch;
                rec.reads = values;
                if (this.rng.chance(this.t.rereadProb)) return this.sched.after(this.rng.int(this.t.computeMaxUs + 1), () => read(node, 2));
              } else if (a.body.epoch === epoch || !this.sendsEpoch) {
                // Same leadership (or a client that sends no epoch, so cannot tell): the re-read's
                // locks are the ones the commit is checked against, so its values are the ones to
                // use (the first read's locks may have lapsed since).
                rec.reads = values;
              } else this.trace(`${this.id} rw ${id} re-read in epoch ${a.body.epoch}, keeps its reads of epoch ${epoch}`);
              const writes = this.writesFor(kind, id, rec.reads, amount);
              return this.sched.after(this.rng.int(this.t.computeMaxUs + 1), () => commit(node, writes));
            }
            if (!a.ok && 'error' in a && a.error.code === 'TXN_ABORTED') return retryTxn(a.error.message);
            if (!a.ok && 'error' in a && !['NOT_LEADER', 'UNAVAILABLE', 'TIMEOUT'].includes(a.error.code)) throw new Error(`${id}: read answered ${a.error.code}: ${a.error.message}`);
            const r = this.redirect(split, node, a);
            this.sched.after(r.delayUs, () => read(r.node, round));
          },
          this.t.lockReadTimeoutUs,
        );
      };

      const commit = (node: string, writes: WriteOp[]): void => {
        rec.writes = writes;
        if (this.now >= deadline) return retryTxn('deadline');
        this.request(split, node, { kind: 'commit', txn: { id, startTs }, epoch: this.sendsEpoch ? epoch : undefined, readKeys: keys, writes, waitUs: this.t.serverWaitUs }, (a) => {
          if (a.ok && a.body.kind === 'committed') {
            rec.outcome = { state: 'committed', ts: a.body.ts, atUs: this.now, via: 'reply' };
            this.stats.rwCommitted++;
            this.seenTs.push(a.body.ts);
            this.trace(`${this.id} rw ${id} committed ts=${a.body.ts}`);
            return done();
          }
          if (!a.ok && 'error' in a && a.error.code === 'TXN_ABORTED') {
            rec.outcome = { state: 'aborted', atUs: this.now, via: 'reply', reason: a.error.message };
            lockedAt = undefined;
            return retryTxn(a.error.message);
          }
          if (!a.ok && 'error' in a && a.error.code === 'NOT_LEADER') {
            // Not proposed there: follow the hint (a new leader aborts it: its reads' locks are gone).
            const r = this.redirect(split, node, a);
            return this.sched.after(r.delayUs, () => commit(r.node, writes));
          }
          if (!a.ok && 'error' in a && !['UNAVAILABLE', 'TIMEOUT'].includes(a.error.code)) throw new Error(`${id}: commit answered ${a.error.code}: ${a.error.message}`);
          // TIMEOUT, UNAVAILABLE or no answer: the commit may be in the log. Ask until decided.
          const background = this.rng.chance(this.t.backgroundStatusProb);
          this.trace(`${this.id} rw ${id} outcome unknown (${'error' in a ? a.error.code : 'no answer'}): status lookups${background ? ' in the background' : ''}`);
          if (background) {
            this.backgroundLookups++;
            done();
          }
          lookup(node, this.now + this.t.statusDeadlineUs, background);
        });
      };

      /** Status lookups until decided or `until`; in the `background` the client has moved on (no retry). */
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
        this.request(split, node, { kind: 'status', txnId: id, waitUs: this.t.serverWaitUs }, (a) => {
          if (a.ok && a.body.kind === 'status' && a.body.state !== 'pending') {
            const committed = a.body.state === 'committed';
            this.history.status.push({ txn: id, state: a.body.state, ts: a.body.ts, atUs: this.now });
            this.trace(`${this.id} rw ${id} status ${a.body.state}${committed ? ` ts=${a.body.ts}` : ''}`);
            if (committed) {
              rec.outcome = { state: 'committed', ts: a.body.ts!, atUs: this.now, via: 'status' };
              this.stats.rwCommitted++;
              this.seenTs.push(a.body.ts!);
              return end();
            }
            rec.outcome = { state: 'aborted', atUs: this.now, via: 'status', reason: a.body.reason ?? 'aborted' };
            lockedAt = undefined;
            if (background) {
              this.stats.rwAborted++;
              return end();
            }
            return retryTxn(`status: ${a.body.reason ?? 'aborted'}`);
          }
          if (a.ok) return this.sched.after(this.rng.range(10_000, 50_000), () => lookup(node, until, background));
          const r = this.redirect(split, node, a);
          this.sched.after(Math.max(r.delayUs, 5_000), () => lookup(r.node, until, background));
        });
      };

      read(this.leaderGuess(split), 1);
    };
    startAttempt();
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
    const splitCount = kind === 'strong1' ? 1 : this.rng.range(1, this.w.splits.length);
    let splits = shuffle(this.rng, this.w.splits.map((s) => s.id)).slice(0, splitCount);
    const hot = this.w.hot;
    if (hot && this.rng.chance(hot.prob)) splits = [hot.split, ...splits.filter((s) => s !== hot.split)].slice(0, splitCount);
    const keysBy = new Map<string, string[]>();
    for (const s of splits) {
      const all = [...this.w.accounts[s]!, ...this.w.registers[s]!, ...this.w.lists[s]!];
      keysBy.set(s, this.rng.chance(0.5) ? [...this.w.accounts[s]!] : shuffle(this.rng, all).slice(0, this.rng.range(1, all.length)));
    }
    const id = `${this.id}:ro${++this.seq}`;
    const rec: RoRecord = { id, client: this.id, mode: roMode, invokeUs: this.now, ackUs: 0, ts: 0, reads: [] };
    const deadline = this.now + this.t.txnDeadlineUs;
    let ts: number | undefined;
    this.trace(`${this.id} ro ${id} ${JSON.stringify(mode)} ${splits.join(',')}`);

    const readSplit = (i: number, node: string): void => {
      if (i === splits.length) {
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
      const split = splits[i]!;
      const keys = keysBy.get(split)!;
      const m: ReadMode = ts === undefined ? mode : { ts };
      // As the client does: a read of one split is marked lease-eligible (only the old rule, oldLeaseRead, uses it).
      const req: TxnRequest = { kind: 'snapshot', keys, mode: m, waitUs: this.t.serverWaitUs, leaseRead: splits.length === 1 };
      this.request(split, node, req, (a) => {
        if (a.ok && a.body.kind === 'values') {
          const at = a.body.ts;
          if (at === undefined || (ts !== undefined && at !== ts)) throw new Error(`${id}: ${split} answered at ${at}, asked ${ts ?? JSON.stringify(mode)}`);
          ts = at;
          const values = a.body.values;
          for (const key of keys) rec.reads.push({ split, key, value: values.find((v) => v.key === key)?.value });
          const nextSplit = splits[i + 1];
          return readSplit(i + 1, nextSplit === undefined ? node : this.rng.chance(0.7) ? this.nearest() : this.rng.pick(this.nodes));
        }
        if (!a.ok && 'error' in a && a.error.code === 'SNAPSHOT_TOO_OLD') return done();
        if (!a.ok && 'error' in a && !['NOT_LEADER', 'UNAVAILABLE', 'TIMEOUT'].includes(a.error.code)) throw new Error(`${id}: snapshot answered ${a.error.code}: ${a.error.message}`);
        const r = this.redirect(split, node, a);
        this.sched.after(r.delayUs, () => readSplit(i, r.node));
      });
    };
    // A strong read starts at the leader (a lease read there) or at the nearest replica; the others nearest.
    const first = splits[0]!;
    readSplit(0, 'strong' in mode && this.rng.chance(0.6) ? this.leaderGuess(first) : this.nearest());
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
