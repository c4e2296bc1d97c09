import { z } from 'zod';
import { SynodError } from '@synod/codec';
import type { ApplyEntry } from '@synod/paxos';
import type { Storage, VersionWrite } from '@synod/storage';
import { commitApplies } from '@synod/txn';

/** What the split's Paxos log carries. */
export const splitCommand = z.discriminatedUnion('t', [
  z.object({
    t: z.literal('commit'),
    txn: z.string(),
    ts: z.number().int().positive(),
    writes: z.array(z.object({ key: z.string(), value: z.unknown().optional(), deleted: z.boolean().optional() })),
  }),
  /** The leader promises no commit at or below `ts` will follow: followers may serve reads up to it. */
  z.object({ t: z.literal('closed'), ts: z.number().int().positive() }),
]);
export type SplitCommand = z.infer<typeof splitCommand>;

export type Outcome = { committed: true; ts: number } | { committed: false; reason: string };

/**
 * The replicated state of one split on one node: applies the log to MVCC (versions and applied
 * index in one LMDB transaction), and tracks t_safe — the highest timestamp at or below which
 * every write of the split is applied here. By the apply-time rule (commitApplies) that is simply
 * the highest timestamp applied, which every replica computes alike.
 */
export class SplitState {
  private maxAppliedTs = 0;
  private durableTs = 0;
  private durableApplied: number;
  private applyChain: Promise<void> = Promise.resolve();
  /** Commits proposed by this replica (as leader) whose outcome someone awaits. */
  private readonly awaited = new Map<string, (o: Promise<Outcome>) => void>();
  private readonly safeWaiters = new Set<{ ts: number; resolve: () => void }>();
  lastCommitTs = 0;

  constructor(
    readonly id: string,
    private readonly storage: Storage,
    appliedOnDisk: number,
    private readonly onFatal: (err: unknown) => void,
  ) {
    this.durableApplied = appliedOnDisk;
  }

  /** Highest timestamp applied (possibly not yet durable): the leader's timestamp floor. */
  get maxApplied(): number {
    return this.maxAppliedTs;
  }

  /** t_safe on this replica: reads at or below it see every write of the split. */
  get tSafe(): number {
    return this.durableTs;
  }

  /** The Paxos apply callback: called in slot order, once per chosen entry. */
  apply(entry: ApplyEntry): void {
    const versions: VersionWrite[] = [];
    const decided: Array<[string, Outcome]> = [];
    for (const cmd of entry.commands) {
      const parsed = splitCommand.safeParse(cmd.payload);
      if (!parsed.success) {
        decided.push([cmd.id, { committed: false, reason: 'malformed command' }]);
        continue;
      }
      const c = parsed.data;
      if (c.t === 'closed') {
        if (c.ts > this.maxAppliedTs) this.maxAppliedTs = c.ts;
        continue;
      }
      if (!commitApplies(this.maxAppliedTs, c.ts)) {
        decided.push([cmd.id, { committed: false, reason: `timestamp ${c.ts} is not above ${this.maxAppliedTs}` }]);
        continue;
      }
      this.maxAppliedTs = c.ts;
      this.lastCommitTs = c.ts;
      for (const w of c.writes) versions.push(w.deleted ? { key: w.key, ts: c.ts, deleted: true } : { key: w.key, ts: c.ts, value: w.value });
      decided.push([cmd.id, { committed: true, ts: c.ts }]);
    }
    // A command id seen before is skipped by every replica; whoever awaits it must hear so.
    for (const id of entry.duplicates) decided.push([id, { committed: false, reason: 'duplicate command id' }]);
    const upTo = entry.slot + 1;
    const safeAfter = this.maxAppliedTs;
    // Entries at or below the durable applied index were applied before a restart: their
    // versions are already on disk (rewriting them is harmless), their index must not go back.
    const write =
      upTo > this.durableApplied
        ? this.storage.applyEntry(this.id, upTo, versions)
        : versions.length > 0
          ? this.storage.mvcc.put(versions)
          : Promise.resolve();
    if (upTo > this.durableApplied) this.durableApplied = upTo;
    this.applyChain = this.applyChain.then(() => write);
    const durable = this.applyChain.then(() => {
      if (safeAfter > this.durableTs) {
        this.durableTs = safeAfter;
        for (const w of this.safeWaiters)
          if (w.ts <= safeAfter) {
            this.safeWaiters.delete(w);
            w.resolve();
          }
      }
    });
    durable.catch((err) => this.onFatal(err));
    for (const [txn, outcome] of decided) {
      const deliver = this.awaited.get(txn);
      if (!deliver) continue;
      this.awaited.delete(txn);
      deliver(durable.then(() => outcome));
    }
  }

  /**
   * Registers interest in a commit about to be proposed (by its Paxos command id); resolves
   * with its outcome once applied here and durable. Call before proposing.
   */
  expectOutcome(commandId: string): { outcome: Promise<Outcome>; cancel: () => void } {
    let deliver!: (o: Promise<Outcome>) => void;
    const outcome = new Promise<Promise<Outcome>>((resolve) => (deliver = resolve)).then((o) => o);
    this.awaited.set(commandId, deliver);
    return { outcome, cancel: () => this.awaited.delete(commandId) };
  }

  /** Resolves once t_safe reaches `ts`; rejects UNAVAILABLE after `waitMs`. */
  waitForSafe(ts: number, waitMs: number): Promise<void> {
    if (ts <= this.durableTs) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w = { ts, resolve: () => (clearTimeout(timer), resolve()) };
      const timer = setTimeout(() => {
        this.safeWaiters.delete(w);
        reject(new SynodError('UNAVAILABLE', `t_safe ${this.durableTs} did not reach ${ts} within ${waitMs} ms`, { tSafe: this.durableTs }));
      }, waitMs);
      this.safeWaiters.add(w);
    });
  }
}
