import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { SynodClient } from '@synod/client';
import { SynodError } from '@synod/codec';
import type { z } from 'zod';
import { GatewayError } from './errors.js';
import type { TxnRequest, txnResponse, txnStatusResponse } from './schemas.js';

type TxnResponse = z.infer<typeof txnResponse>;
type TxnStatusResponse = z.infer<typeof txnStatusResponse>;

/** What the gateway knows of one client-chosen id. */
type Entry = {
  fingerprint: string;
  at: number;
} & (
  | { state: 'running'; done: Promise<TxnResponse> }
  | { state: 'committed'; response: TxnResponse }
  /** Nothing was written: a condition failed, or the transaction was aborted or refused. */
  | { state: 'condition_failed' | 'aborted'; reason: string }
  /** The commit got no answer and no lookup decided it: ask the split's leader. */
  | { state: 'unknown'; txnId: string; split: string; reason: string }
);

export interface TxnRegistryOptions {
  /** Ids remembered at most this long (ms); the spanservers keep outcomes 10 minutes. */
  ttlMs?: number;
  /** Ids remembered at most (oldest forgotten first). */
  maxIds?: number;
  now?: () => number;
}

/** Thrown inside the client's transaction to end it without committing (the client abandons it). */
class ConditionFailed extends Error {
  constructor(
    readonly key: string,
    readonly expected: string,
  ) {
    super(`condition failed: key ${JSON.stringify(key.slice(0, 64))} ${expected}; nothing was written`);
  }
}

/**
 * Runs POST /v1/txn requests, idempotent by the client-chosen id (docs/gateway.md,
 * "Transactions"). The client library picks its own transaction ids (a fresh one per attempt),
 * so the gateway keeps, per client id, what became of it: a repeat of a committed id gets the
 * same answer without running again; a repeat of an id whose commit outcome is unknown asks the
 * split's leader before anything runs again; a repeat with a different body is refused.
 * Ids live in this process's memory, bounded in count and age.
 */
export class TxnRegistry {
  private readonly entries = new Map<string, Entry>();
  private readonly ttlMs: number;
  private readonly maxIds: number;
  private readonly now: () => number;

