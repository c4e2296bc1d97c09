import type { ReadMode, TxnError, TxnReplyBody, TxnRequest, WriteOp } from '@synod/txn';
import type { RoRecord, RwRecord, SpanHistory } from './history.js';
import type { SpanNet, SpanPayload } from './net.js';
import type { Scheduler } from '../scheduler.js';
import { START_US } from './time.js';

type Answer = { ok: true; body: TxnReplyBody } | { ok: false; error: TxnError } | { ok: false; timeout: true };

/**
 * A client that tests drive step by step (regression scenarios): each call is one operation at
 * the replicas it names, recorded in the history like the random clients' (so the same checkers
 * judge it). UNAVAILABLE is retried at the same replica a few times; anything else ends the
 * operation (a timed-out commit is then 'unknown').
 */
export class ScriptedClient {
  private creq = 0;
  private seq = 0;
  private readonly pending = new Map<number, (a: Answer) => void>();

  constructor(
    readonly id: string,
    readonly dc: string,
    private readonly sched: Scheduler,
    private readonly net: SpanNet,
    private readonly history: SpanHistory,
    private readonly timeoutUs = 1_000_000,
    private readonly waitUs = 800_000,
  ) {
    net.register(id, dc, (_from, p) => this.receive(p));
  }

  private receive(p: SpanPayload): void {
    if (p.kind !== 'txnReply') return;
    const cb = this.pending.get(p.creq);
    if (!cb) return;
    this.pending.delete(p.creq);
    cb(p.error ? { ok: false, error: p.error } : { ok: true, body: p.body! });
  }

  /** `copies` 2: the network duplicates the request (both copies carry one request id; the first answer counts). */
  private request(split: string, node: string, req: TxnRequest, cb: (a: Answer) => void, retries = 5, copies = 1): void {
    const creq = ++this.creq;
    this.pending.set(creq, (a) => {
      if (!a.ok && 'error' in a && a.error.code === 'UNAVAILABLE' && retries > 0) this.sched.after(10_000, () => this.request(split, node, req, cb, retries - 1));
      else cb(a);
    });
    for (let i = 0; i < copies; i++) this.net.send(this.id, node, { kind: 'txnReq', split, creq, req });
    this.sched.after(this.timeoutUs, () => {
      const w = this.pending.get(creq);
      if (!w) return;
      this.pending.delete(creq);
      w({ ok: false, timeout: true });
    });
  }

  /**
   * One read-write attempt at `node`: locking read of `keys` (none: a blind write), then commit of
   * `writes(reads)`. With `rereadAfterUs`, the keys are read again (same transaction) that long
   * after the first read, and the commit still uses the first read's values and epoch.
   */
  rw(split: string, node: string, keys: string[], writes: (reads: Map<string, unknown>) => WriteOp[], done: (r: RwRecord) => void = () => undefined, opts: { rereadAfterUs?: number; startTs?: number } = {}): RwRecord {
    const id = `${this.id}:${++this.seq}`;
    const txn = { id, startTs: opts.startTs ?? START_US + this.sched.nowUs };
    const rec: RwRecord = { id, client: this.id, split, invokeUs: this.sched.nowUs, reads: [], writes: [], outcome: { state: 'abandoned' } };
    this.history.rw.push(rec);
    const commit = (epoch: string | undefined, reads: Map<string, unknown>): void => {
      rec.writes = writes(reads);
      this.request(split, node, { kind: 'commit', txn, epoch, readKeys: keys, writes: rec.writes, waitUs: this.waitUs }, (c) => {
        if (c.ok && c.body.kind === 'committed') rec.outcome = { state: 'committed', ts: c.body.ts, atUs: this.sched.nowUs, via: 'reply' };
        else if (!c.ok && 'error' in c && c.error.code === 'TXN_ABORTED') rec.outcome = { state: 'aborted', atUs: this.sched.nowUs, via: 'reply', reason: c.error.message };
        else rec.outcome = { state: 'unknown' };
        done(rec);
      });
    };
    // No keys to read: a blind write, committed at once.
    if (keys.length === 0) {
      commit(undefined, new Map());
      return rec;
    }
    this.request(split, node, { kind: 'read', txn, keys, waitUs: this.waitUs }, (a) => {
      if (!(a.ok && a.body.kind === 'values')) return done(rec);
      const values = a.body.values;
      const reads = new Map(keys.map((k) => [k, values.find((v) => v.key === k)?.value]));
      rec.reads = keys.map((key) => ({ key, value: reads.get(key) }));
      const epoch = a.body.epoch;
      if (opts.rereadAfterUs === undefined) return commit(epoch, reads);
      this.sched.after(opts.rereadAfterUs, () =>
        this.request(split, node, { kind: 'read', txn, keys, waitUs: this.waitUs }, (again) => {
          if (!(again.ok && again.body.kind === 'values')) return done(rec);
          commit(epoch, reads);
        }),
      );
    });
    return rec;
  }

