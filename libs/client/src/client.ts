import { SynodError, type Envelope, type MessageBody, type MessageInput, type MessageKind } from '@synod/codec';
import { checkKey, checkTxn, type LimitViolation } from '@synod/limits';
import { RangeMap, type Split } from '@synod/placement';
import { subjects, type Bus } from '@synod/transport';

interface ClientOptions {
  /** Attempts per request across replicas and leader changes. */
  maxAttempts?: number;
  /** Per-request timeout. */
  timeoutMs?: number;
  /** Attempts of a whole transaction that keeps being aborted. */
  maxTxnAttempts?: number;
  /**
   * Resends of a commit, with the same transaction id, after a send that got no answer (TIMEOUT,
   * UNAVAILABLE): commits are idempotent per id at the server. Default 2 (3 sends in all).
   */
  commitResends?: number;
  /**
   * How long (ms) the client keeps asking the split's leader (`kv.txn-status`) for the outcome of a
   * commit that never got an answer, before it reports the outcome unknown. Default 30,000.
   */
  outcomeLookupMs?: number;
  /**
   * Range map refreshes (`placement.get`) one operation may make after being told its routing is
   * stale (KEY_OUT_OF_RANGE) before the error surfaces. Default 3.
   */
  maxMapRefreshes?: number;
  /**
   * How long one stale-routing answer may wait for the placement service's map to reach the
   * generation the server named (default 3,000 ms), refreshing with a backoff of 25 to 400 ms.
   */
  mapCatchUpMs?: number;
  /** How long one `placement.get` may take (ms); default min(2,000, timeoutMs). */
  mapRefreshTimeoutMs?: number;
}

/** What one `refreshMap` did. */
export interface MapRefresh {
  /** The generation of the map the client routes by after the refresh. */
  generation: number;
  /** A newer map was swapped in. */
  changed: boolean;
  /** Why no map came back (TIMEOUT, UNAVAILABLE: no placement service; INTERNAL: an unusable map). The cached map stays. */
  failed?: string;
}

/** How the outcome of a transaction's commit was learned. */
export type ResolvedBy =
  /** the first commit request was answered */
  | 'reply'
  /** a resend of the commit with the same transaction id was answered, after a send that was not */
  | 'retry'
  /** no commit request was answered; a `kv.txn-status` lookup at the split's leader said committed */
  | 'status';

export interface TransactionResult<T> {
  result: T;
  /** The commit timestamp (µs); 0 for a transaction that touched nothing. */
  ts: number;
  /** Attempts of the whole transaction (each with its own id); more than 1 after aborts. */
  attempts: number;
  /** How long commit wait outlasted replication (µs); 0 when the outcome came from a status lookup. */
  commitWaitUs: number;
  /** The id of the attempt that committed: what `txnStatus` and `synod txn status` look up. */
  txnId: string;
  resolvedBy: ResolvedBy;
}

/** The outcome of one transaction at its split's leader (`kv.txn-status.reply`). */
export type TxnStatus = MessageBody<'kv.txn-status.reply'>;

/** @internal Per-call tweaks of `call`'s retry loop. */
interface CallOptions {
  /** Give up once Date.now() passes this (ms); each request's timeout is cut to fit. */
  deadline?: number;
  /** Per-request timeout (ms) instead of the client's. */
  timeoutMs?: number;
  /** Sees every retryable failure before the retry; throwing from it ends the call with that error. */
  onRetryable?: (err: SynodError, node: string) => void;
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
  'kv.prepare': 'kv.prepared',
  'kv.abort': 'kv.ok',
  'kv.txn-status': 'kv.txn-status.reply',
} as const satisfies Partial<Record<MessageKind, MessageKind>>;

/** A request the client sends. */
type RequestKind = keyof typeof REPLY_KIND;
/** The body of the reply to a `K` request. */
export type ReplyBody<K extends RequestKind> = MessageBody<(typeof REPLY_KIND)[K]>;

/** The transport validated `env.body` against the schema of `env.kind`; so a matching kind types the body. */
const isKind = <R extends MessageKind>(env: Envelope, kind: R): env is Envelope<R> => env.kind === kind;

