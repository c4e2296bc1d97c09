import { SynodError } from '@synod/codec';
import type { SynodClient } from '@synod/client';

export interface BankOptions {
  accounts: number;
  initial: number;
  workers: number;
  /** Key prefix (default `bank/`). */
  prefix?: string;
  /**
   * Where the accounts live. `one` (default): every account in the split holding the prefix, so
   * every transfer commits in one split. `all`: account i goes to the i-th split of the range map
   * (round robin over all of them, each key the split's start + `-` + prefix + number), so most
   * transfers cross splits and commit by two-phase commit.
   */
  spread?: 'one' | 'all';
  /**
   * Also write one journal key per transfer (in the split of the account the money leaves), so a
   * test can prove no acknowledged transfer was lost.
   */
  journal?: boolean;
}

export interface BankStats {
  transfers: number;
  failed: number;
  retries: number;
  audits: number;
  badAudits: number;
  latenciesMs: number[];
  /** Acknowledged transfers between accounts in different splits (committed by two-phase commit). */
  crossSplit: number;
  /** Transfers whose commit got no answer and whose outcome a status lookup found committed. */
  resolvedByStatus: number;
  /** Transfers whose outcome stayed unknown (TIMEOUT naming the txn): they may have committed. */
  unknownOutcomes: number;
  lastError?: string;
}

/**
 * The bank workload: concurrent transfers between accounts (read two balances, move an amount,
 * write both) while an auditor sums all balances in lock-free read-only snapshots. Every
 * snapshot must show the initial total: anything else is a serializability bug.
 */
export class Bank {
  readonly keys: string[];
  readonly total: number;
  readonly stats: BankStats = { transfers: 0, failed: 0, retries: 0, audits: 0, badAudits: 0, latenciesMs: [], crossSplit: 0, resolvedByStatus: 0, unknownOutcomes: 0 };
  /** Every acknowledged transfer: its journal id, accounts, commit timestamp, whether it crossed splits, the id of its committed attempt and its latency (ms). */
  readonly acknowledged: Array<{ id: string; from: string; to: string; amount: number; ts: number; crossSplit: boolean; txnId: string; latencyMs: number }> = [];
  /** The journal's prefix in the first split used (the only one with `spread: 'one'`). */
  readonly journalPrefix: string;
  /** Every journal prefix, one per split holding accounts. */
  readonly journalPrefixes: string[];
  /** The split of every account, by key. */
  readonly splitOf: ReadonlyMap<string, string>;
  /** The journal prefix in each split, by split id. */
  private readonly journalOf: Map<string, string>;
  /** Transfers started and not yet finished (committing, or retrying after an abort). */
  inFlight = 0;
  private nextId = 0;
  private running = false;
  private tasks: Promise<void>[] = [];

  constructor(
    readonly client: SynodClient,
    private readonly opts: BankOptions,
  ) {
    const prefix = opts.prefix ?? 'bank/';
    const map = client.rangeMap;
    const home = map.splitFor(prefix);
    const splits = opts.spread === 'all' ? map.all() : [home];
    /** A prefix inside `split`: the prefix itself in its home split, else behind the split's start. */
    const inSplit = (split: (typeof splits)[number]) => (split.id === home.id ? prefix : `${split.start}-${prefix}`);
    const splitOf = new Map<string, string>();
    this.keys = Array.from({ length: opts.accounts }, (_, i) => {
      const split = splits[i % splits.length]!;
      const key = `${inSplit(split)}${String(i).padStart(4, '0')}`;
      if (map.splitFor(key).id !== split.id) throw new SynodError('INVALID_ARGUMENT', `bank account ${key} does not fall in split ${split.id}: choose another --prefix`);
      splitOf.set(key, split.id);
      return key;
    });
    this.splitOf = splitOf;
    this.journalPrefixes = splits.map((s) => `${inSplit(s)}journal/`);
    this.journalOf = new Map(splits.map((s, i) => [s.id, this.journalPrefixes[i]!]));
    this.journalPrefix = this.journalPrefixes[0]!;
    this.total = opts.accounts * opts.initial;
  }