  /**
   * One cross-split read-write attempt, as the real client runs it: locking reads of each part's
   * keys at the replica named (in order), then, at once, `prepare` (coordinator: the first part's
   * split) to every other part and `commit` with `participants` to the first part. The outcome is
   * the coordinator's. `prepareDelayUs` holds the prepares back (a slow network to the participants),
   * `commitAfterUs` the commit after the reads (a client thinking); `startTs` sets its priority;
   * `duplicateCommit` delivers the commit twice (a duplicating network).
   */
  rwx(
    parts: Array<{ split: string; node: string; keys: string[] }>,
    writes: (reads: Map<string, unknown>) => WriteOp[],
    done: (r: RwRecord) => void = () => undefined,
    opts: { prepareDelayUs?: number; startTs?: number; commitAfterUs?: number; duplicateCommit?: boolean } = {},
  ): RwRecord {
    const id = `${this.id}:${++this.seq}`;
    const txn = { id, startTs: opts.startTs ?? START_US + this.sched.nowUs };
    const [coord, ...others] = parts;
    if (!coord) throw new Error('rwx needs at least one part');
    const rec: RwRecord = { id, client: this.id, split: coord.split, invokeUs: this.sched.nowUs, reads: [], writes: [], outcome: { state: 'abandoned' } };
    if (others.length > 0) rec.participants = others.map((p) => p.split);
    this.history.rw.push(rec);
    const reads = new Map<string, unknown>();
    const epochs: Array<string | undefined> = [];
    const read = (i: number): void => {
      const p = parts[i];
      if (!p) return opts.commitAfterUs ? void this.sched.after(opts.commitAfterUs, commit) : commit();
      this.request(p.split, p.node, { kind: 'read', txn, keys: p.keys, waitUs: this.waitUs }, (a) => {
        if (!(a.ok && a.body.kind === 'values')) return done(rec);
        for (const key of p.keys) reads.set(key, a.body.values.find((v) => v.key === key)?.value);
        epochs[i] = a.body.epoch;
        read(i + 1);
      });
    };
    const commit = (): void => {
      rec.reads = [...reads].map(([key, value]) => ({ key, value }));
      rec.writes = writes(reads);
      const of = (p: { keys: string[] }) => rec.writes.filter((w) => p.keys.includes(w.key));
      const prepare = (): void => {
        others.forEach((p, j) =>
          this.request(p.split, p.node, { kind: 'prepare', txn, coordinator: coord.split, epoch: epochs[j + 1], readKeys: p.keys, writes: of(p), waitUs: this.waitUs }, () => undefined),
        );
      };
      if (opts.prepareDelayUs) this.sched.after(opts.prepareDelayUs, prepare);
      else prepare();
      const participants = others.length > 0 ? others.map((p) => p.split) : undefined;
      this.request(coord.split, coord.node, { kind: 'commit', txn, epoch: epochs[0], readKeys: coord.keys, writes: of(coord), waitUs: this.waitUs, participants }, (c) => {
        if (c.ok && c.body.kind === 'committed') rec.outcome = { state: 'committed', ts: c.body.ts, atUs: this.sched.nowUs, via: 'reply' };
        else if (!c.ok && 'error' in c && c.error.code === 'TXN_ABORTED') rec.outcome = { state: 'aborted', atUs: this.sched.nowUs, via: 'reply', reason: c.error.message };
        else rec.outcome = { state: 'unknown' };
        done(rec);
      }, 5, opts.duplicateCommit ? 2 : 1);
    };
    read(0);
    return rec;
  }

  /**
   * One lock-free read over `parts` at one timestamp: the first part is read with `mode`, the
   * others at the timestamp its reply gives. `done` gets the record, or undefined if a part failed.
   */
  ro(parts: Array<{ split: string; node: string; keys: string[] }>, mode: ReadMode, done: (r: RoRecord | undefined) => void = () => undefined): void {
    const id = `${this.id}:ro${++this.seq}`;
    const roMode = 'strong' in mode ? 'strong' : 'ts' in mode ? 'snapshot' : 'stale';
    const rec: RoRecord = { id, client: this.id, mode: roMode, invokeUs: this.sched.nowUs, ackUs: 0, ts: 0, reads: [] };
    let ts: number | undefined;
    const step = (i: number): void => {
      if (i === parts.length) {
        rec.ackUs = this.sched.nowUs;
        rec.ts = ts!;
        this.history.ro.push(rec);
        return done(rec);
      }
      const p = parts[i]!;
      const soleSplit = parts.length === 1;
      const req: TxnRequest = { kind: 'snapshot', keys: p.keys, mode: ts === undefined ? mode : { ts }, waitUs: this.waitUs, leaseRead: parts.length === 1, soleSplit };
      this.request(p.split, p.node, req, (a) => {
        if (!(a.ok && a.body.kind === 'values') || a.body.ts === undefined) return done(undefined);
        if (ts === undefined && soleSplit && 'strong' in mode) rec.soleSplit = true;
        ts = a.body.ts;
        const values = a.body.values;
        for (const key of p.keys) rec.reads.push({ split: p.split, key, value: values.find((v) => v.key === key)?.value });
        step(i + 1);
      });
    };
    step(0);
  }
}