  constructor(
    private readonly client: SynodClient,
    opts: TxnRegistryOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 10 * 60_000;
    this.maxIds = opts.maxIds ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  async run(req: TxnRequest): Promise<TxnResponse> {
    this.expire();
    const fingerprint = createHash('sha256').update(JSON.stringify([req.reads, req.conditions, req.writes])).digest('base64url');
    const prior = this.entries.get(req.id);
    if (prior && prior.fingerprint !== fingerprint)
      throw new SynodError('INVALID_ARGUMENT', `transaction id ${req.id} was already used for a different request; choose a new id`, { id: req.id });
    if (prior?.state === 'running') return prior.done;
    if (prior?.state === 'committed') return prior.response;
    if (prior?.state === 'unknown') {
      // Running again could commit twice: only an aborted answer from the leader allows it.
      const s = await this.client.txnStatus(splitNamed(this.client, prior.split), prior.txnId);
      if (s.state === 'committed' && s.ts !== undefined) {
        const response: TxnResponse = { id: req.id, state: 'committed', ts: s.ts, reads: [], txnId: prior.txnId, split: prior.split, attempts: 1 };
        this.remember(req.id, { fingerprint, at: this.now(), state: 'committed', response });
        return response;
      }
      if (s.state === 'pending')
        throw new SynodError('TIMEOUT', `transaction ${req.id} (${prior.txnId}) is still undecided at split ${prior.split}; retry later with the same id`, { txn: prior.txnId, split: prior.split });
    }
    const done = this.execute(req, fingerprint);
    this.remember(req.id, { fingerprint, at: this.now(), state: 'running', done });
    return done;
  }

  /** What is known of `id`, asking the split's leader when the gateway saw a commit or lost its answer. */
  async status(id: string): Promise<TxnStatusResponse> {
    this.expire();
    const e = this.entries.get(id);
    if (!e) throw new GatewayError('NOT_FOUND', `no transaction with id ${id} here: this gateway remembers ids for ${Math.round(this.ttlMs / 1000)} s, since it started`, { id });
    if (e.state === 'running') return { id, state: 'running' };
    if (e.state === 'condition_failed' || e.state === 'aborted') return { id, state: e.state, reason: e.reason };
    const [txnId, split] = e.state === 'committed' ? [e.response.txnId, e.response.split] : e.state === 'unknown' ? [e.txnId, e.split] : [];
    // A transaction that touched nothing has no outcome at any split.
    if (txnId === undefined || split === undefined) return { id, state: 'committed' };
    const s = await this.client.txnStatus(splitNamed(this.client, split), txnId);
    return { id, state: s.state, txnId, split, ...(s.ts !== undefined ? { ts: s.ts } : {}), ...(s.reason !== undefined ? { reason: s.reason } : {}) };
  }

  private async execute(req: TxnRequest, fingerprint: string): Promise<TxnResponse> {
    const at = this.now();
    try {
      const r = await this.client.transaction(async (tx) => {
        for (const c of req.conditions) {
          const v = await tx.get(c.key);
          if ('absent' in c && v !== undefined) throw new ConditionFailed(c.key, 'exists (expected absent)');
          if ('present' in c && v === undefined) throw new ConditionFailed(c.key, 'is absent (expected present)');
          if ('equals' in c && (v === undefined || !isDeepStrictEqual(v, c.equals))) throw new ConditionFailed(c.key, v === undefined ? 'is absent' : 'holds another value');
        }
        const reads: TxnResponse['reads'] = [];
        for (const key of req.reads) {
          const v = await tx.get(key);
          reads.push(v === undefined ? { key, found: false } : { key, found: true, value: v });
        }
        for (const w of req.writes) {
          if ('delete' in w) tx.delete(w.key);
          else tx.put(w.key, w.value);
        }
        return reads;
      });
      const split = coordinatorSplit(this.client, req);
      const response: TxnResponse = { id: req.id, state: 'committed', ts: r.ts, reads: r.result, attempts: r.attempts, ...(r.ts > 0 && split ? { txnId: r.txnId, split } : {}) };
      this.remember(req.id, { fingerprint, at, state: 'committed', response });
      return response;
    } catch (err) {
      if (err instanceof ConditionFailed) {
        this.remember(req.id, { fingerprint, at, state: 'condition_failed', reason: err.message });
        throw new GatewayError('CONDITION_FAILED', err.message, { key: err.key });
      }
      const txn = err instanceof SynodError ? err.hint?.txn : undefined;
      const split = err instanceof SynodError ? err.hint?.split : undefined;
      if (err instanceof SynodError && err.code !== 'TXN_ABORTED' && typeof txn === 'string' && typeof split === 'string')
        this.remember(req.id, { fingerprint, at, state: 'unknown', txnId: txn, split, reason: err.message });
      else this.remember(req.id, { fingerprint, at, state: 'aborted', reason: err instanceof Error ? err.message : String(err) });
      throw err;
    }
  }

  private remember(id: string, e: Entry): void {
    this.entries.delete(id);
    this.entries.set(id, e);
    while (this.entries.size > this.maxIds) this.entries.delete(this.entries.keys().next().value!);
  }

  private expire(): void {
    const cutoff = this.now() - this.ttlMs;
    for (const [id, e] of this.entries) {
      if (e.at >= cutoff) break;
      if (e.state !== 'running') this.entries.delete(id);
    }
  }
}

/**
 * The split whose leader holds a transaction's outcome: the client's coordinator rule (the first
 * split written, in split id order, else the first touched; docs/transactions.md), applied to the
 * order this gateway touches keys in (conditions, then reads, then writes).
 */
export function coordinatorSplit(client: SynodClient, req: Pick<TxnRequest, 'conditions' | 'reads' | 'writes'>): string | undefined {
  const written = req.writes.map((w) => client.rangeMap.splitFor(w.key).id).sort();
  if (written.length > 0) return written[0];
  const first = req.conditions[0]?.key ?? req.reads[0];
  return first === undefined ? undefined : client.rangeMap.splitFor(first).id;
}

function splitNamed(client: SynodClient, id: string) {
  const s = client.rangeMap.split(id);
  if (!s) throw new SynodError('INTERNAL', `split ${id} is no longer in the range map`);
  return s;
}
