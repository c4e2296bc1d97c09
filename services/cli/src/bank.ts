import { SynodError } from '@synod/codec';
import type { SynodClient } from '@synod/client';

export interface BankOptions {
  accounts: number;
  initial: number;
  workers: number;
  /** Key prefix; all accounts live in the split holding it (transactions are single-split today). */
  prefix?: string;
  /** Also write one journal key per transfer, so a test can prove no acknowledged transfer was lost. */
  journal?: boolean;
}

export interface BankStats {
  transfers: number;
  failed: number;
  retries: number;
  audits: number;
  badAudits: number;
  latenciesMs: number[];
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
  readonly stats: BankStats = { transfers: 0, failed: 0, retries: 0, audits: 0, badAudits: 0, latenciesMs: [], resolvedByStatus: 0, unknownOutcomes: 0 };
  readonly acknowledged: Array<{ id: string; from: string; to: string; amount: number; ts: number }> = [];
  readonly journalPrefix: string;
  private nextId = 0;
  private running = false;
  private tasks: Promise<void>[] = [];

  constructor(
    readonly client: SynodClient,
    private readonly opts: BankOptions,
  ) {
    const prefix = opts.prefix ?? 'bank/';
    this.keys = Array.from({ length: opts.accounts }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);
    this.journalPrefix = `${prefix}journal/`;
    this.total = opts.accounts * opts.initial;
  }

  async setup(): Promise<void> {
    await this.client.transaction(async (tx) => this.keys.forEach((k) => tx.put(k, this.opts.initial)));
  }

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
      const t0 = performance.now();
      try {
        const r = await this.client.transaction(async (tx) => {
          const a = Number(await tx.get(from));
          const b = Number(await tx.get(to));
          if (a < amount) return false;
          tx.put(from, a - amount);
          tx.put(to, b + amount);
          if (this.opts.journal) tx.put(`${this.journalPrefix}${id}`, amount);
          return true;
        });
        this.stats.retries += r.attempts - 1;
        if (r.resolvedBy === 'status') this.stats.resolvedByStatus++;
        if (r.result) {
          this.stats.transfers++;
          this.acknowledged.push({ id, from, to, amount, ts: r.ts });
          this.stats.latenciesMs.push(performance.now() - t0);
        }
      } catch (err) {
        this.stats.failed++;
        if (err instanceof SynodError && err.code === 'TIMEOUT' && typeof err.hint?.txn === 'string') this.stats.unknownOutcomes++;
        this.stats.lastError = err instanceof SynodError ? `${err.code}: ${err.message}` : String(err);
        await new Promise((r) => setTimeout(r, 100));
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
