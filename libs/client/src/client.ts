import { SynodError, type Envelope, type MessageBody, type MessageInput, type MessageKind } from '@synod/codec';
import { checkKey, checkTxn, type LimitViolation } from '@synod/limits';
import type { RangeMap, Split } from '@synod/placement';
import type { Bus } from '@synod/transport';

interface ClientOptions {
  /** Attempts per request across replicas and leader changes. */
  maxAttempts?: number;
  /** Per-request timeout. */
  timeoutMs?: number;
  /** Attempts of a whole transaction that keeps being aborted. */
  maxTxnAttempts?: number;
}

interface ReadOptions {
  /** Read at this timestamp (µs): a snapshot read. */
  ts?: number;
  /** Accept data up to this old (ms): a bounded-staleness read, served by a nearby replica. */
  maxStalenessMs?: number;
}

interface ReadResult {
  values: Map<string, unknown>;
  /** The timestamp the read ran at. */
  ts: number;
}

/**
 * The requests the client sends and the kind each is answered with (the spanserver's handlers).
 * `call` checks the reply's kind against it, so its return type is the reply's schema.
 */
const REPLY_KIND = {
  'kv.read': 'kv.values',
  'kv.snapshot': 'kv.values',
  'kv.commit': 'kv.committed',
  'kv.abort': 'kv.ok',
} as const satisfies Partial<Record<MessageKind, MessageKind>>;

/** A request the client sends. */
type RequestKind = keyof typeof REPLY_KIND;
/** The body of the reply to a `K` request. */
export type ReplyBody<K extends RequestKind> = MessageBody<(typeof REPLY_KIND)[K]>;

/** The transport validated `env.body` against the schema of `env.kind`; so a matching kind types the body. */
const isKind = <R extends MessageKind>(env: Envelope, kind: R): env is Envelope<R> => env.kind === kind;