  /** The ids of every journaled transfer, over all journal prefixes (each scan at its own timestamp; call it after stop). */
  async journalIds(): Promise<Set<string>> {
    const ids = new Set<string>();
    for (const p of this.journalPrefixes) {
      const { rows } = await this.client.scan(p, `${p}\uffff`, { limit: 100_000 });
      for (const r of rows) ids.add(r.key.slice(p.length));
    }
    return ids;
  }

  /** Acknowledged transfers whose journal entry is missing (must be none). */
  async lostTransfers(): Promise<Bank['acknowledged']> {
    const ids = await this.journalIds();
    return this.acknowledged.filter((t) => !ids.has(t.id));
  }

  /** Writes every account's initial balance in one transaction; returns its commit timestamp (snapshots below it have no accounts). */
  async setup(): Promise<number> {
    const r = await this.client.transaction(async (tx) => this.keys.forEach((k) => tx.put(k, this.opts.initial)));
    this.setupTs = r.ts;
    return r.ts;
  }

  /** The commit timestamp of setup(): a snapshot below it has no accounts (bounded-staleness reads may land there). */
  setupTs = 0;

  start(): void {
    this.running = true;
    this.tasks = [...Array.from({ length: this.opts.workers }, () => this.transferLoop()), this.auditLoop()];
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.tasks);
  }

  /** Sums every balance in one strong read-only snapshot. */
  async audit(opts: { maxStalenessMs?: number } = {}): Promise<{ sum: number; ts: number }> {
    const { values, ts } = await this.client.read(this.keys, opts);
    return { sum: this.keys.reduce((s, k) => s + Number(values.get(k) ?? NaN), 0), ts };
  }

  private async transferLoop(): Promise<void> {
    while (this.running) {
      const from = this.keys[Math.floor(Math.random() * this.keys.length)]!;
      let to = this.keys[Math.floor(Math.random() * this.keys.length)]!;
      if (to === from) to = this.keys[(this.keys.indexOf(from) + 1) % this.keys.length]!;
      const amount = 1 + Math.floor(Math.random() * 10);
      const id = `${this.client.bus.nodeId}-${++this.nextId}`;
      const crossSplit = this.splitOf.get(from) !== this.splitOf.get(to);
      const journal = this.journalOf.get(this.splitOf.get(from)!)!;
      const t0 = performance.now();
      this.inFlight++;
      try {
        const r = await this.client.transaction(async (tx) => {
          const a = Number(await tx.get(from));
          const b = Number(await tx.get(to));
          if (a < amount) return false;
          tx.put(from, a - amount);
          tx.put(to, b + amount);
          if (this.opts.journal) tx.put(`${journal}${id}`, amount);
          return true;
        });
        this.stats.retries += r.attempts - 1;
        if (r.resolvedBy === 'status') this.stats.resolvedByStatus++;
        if (r.result) {
          const ms = performance.now() - t0;
          this.stats.transfers++;
          this.acknowledged.push({ id, from, to, amount, ts: r.ts, crossSplit, txnId: r.txnId, latencyMs: ms });
          this.stats.latenciesMs.push(ms);
          if (crossSplit) this.stats.crossSplit++;
        }
      } catch (err) {
        this.stats.failed++;
        if (err instanceof SynodError && err.code === 'TIMEOUT' && typeof err.hint?.txn === 'string') this.stats.unknownOutcomes++;
        this.stats.lastError = err instanceof SynodError ? `${err.code}: ${err.message}` : String(err);
        await new Promise((r) => setTimeout(r, 100));
      } finally {
        this.inFlight--;
      }
    }
  }

  private async auditLoop(): Promise<void> {
    while (this.running) {
      try {
        const { sum } = await this.audit();
        this.stats.audits++;
        if (sum !== this.total) this.stats.badAudits++;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