const NO_READ_OPTIONS: ReadOptions = Object.freeze({});
/** The default of `call`'s options, shared rather than a new object per call. */
const NO_CALL_OPTIONS: CallOptions = Object.freeze({});
/** Rows per scan request (the wire limit is 10,000). */
const PAGE = 1_000;
const RETRYABLE = new Set(['NOT_LEADER', 'UNAVAILABLE', 'TIMEOUT']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Failures after which a commit may or may not have been applied: no answer, or none we can trust. */
const UNANSWERED = new Set(['UNAVAILABLE', 'TIMEOUT']);
const MAX_TXN_ID = 128;
/** Server-side wait caps (ms), the wire defaults: reads and status lookups 2 s, commits 10 s. */
const READ_WAIT_MS = 2_000;
const COMMIT_WAIT_MS = 10_000;
/**
 * The error that says the request was routed by an older range map (docs/client.md): the key is
 * outside the split the server has, or the node no longer hosts that split.
 */
const isStaleRouting = (err: unknown): err is SynodError => err instanceof SynodError && err.code === 'KEY_OUT_OF_RANGE';
/** The map generation a KEY_OUT_OF_RANGE hint names, if any. */
const hintedGeneration = (err: SynodError): number => (typeof err.hint?.generation === 'number' ? err.hint.generation : 0);
const describeErr = (err: unknown) => (err instanceof SynodError ? `${err.code}: ${err.message}` : String(err)).slice(0, 500);

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
  /** The cached range map; replaced only by a newer generation (refreshMap). */
  private map: RangeMap;
  /** The refresh in flight, shared by every operation that needs one meanwhile. */
  private refreshing: Promise<MapRefresh> | undefined;
  private readonly maxMapRefreshes: number;
  private readonly mapCatchUpMs: number;
  private readonly mapRefreshTimeoutMs: number;
  private readonly leaders = new Map<string, string>();
  private seq = 0;
  /** Transaction ids must not repeat even when a client with the same node id runs again. */
  private readonly idPrefix: string;
  private readonly maxAttempts: number;
  private readonly timeoutMs: number;
  private readonly maxTxnAttempts: number;
  /** @internal */
  readonly commitResends: number;
  private readonly outcomeLookupMs: number;

  constructor(
    readonly bus: Bus,
    rangeMap: RangeMap,
    opts: ClientOptions = {},
  ) {
    this.map = rangeMap;
    this.maxMapRefreshes = opts.maxMapRefreshes ?? 3;
    this.mapCatchUpMs = opts.mapCatchUpMs ?? 3_000;
    this.mapRefreshTimeoutMs = opts.mapRefreshTimeoutMs ?? Math.min(2_000, opts.timeoutMs ?? 5_000);
    this.idPrefix = `${bus.nodeId}-${Math.random().toString(36).slice(2, 10)}`;
    this.maxAttempts = opts.maxAttempts ?? 12;
    this.timeoutMs = opts.timeoutMs ?? 5_000;
    this.maxTxnAttempts = opts.maxTxnAttempts ?? 20;
    this.commitResends = opts.commitResends ?? 2;
    this.outcomeLookupMs = opts.outcomeLookupMs ?? 30_000;
  }

  /** The range map the client routes by now (a cache of the placement service's, docs/client.md). */
  get rangeMap(): RangeMap {
    return this.map;
  }

  /**
   * Asks the placement service (`placement.get` on `<cluster>.placement`, any replica answers) for
   * its range map and routes by it from now on if its generation is newer than the cached one's;
   * an older or equal one is ignored, so a lagging replica never takes the client back. A failed
   * refresh (no placement service: TIMEOUT or UNAVAILABLE; a map that breaks the range map's
   * rules: INTERNAL) keeps the cached map and says why in `failed`. Concurrent calls share one
   * request.
   */
  refreshMap(minGeneration = 0): Promise<MapRefresh> {
    this.refreshing ??= this.fetchMap(minGeneration).finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /**
   * After a stale-routing answer: refreshes the map until it reaches `generation` (the split's
   * generation the server named), for up to `mapCatchUpMs`. A split applies its cut before the
   * placement service logs the new map (docs/placement.md, "Op steps"), so for a moment the
   * service may still answer the older map; retrying on it would fail the same way.
   */
  private async catchUpMap(generation: number): Promise<void> {
    const deadline = performance.now() + this.mapCatchUpMs;
    for (let wait = 25; ; wait = Math.min(wait * 2, 400)) {
      const r = await this.refreshMap(Math.max(generation, this.map.generation));
      // UNAVAILABLE: the replica that answered first has not applied that generation yet (any
      // placement replica answers); only no service at all (or no answer in time) ends the wait.
      if (r.failed === 'TIMEOUT' || r.failed === 'NO_SERVICE' || this.map.generation >= generation || performance.now() + wait > deadline) return;
      await sleep(wait);
    }
  }

  private async fetchMap(minGeneration: number): Promise<MapRefresh> {
    const before = this.map.generation;
    const fail = (code: string): MapRefresh => {
      this.bus.metrics.inc('synod_client_map_refresh_failed_total', { code });
      return { generation: this.map.generation, changed: false, failed: code };
    };
    let reply: Envelope;
    const subject = subjects(this.bus.cluster).placement;
    try {
      reply = await this.bus.requestSubject(subject, 'placement.get', { minGeneration }, { timeoutMs: this.mapRefreshTimeoutMs });
    } catch (err) {
      // Nobody serves the subject (NATS "no responders"): there is no placement service at all.
      if (err instanceof SynodError && err.code === 'UNAVAILABLE' && err.hint?.node === subject) return fail('NO_SERVICE');
      return fail(err instanceof SynodError ? err.code : 'INTERNAL');
    }
    if (!isKind(reply, 'placement.map')) return fail('INTERNAL');
    const parsed = RangeMap.safeParse(reply.body.map);
    if (!parsed.ok) return fail('INTERNAL');
    if (parsed.map.generation <= this.map.generation) return { generation: this.map.generation, changed: false };
    this.map = parsed.map;
    this.bus.metrics.inc('synod_client_map_refreshed_total', {});
    return { generation: this.map.generation, changed: this.map.generation > before };
  }

  /**
   * Runs `op` (which plans its requests from the current map) and, when a request turns out to
   * be routed by an older map (KEY_OUT_OF_RANGE), refreshes the map and runs it again, at most
   * `maxMapRefreshes` times; then the error surfaces. `op` must be safe to run again: reads are.
   */
  private async routed<T>(op: () => Promise<T>): Promise<T> {
    for (let refreshes = 0; ; refreshes++) {
      try {
        return await op();
      } catch (err) {
        if (!isStaleRouting(err) || refreshes >= this.maxMapRefreshes) throw err;
        await this.catchUpMap(hintedGeneration(err));
      }
    }
  }

  /**
   * Runs `fn` as a read-write transaction, retrying it from scratch (with its original priority,
   * so it eventually wins wound-wait) when it is aborted. Today all keys of a transaction must be
   * in one split; multi-split commit (2PC) is not built yet.
   *
   * A commit that gets no answer (TIMEOUT, UNAVAILABLE) is resent with the same transaction id
   * (the server answers a repeated id with its recorded outcome or joins the commit in flight);
   * if the resends get no answer either, the outcome is looked up with `kv.txn-status` at the
   * split's leader for up to `outcomeLookupMs`: committed returns as usual (`resolvedBy:
   * 'status'`), aborted retries the transaction, and undecided throws TIMEOUT whose message says
   * the outcome is unknown, with hint `{ txn, split }` for a later `txnStatus`.
   */
  async transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<TransactionResult<T>> {
    const base = `${this.idPrefix}:${++this.seq}`;
    const startTs = Math.round((performance.timeOrigin + performance.now()) * 1000);
    let routingRefreshes = 0;
    for (let attempt = 1; ; attempt++) {
      const tx = new Transaction(this, { id: `${base}.${attempt}`, startTs });
      try {
        const result = await fn(tx);
        const { ts, commitWaitUs, resolvedBy } = await tx.commit();
        return { result, ts, attempts: attempt, commitWaitUs, txnId: tx.ref.id, resolvedBy };
      } catch (err) {
        await tx.abandon();
        // A stale map (docs/client.md): the attempt is dropped and the whole transaction runs
        // again from the refreshed map rather than re-routing the live attempt, because its reads
        // hold locks under one leadership per split (the epochs) and the commit names its
        // participant set; a cut or a move can change both. Writes are buffered here until
        // commit, so a dropped attempt has left nothing but locks, which abandon() released. A
        // prepare refused that way shows up as TXN_ABORTED at the coordinator: refresh then too.
        const stale = isStaleRouting(err) ? err : tx.staleRouting;
        if (stale && routingRefreshes < this.maxMapRefreshes) {
          routingRefreshes++;
          await this.catchUpMap(hintedGeneration(stale));
          if (attempt < this.maxTxnAttempts) continue;
        }
        if (!(err instanceof SynodError) || err.code !== 'TXN_ABORTED' || attempt >= this.maxTxnAttempts) throw err;
        await sleep(Math.min(200, 2 ** attempt) * Math.random());
      }
    }
  }

  /** A lock-free read of `keys` at one timestamp, across splits; by default strong (current). */
  async read(keys: string[], opts: ReadOptions = {}): Promise<ReadResult> {
    refuse(checkTxn(keys, []));
    // Redone whole after a refresh: the result must be one snapshot under one routing.
    return this.routed(() => this.readOnce(keys, opts));
  }

  private async readOnce(keys: string[], opts: ReadOptions): Promise<ReadResult> {
    const bySplit = new Map<Split, string[]>();
    for (const k of keys) {
      const s = this.map.splitFor(k);
      const ks = bySplit.get(s);
      if (ks) ks.push(k);
      else bySplit.set(s, [k]);
    }
    const values = new Map<string, unknown>();
    let ts = opts.ts;
    const maxStalenessUs = opts.maxStalenessMs !== undefined ? Math.round(opts.maxStalenessMs * 1000) : undefined;
    // The first split picks the timestamp; the others read at it, so the result is one snapshot.
    // A strong read goes to the leader, which closes a fresh timestamp at once; snapshot and
    // bounded-staleness reads go to the nearest replica.
    for (const [split, ks] of bySplit) {
      const strong = ts === undefined && maxStalenessUs === undefined;
      const target = strong ? 'leader' : 'nearest';
      // No leaseRead: the server decides when a strong read may be served under its lease.
      // soleSplit: a strong read of one split may run at its leader's last commit, with no
      // wait when the split is idle; never when other splits are read at the timestamp it picks
      // (docs/transactions.md, rule 9a).
      const body = {
        keys: ks,
        waitMs: this.serverWaitMs(READ_WAIT_MS),
        ...(ts !== undefined ? { ts } : maxStalenessUs !== undefined ? { maxStalenessUs } : {}),
        ...(strong && bySplit.size === 1 ? { soleSplit: true } : {}),
      };
      const reply = await this.call(split, 'kv.snapshot', body, target);
      ts = reply.ts;
      for (const v of reply.values) if ('value' in v && v.value !== undefined) values.set(v.key, v.value);
    }
    return { values, ts: ts ?? 0 };
  }

  /**
   * @internal How long a server may park a request (for t_safe, locks, an outcome): at most `capMs`
   * and well inside the request timeout, so it answers (UNAVAILABLE, TIMEOUT) before the transport
   * gives up and we retry.
   */
  serverWaitMs(capMs: number): number {
    return Math.max(50, Math.min(capMs, Math.floor(this.timeoutMs / 2)));
  }

  /**
   * One key: `read([key], opts)`'s value, by the same request (one split, so a strong read is
   * marked soleSplit), without the per-split grouping and result map a read of many keys needs.
   */
  async get(key: string, opts: ReadOptions = NO_READ_OPTIONS): Promise<unknown> {
    refuse(checkKey(key));
    return this.routed(() => this.getOnce(key, opts));
  }

  private async getOnce(key: string, opts: ReadOptions): Promise<unknown> {
    const split = this.map.splitFor(key);
    const waitMs = this.serverWaitMs(READ_WAIT_MS);
    const keys = [key];
    let reply: ReplyBody<'kv.snapshot'>;
    if (opts.ts !== undefined) reply = await this.call(split, 'kv.snapshot', { keys, waitMs, ts: opts.ts }, 'nearest');
    else if (opts.maxStalenessMs !== undefined) reply = await this.call(split, 'kv.snapshot', { keys, waitMs, maxStalenessUs: Math.round(opts.maxStalenessMs * 1000) }, 'nearest');
    else reply = await this.call(split, 'kv.snapshot', { keys, waitMs, soleSplit: true }, 'leader');
    for (const v of reply.values) if (v.key === key && v.value !== undefined) return v.value;
    return undefined;
  }

  /**
   * Keys in [start, end) with their values, at one timestamp, in key order ('' = open end).
   *
   * Walks a cursor through the range: each page asks the split that holds the cursor for
   * [cursor, min(end, split end)), so no request reaches past its split. After KEY_OUT_OF_RANGE
   * (the split was cut or moved since the map was cached) the map is refreshed and the rest of
   * the range, from the cursor on, is planned again from the new map: the rows already returned
   * are below the cursor and nothing at or above it was skipped, so none is lost or repeated.
   * At most `maxMapRefreshes` refreshes in a row without a page in between.
   */
  async scan(start: string, end: string, opts: ReadOptions & { limit?: number } = {}): Promise<{ rows: Array<{ key: string; value: unknown }>; ts: number }> {
    refuse(checkKey(start) ?? checkKey(end));
    const rows: Array<{ key: string; value: unknown }> = [];
    let ts = opts.ts;
    const limit = opts.limit ?? 1000;
    let from = start;
    let refreshes = 0;
    while (rows.length < limit && (end === '' || from < end)) {
      const split = this.map.splitFor(from);
      const pageEnd = split.end === '' ? end : end === '' || split.end < end ? split.end : end;
      const page = Math.min(PAGE, limit - rows.length);
      // Every page after the first reads at the first page's timestamp.
      const body = { scan: { start: from, end: pageEnd, limit: page }, waitMs: this.serverWaitMs(READ_WAIT_MS), ...(ts !== undefined ? { ts } : {}) };
      let reply: ReplyBody<'kv.snapshot'>;
      try {
        reply = await this.call(split, 'kv.snapshot', body, 'nearest');
      } catch (err) {
        if (!isStaleRouting(err) || refreshes >= this.maxMapRefreshes) throw err;
        refreshes++;
        await this.catchUpMap(hintedGeneration(err));
        continue;
      }
      refreshes = 0;
      ts = reply.ts;
      for (const v of reply.values) rows.push({ key: v.key, value: v.value });
      if (reply.values.length === page) from = `${reply.values.at(-1)!.key}\u0000`;
      else if (pageEnd === end) break;
      else from = pageEnd;
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
   * The outcome of transaction `txnId` at the leader of its split (`splitOrKey`: the split, or a
   * key in it): committed at `ts`, aborted (with a `reason` when the server gives one), or pending
   * (not decided within `waitMs`, default 2 s capped by half the request timeout). One lookup,
   * with the usual leader-following retries. An id the leader does not know is decided aborted
   * there (through its log), so after an `aborted` answer that transaction can never commit.
   */
  async txnStatus(splitOrKey: Split | string, txnId: string, opts: { waitMs?: number } = {}): Promise<TxnStatus> {
    if (txnId.length < 1 || txnId.length > MAX_TXN_ID) throw new SynodError('INVALID_ARGUMENT', `a transaction id is 1 to ${MAX_TXN_ID} characters (got ${txnId.length})`);
    const waitMs = opts.waitMs ?? this.serverWaitMs(READ_WAIT_MS);
    if (!Number.isInteger(waitMs) || waitMs < 0 || waitMs > 60_000) throw new SynodError('INVALID_ARGUMENT', `waitMs is a whole number of ms from 0 to 60000 (got ${waitMs})`);
    if (typeof splitOrKey === 'string') refuse(checkKey(splitOrKey));
    // The server may park the lookup for waitMs: give the answer time to come back.
    const ask = (split: Split) => this.call(split, 'kv.txn-status', { txnId, waitMs }, 'leader', { timeoutMs: Math.max(this.timeoutMs, waitMs + 1_000) });
    // By key: routed again after a refresh. A split named by the caller is asked as given.
    return typeof splitOrKey === 'string' ? this.routed(() => ask(this.map.splitFor(splitOrKey))) : ask(splitOrKey);
  }

  /**
   * @internal The outcome of a commit that got no answer: asks the split's leader until it says
   * committed or aborted, following leader changes and backing off on NOT_LEADER, UNAVAILABLE,
   * TIMEOUT and pending, for at most `outcomeLookupMs`. Undecided by then: TIMEOUT, outcome unknown.
   */
  /**
   * @internal A send whose failure the protocol already covers (an abort the idle timeout
   * replaces, a prepare the coordinator's vote bound replaces): never thrown, but counted
   * (`synod_client_best_effort_failed_total{kind}` in the bus's metrics).
   */
  bestEffort(kind: string, send: Promise<unknown>): Promise<void> {
    return send.then(
      () => undefined,
      () => this.bus.metrics.inc('synod_client_best_effort_failed_total', { kind }),
    );
  }

  async resolveOutcome(split: Split, txnId: string, cause: unknown): Promise<TxnStatus> {
    const deadline = Date.now() + this.outcomeLookupMs;
    let last = `the commit got no answer (${describeErr(cause)})`;
    for (let round = 0; ; round++) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      try {
        const waitMs = Math.min(this.serverWaitMs(READ_WAIT_MS), Math.floor(remaining / 2));
        // By id in the current map: a move since the commit changes the replicas to ask.
        const r = await this.call(this.map.split(split.id) ?? split, 'kv.txn-status', { txnId, waitMs }, 'leader', { deadline });
        if (r.state !== 'pending') return r;
        last = 'the leader reports it pending (not yet decided)';
      } catch (err) {
        last = describeErr(err);
        if (isStaleRouting(err) && round < this.maxMapRefreshes) {
          await this.catchUpMap(hintedGeneration(err));
          continue;
        }
        // Anything but a retryable code will not change by asking again.
        if (!(err instanceof SynodError) || !RETRYABLE.has(err.code)) break;
      }
      await sleep(Math.min(Math.min(1_000, 50 * 2 ** Math.min(round, 5)) * (0.5 + Math.random()), Math.max(0, deadline - Date.now())));
    }
    throw new SynodError(
      'TIMEOUT',
      `the outcome of transaction ${txnId} is unknown: its commit got no answer and a status lookup at split ${split.id} did not decide it within ${this.outcomeLookupMs} ms (last: ${last}). It may still commit; look it up later by its id`,
      { txn: txnId, split: split.id },
    );
  }

  /**
   * Sends one request about `split`: to its leader ('leader') or to a replica in this client's
   * DC when there is one ('nearest'), following hints and retrying other replicas.
   *
   * A transactional read (`kv.read`) that timed out at a node may have left a lock there; when the
   * read ends up answered elsewhere (or not at all), each such node is sent a best-effort
   * `kv.abort` for the transaction, after the retries, so it never races one of them.
   */
  async call<K extends RequestKind>(split: Split, kind: K, body: MessageInput<K>, target: 'leader' | 'nearest', opts: CallOptions = NO_CALL_OPTIONS): Promise<ReplyBody<K>> {
    let lastErr: unknown;
    // Filled only after a failure: a call answered at once (nearly every read) allocates neither.
    let tried: Set<string> | undefined;
    let timedOut: Set<string> | undefined;
    let answeredBy: string | undefined;
    // A split planned from a map that has since been replaced and no longer has it: the caller
    // must plan again from the current map (the same answer a server gives a stale route).
    if (!this.map.split(split.id))
      throw new SynodError('KEY_OUT_OF_RANGE', `split ${split.id} is not in the range map any more (generation ${this.map.generation})`, { split: split.id, generation: this.map.generation });
    try {
      for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
        const timeoutMs = Math.min(opts.timeoutMs ?? this.timeoutMs, opts.deadline === undefined ? Infinity : opts.deadline - Date.now());
        if (timeoutMs <= 0) break;
        const node = this.pick(split, target, tried);
        try {
          const reply = await this.bus.request(node, kind, body, { group: split.id, timeoutMs });
          if (!isKind(reply, REPLY_KIND[kind])) throw new SynodError('INTERNAL', `${node} answered ${kind} with ${reply.kind}`);
          if (target === 'leader') {
            // A follower may answer a strong read (after waiting for t_safe) and then names the
            // leader: caching the follower would send every later read to wait there too.
            const named = 'leader' in reply.body ? reply.body.leader : undefined;
            this.leaders.set(split.id, named !== undefined && split.replicas.includes(named) ? named : node);
          }
          answeredBy = node;
          return reply.body;
        } catch (err) {
          lastErr = err;
          if (!(err instanceof SynodError) || !RETRYABLE.has(err.code)) throw err;
          if (err.code === 'TIMEOUT') (timedOut ??= new Set()).add(node);
          opts.onRetryable?.(err, node);
          (tried ??= new Set()).add(node);
          const hint = err.hint?.leader;
          // A leader the map does not list: a replica was added since it was cached (a move).
          if (typeof hint === 'string' && !split.replicas.includes(hint))
            throw new SynodError('KEY_OUT_OF_RANGE', `${node} says ${hint} leads split ${split.id}, which is not among its replicas in the cached map (generation ${this.map.generation})`, {
              split: split.id,
              generation: this.map.generation,
            });
          if (target === 'leader' && typeof hint === 'string' && split.replicas.includes(hint)) {
            this.leaders.set(split.id, hint);
            tried.delete(hint);
          } else {
            this.leaders.delete(split.id);
            const backoff = Math.min(500, 20 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random());
            await sleep(opts.deadline === undefined ? backoff : Math.min(backoff, Math.max(0, opts.deadline - Date.now())));
          }
        }
      }
    } finally {
      if (kind === 'kv.read' && timedOut) {
        const txnId = (body as MessageInput<'kv.read'>).txn.id;
        for (const node of timedOut) if (node !== answeredBy) this.abortAt(split, node, txnId);
      }
    }
    throw lastErr instanceof Error ? lastErr : new SynodError('UNAVAILABLE', `no replica of ${split.id} answered ${kind} in time`);
  }

  /** Best effort, not awaited: asks `node` to drop transaction `txnId` and its locks. */
  private abortAt(split: Split, node: string, txnId: string): void {
    void this.bestEffort('kv.abort', this.bus.request(node, 'kv.abort', { txnId }, { group: split.id, timeoutMs: this.timeoutMs }));
  }

  private pick(split: Split, target: 'leader' | 'nearest', tried: Set<string> | undefined): string {
    // The first attempt (nearly every request) picks among all replicas without a copy.
    const untried = tried === undefined ? split.replicas : split.replicas.filter((r) => !tried.has(r));
    const pool = untried.length > 0 ? untried : split.replicas;
    if (target === 'leader') {
      const cached = this.leaders.get(split.id);
      if (cached && pool.includes(cached)) return cached;
      return pool[Math.floor(Math.random() * pool.length)]!;
    }
    const local = pool.find((r) => this.map.dc(r) === this.bus.dc);
    return local ?? pool[Math.floor(Math.random() * pool.length)]!;
  }
}

/** One attempt of a read-write transaction. Writes are buffered here until commit. */
class Transaction {
  /** What this attempt did at each split it touched: its reads (and their epoch) and buffered writes. */
  private readonly parts = new Map<string, { split: Split; epoch?: string; reads: Set<string>; writes: Map<string, { value?: unknown; deleted?: boolean }> }>();
  private readonly reads = new Map<string, unknown>();
  private readonly writes = new Map<string, { value?: unknown; deleted?: boolean }>();
  private started = false;
  /** @internal A send of this attempt refused as routed by an older map (a prepare's, which is not awaited). */
  staleRouting: SynodError | undefined;

  constructor(
    private readonly client: SynodClient,
    readonly ref: { id: string; startTs: number },
  ) {}

  async get(key: string): Promise<unknown> {
    const w = this.writes.get(key);
    if (w) return w.deleted ? undefined : w.value;
    if (this.reads.has(key)) return this.reads.get(key);
    refuse(checkKey(key));
    const part = this.partOf(key);
    this.started = true;
    const reply = await this.client.call(part.split, 'kv.read', { txn: this.ref, keys: [key], waitMs: this.client.serverWaitMs(READ_WAIT_MS) }, 'leader');
    // Every read at a split must come from one leadership and one life of the transaction there.
    if (part.epoch !== undefined && reply.epoch !== part.epoch) throw new SynodError('TXN_ABORTED', `split ${part.split.id} changed leaders during the transaction`);
    if (reply.epoch !== undefined) part.epoch = reply.epoch;
    const value = reply.values[0]?.value;
    this.reads.set(key, value);
    part.reads.add(key);
    return value;
  }

  /** Refuses at once a key or value over its maximum (KEY_TOO_LARGE, VALUE_TOO_LARGE); the whole transaction is checked again at commit. */
  put(key: string, value: unknown): void {
    refuse(checkTxn([], [{ key, value }]));
    this.writes.set(key, { value });
    this.partOf(key).writes.set(key, { value });
  }

  delete(key: string): void {
    refuse(checkKey(key));
    this.writes.set(key, { deleted: true });
    this.partOf(key).writes.set(key, { deleted: true });
  }

  /**
   * @internal Commits at the split leader; returns the commit timestamp, how long commit wait
   * outlasted replication, and how the outcome was learned. Sends that get no answer are resent
   * with the same id (`commitResends` times), then the outcome is looked up (`resolveOutcome`).
   * Throws TXN_ABORTED when the transaction is aborted (the caller retries it), TIMEOUT when its
   * outcome stays unknown.
   */
  async commit(): Promise<{ ts: number; commitWaitUs: number; resolvedBy: ResolvedBy }> {
    if (this.parts.size === 0) return { ts: 0, commitWaitUs: 0, resolvedBy: 'reply' };
    // Nothing over the maxima is sent: not the commit, nor (via put/get) any read before it.
    refuse(checkTxn([...this.reads.keys()], [...this.writes].map(([key, w]) => ({ key, ...w }))));
    const parts = [...this.parts.values()];
    // The coordinator: the first split written (in split order), else the first touched. The outcome lives there.
    const coord = [...parts].sort((a, b) => (a.split.id < b.split.id ? -1 : 1)).find((p) => p.writes.size > 0) ?? parts[0]!;
    const split = coord.split;
    const partBody = (p: (typeof parts)[number]) => ({
      txn: this.ref,
      readKeys: [...p.reads],
      writes: [...p.writes].map(([key, w]) => ({ key, ...w })),
      waitMs: this.client.serverWaitMs(COMMIT_WAIT_MS),
      ...(p.epoch !== undefined ? { epoch: p.epoch } : {}),
    });
    const others = parts.filter((p) => p !== coord);
    // 2PC (docs/transactions.md): each other split prepares and votes to the coordinator, which
    // decides. A prepare that fails is the coordinator's to notice (a refusal vote or its bound).
    for (const p of others)
      void this.client.bestEffort(
        'kv.prepare',
        this.client.call(p.split, 'kv.prepare', { ...partBody(p), coordinator: split.id }, 'leader').catch((err: unknown) => {
          if (isStaleRouting(err)) this.staleRouting = err;
          throw err;
        }),
      );
    const body = { ...partBody(coord), ...(others.length > 0 ? { participants: others.map((p) => p.split.id) } : {}) };
    let unanswered = 0;
    let outcome: TxnStatus;
    try {
      const reply = await this.client.call(split, 'kv.commit', body, 'leader', {
        // NOT_LEADER is an answer (not applied there); the rest may have been applied: resend a bounded number of times.
        onRetryable: (err) => {
          if (!UNANSWERED.has(err.code)) return;
          if (++unanswered > this.client.commitResends) throw err;
        },
      });
      this.started = false;
      return { ...reply, resolvedBy: unanswered > 0 ? 'retry' : 'reply' };
    } catch (err) {
      // Any other answer (TXN_ABORTED, INVALID_ARGUMENT, …) is the outcome for this id; so is
      // running out of NOT_LEADER redirects when no send went unanswered. After an unanswered
      // send, neither NOT_LEADER nor KEY_OUT_OF_RANGE (the split was cut or moved since) says the
      // first send was not applied: the outcome is looked up, never retried as a new attempt.
      const unknown = err instanceof SynodError && (UNANSWERED.has(err.code) || (unanswered > 0 && (err.code === 'NOT_LEADER' || err.code === 'KEY_OUT_OF_RANGE')));
      if (!unknown) throw err;
      // The commit may be decided or in flight: from here no kv.abort is sent for it (it would race the commit).
      this.started = false;
      outcome = await this.client.resolveOutcome(split, this.ref.id, err);
    }
    if (outcome.state === 'committed' && outcome.ts !== undefined) return { ts: outcome.ts, commitWaitUs: 0, resolvedBy: 'status' };
    if (outcome.state === 'aborted')
      throw new SynodError('TXN_ABORTED', `the commit of transaction ${this.ref.id} got no answer; a status lookup found it aborted${outcome.reason ? `: ${outcome.reason}` : ''}`, { txn: this.ref.id });
    // resolveOutcome answers only decided outcomes (the schema makes `committed` carry its ts).
    throw new SynodError('INTERNAL', `status lookup of transaction ${this.ref.id} answered ${outcome.state} without a decision`, { txn: this.ref.id, split: split.id });
  }

  /** @internal Releases locks after a failed attempt (best effort). */
  async abandon(): Promise<void> {
    if (!this.started) return;
    await Promise.all([...this.parts.values()].map((p) => this.client.bestEffort('kv.abort', this.client.call(p.split, 'kv.abort', { txnId: this.ref.id }, 'leader'))));
  }

  private partOf(key: string) {
    const split = this.client.rangeMap.splitFor(key);
    let part = this.parts.get(split.id);
    if (!part) this.parts.set(split.id, (part = { split, reads: new Set(), writes: new Map() }));
    return part;
  }
}