/** Rows per scan request (the wire limit is 10,000). */
const PAGE = 1_000;
const RETRYABLE = new Set(['NOT_LEADER', 'UNAVAILABLE', 'TIMEOUT']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Throws a request over the documented maxima (docs/limits.md) as the SynodError the server
 * would answer with, before anything is sent: a value the client accepts always fits through
 * replication, and one it refuses never reaches the wire.
 */
function refuse(v: LimitViolation | null): void {
  if (v) throw new SynodError(v.code, v.message, v.hint);
}

/**
 * The synod TypeScript client: routes by the range map, caches leaders, follows NOT_LEADER hints,
 * retries with backoff, and runs read-write and read-only transactions.
 */
export class SynodClient {
  private readonly leaders = new Map<string, string>();
  private seq = 0;
  /** Transaction ids must not repeat even when a client with the same node id runs again. */
  private readonly idPrefix: string;
  private readonly maxAttempts: number;
  private readonly timeoutMs: number;
  private readonly maxTxnAttempts: number;

  constructor(
    readonly bus: Bus,
    readonly rangeMap: RangeMap,
    opts: ClientOptions = {},
  ) {
    this.idPrefix = `${bus.nodeId}-${Math.random().toString(36).slice(2, 10)}`;
    this.maxAttempts = opts.maxAttempts ?? 12;
    this.timeoutMs = opts.timeoutMs ?? 5_000;
    this.maxTxnAttempts = opts.maxTxnAttempts ?? 20;
  }

  /**
   * Runs `fn` as a read-write transaction, retrying it from scratch (with its original priority,
   * so it eventually wins wound-wait) when it is aborted. Today all keys of a transaction must be
   * in one split; multi-split commit (2PC) is not built yet.
   */
  async transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<{ result: T; ts: number; attempts: number; commitWaitUs: number }> {
    const base = `${this.idPrefix}:${++this.seq}`;
    const startTs = Math.round((performance.timeOrigin + performance.now()) * 1000);
    for (let attempt = 1; ; attempt++) {
      const tx = new Transaction(this, { id: `${base}.${attempt}`, startTs });
      try {
        const result = await fn(tx);
        const { ts, commitWaitUs } = await tx.commit();
        return { result, ts, attempts: attempt, commitWaitUs };
      } catch (err) {
        await tx.abandon();
        if (!(err instanceof SynodError) || err.code !== 'TXN_ABORTED' || attempt >= this.maxTxnAttempts) throw err;
        await sleep(Math.min(200, 2 ** attempt) * Math.random());
      }
    }
  }

  /** A lock-free read of `keys` at one timestamp, across splits; by default strong (current). */
  async read(keys: string[], opts: ReadOptions = {}): Promise<ReadResult> {
    refuse(checkTxn(keys, []));
    const bySplit = new Map<Split, string[]>();
    for (const k of keys) {
      const s = this.rangeMap.splitFor(k);
      bySplit.set(s, [...(bySplit.get(s) ?? []), k]);
    }
    const values = new Map<string, unknown>();
    let ts = opts.ts;
    const maxStalenessUs = opts.maxStalenessMs !== undefined ? Math.round(opts.maxStalenessMs * 1000) : undefined;
    // The first split picks the timestamp; the others read at it, so the result is one snapshot.
    // A strong read goes to the leader, which closes a fresh timestamp at once; snapshot and
    // bounded-staleness reads go to the nearest replica.
    for (const [split, ks] of bySplit) {
      const target = ts === undefined && maxStalenessUs === undefined ? 'leader' : 'nearest';
      // A lease read picks an older (safe) timestamp; only a one-split read may take it, since
      // other splits would then be read at a time that misses their acknowledged writes.
      const leaseRead = bySplit.size === 1;
      const body = { keys: ks, waitMs: this.serverWaitMs(), leaseRead, ...(ts !== undefined ? { ts } : maxStalenessUs !== undefined ? { maxStalenessUs } : {}) };
      const reply = await this.call(split, 'kv.snapshot', body, target);
      ts = reply.ts;
      for (const v of reply.values) if ('value' in v && v.value !== undefined) values.set(v.key, v.value);
    }
    return { values, ts: ts ?? 0 };
  }

  /** How long a replica may wait for t_safe: well inside the request timeout, so it can answer UNAVAILABLE and we retry elsewhere. */
  private serverWaitMs(): number {
    return Math.max(50, Math.min(2_000, Math.floor(this.timeoutMs / 2)));
  }

  async get(key: string, opts: ReadOptions = {}): Promise<unknown> {
    return (await this.read([key], opts)).values.get(key);
  }

  /** Keys in [start, end) with their values, at one timestamp, in key order ('' = open end). */
  async scan(start: string, end: string, opts: ReadOptions & { limit?: number } = {}): Promise<{ rows: Array<{ key: string; value: unknown }>; ts: number }> {
    refuse(checkKey(start) ?? checkKey(end));
    const rows: Array<{ key: string; value: unknown }> = [];
    let ts = opts.ts;
    const limit = opts.limit ?? 1000;
    const overlapping = this.rangeMap.all().filter((split) => !((end !== '' && split.start >= end) || (split.end !== '' && split.end <= start)));
    for (const split of overlapping) {
      // Page through the split; every page after the first reads at the first page's timestamp.
      let from = start;
      while (rows.length < limit) {
        const page = Math.min(PAGE, limit - rows.length);
        const body = { scan: { start: from, end, limit: page }, waitMs: this.serverWaitMs(), leaseRead: overlapping.length === 1, ...(ts !== undefined ? { ts } : {}) };
        const reply = await this.call(split, 'kv.snapshot', body, 'nearest');
        ts = reply.ts;
        for (const v of reply.values) rows.push({ key: v.key, value: v.value });
        if (reply.values.length < page) break;
        from = `${reply.values.at(-1)!.key}\u0000`;
      }
      if (rows.length >= limit) break;
    }
    return { rows, ts: ts ?? 0 };
  }

  async put(key: string, value: unknown): Promise<number> {
    return (await this.transaction(async (tx) => tx.put(key, value))).ts;
  }

  async delete(key: string): Promise<number> {
    return (await this.transaction(async (tx) => tx.delete(key))).ts;
  }

  /**
   * Sends one request about `split`: to its leader ('leader') or to a replica in this client's
   * DC when there is one ('nearest'), following hints and retrying other replicas.
   */
  async call<K extends RequestKind>(split: Split, kind: K, body: MessageInput<K>, target: 'leader' | 'nearest'): Promise<ReplyBody<K>> {
    let lastErr: unknown;
    const tried = new Set<string>();
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const node = this.pick(split, target, tried);
      try {
        const reply = await this.bus.request(node, kind, body, { group: split.id, timeoutMs: this.timeoutMs });
        if (!isKind(reply, REPLY_KIND[kind])) throw new SynodError('INTERNAL', `${node} answered ${kind} with ${reply.kind}`);
        if (target === 'leader') this.leaders.set(split.id, node);
        return reply.body;
      } catch (err) {
        lastErr = err;
        if (!(err instanceof SynodError) || !RETRYABLE.has(err.code)) throw err;
        tried.add(node);
        const hint = err.hint?.leader;
        if (target === 'leader' && typeof hint === 'string' && split.replicas.includes(hint)) {
          this.leaders.set(split.id, hint);
          tried.delete(hint);
        } else {
          this.leaders.delete(split.id);
          await sleep(Math.min(500, 20 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random()));
        }
        // A partial answer must not be retried elsewhere for a commit: its outcome is unknown.
        if (kind === 'kv.commit' && err.code === 'TIMEOUT') throw err;
      }
    }
    throw lastErr instanceof Error ? lastErr : new SynodError('UNAVAILABLE', `no replica of ${split.id} answered`);
  }

  private pick(split: Split, target: 'leader' | 'nearest', tried: Set<string>): string {
    const untried = split.replicas.filter((r) => !tried.has(r));
    const pool = untried.length > 0 ? untried : split.replicas;
    if (target === 'leader') {
      const cached = this.leaders.get(split.id);
      if (cached && pool.includes(cached)) return cached;
      return pool[Math.floor(Math.random() * pool.length)]!;
    }
    const local = pool.find((r) => this.rangeMap.dc(r) === this.bus.dc);
    return local ?? pool[Math.floor(Math.random() * pool.length)]!;
  }
}

/** One attempt of a read-write transaction. Writes are buffered here until commit. */
class Transaction {
  private split: Split | undefined;
  private epoch: string | undefined;
  private readonly writes = new Map<string, { value?: unknown; deleted?: boolean }>();
  private readonly reads = new Map<string, unknown>();
  private started = false;

  constructor(
    private readonly client: SynodClient,
    readonly ref: { id: string; startTs: number },
  ) {}

  async get(key: string): Promise<unknown> {
    const w = this.writes.get(key);
    if (w) return w.deleted ? undefined : w.value;
    if (this.reads.has(key)) return this.reads.get(key);
    refuse(checkKey(key));
    const split = this.splitOf(key);
    this.started = true;
    const reply = await this.client.call(split, 'kv.read', { txn: this.ref, keys: [key] }, 'leader');
    if (this.epoch !== undefined && reply.epoch !== this.epoch) throw new SynodError('TXN_ABORTED', 'the split changed leaders during the transaction');
    this.epoch = reply.epoch;
    const value = reply.values[0]?.value;
    this.reads.set(key, value);
    return value;
  }

  /** Refuses at once a key or value over its maximum (KEY_TOO_LARGE, VALUE_TOO_LARGE); the whole transaction is checked again at commit. */
  put(key: string, value: unknown): void {
    refuse(checkTxn([], [{ key, value }]));
    this.splitOf(key);
    this.writes.set(key, { value });
  }

  delete(key: string): void {
    refuse(checkKey(key));
    this.splitOf(key);
    this.writes.set(key, { deleted: true });
  }

  /** @internal Commits at the split leader; returns the commit timestamp and how long commit wait outlasted replication. */
  async commit(): Promise<{ ts: number; commitWaitUs: number }> {
    if (!this.split) return { ts: 0, commitWaitUs: 0 };
    const writes = [...this.writes].map(([key, w]) => ({ key, ...w }));
    // Nothing over the maxima is sent: not the commit, nor (via put/get) any read before it.
    refuse(checkTxn([...this.reads.keys()], writes));
    const body = { txn: this.ref, readKeys: [...this.reads.keys()], writes, ...(this.epoch !== undefined ? { epoch: this.epoch } : {}) };
    const reply = await this.client.call(this.split, 'kv.commit', body, 'leader');
    this.started = false;
    return reply;
  }

  /** @internal Releases locks after a failed attempt (best effort). */
  async abandon(): Promise<void> {
    if (!this.started || !this.split) return;
    await this.client.call(this.split, 'kv.abort', { txnId: this.ref.id }, 'leader').catch(() => undefined);
  }

  private splitOf(key: string): Split {
    const s = this.client.rangeMap.splitFor(key);
    if (this.split && s.id !== this.split.id)
      throw new SynodError('INVALID_ARGUMENT', `transaction touches splits ${this.split.id} and ${s.id}: multi-split transactions (2PC) are not built yet`);
    this.split = s;
    return s;
  }
}
