/** A one-replica shell around SplitTxnCore for unit tests (split-core.test.ts, split-core-cut.test.ts). */
import type { CoreNow, LeadershipView, MvccReader, TxnBroken, TxnOutput } from './core-types.js';
import type { ChildInit } from './cut.js';
import { SplitTxnCore, type SplitTxnCoreOptions } from './split-core.js';

/** A one-replica shell: a log the test chooses when to apply, a store written when the test says it is durable. */
export class Harness {
  mono = 1_000_000;
  trueUs = 5_000_000;
  epsilon = 1_000;
  serving = true;
  /** The reader refuses reads below it, as MvccStore does; a test raises it as a GC pass would. */
  gcHorizon = 0;
  readonly versions: Map<string, Array<{ ts: number; value: unknown }>> = new Map();
  readonly log: Array<{ id: string; payload: unknown }> = [];
  slot = 0;
  outputs: TxnOutput[] = [];
  leaseEnd: number | null = null;
  core: SplitTxnCore;
  private reqSeq = 0;

  /** Where 'send' outputs go: the harness of the target split. */
  peers = new Map<string, Harness>();

  readonly reader: MvccReader;

  constructor(
    broken: TxnBroken = {},
    readonly splitId = 's1',
    extra: Partial<Pick<SplitTxnCoreOptions, 'range' | 'generation' | 'resume' | 'floorTs'>> = {},
    /** Shares another harness's store: the one MVCC keyspace of a process (a cut's child reads its parent's versions). */
    shared?: Harness,
  ) {
    if (shared) this.versions = shared.versions;
    this.reader = {
      get: (key, ts) => {
        if (ts < this.gcHorizon) throw new Error(`SNAPSHOT_TOO_OLD: read at ${ts} is below the GC horizon ${this.gcHorizon}`);
        const v = (this.versions.get(key) ?? []).filter((x) => x.ts <= ts).sort((a, b) => b.ts - a.ts)[0];
        return v ? { value: v.value, ts: v.ts } : undefined;
      },
      scan: (start, end, ts, limit) =>
        [...this.versions.keys()]
          .filter((k) => k >= start && (end === '' || k < end))
          .sort()
          .flatMap((key) => {
            const r = this.reader.get(key, ts);
            return r ? [{ key, ...r }] : [];
          })
          .slice(0, limit),
      gcHorizon: () => this.gcHorizon,
    };
    this.core = new SplitTxnCore({ splitId, range: { start: '', end: '' }, self: `n-${splitId}`, reader: this.reader, commandPrefix: `n-${splitId}-x`, broken, ...extra });
  }

  now(): CoreNow {
    return { tt: { earliest: this.trueUs - this.epsilon, latest: this.trueUs + this.epsilon }, serving: this.serving, monoUs: this.mono };
  }

  lead(round = 1): void {
    this.leaseEnd = this.mono + 60_000_000;
    this.view({ leading: { round, node: 'n1' }, leaderHint: 'n1', leaseEndMonoUs: this.leaseEnd, localReadOk: true });
  }

  view(v: LeadershipView): void {
    this.core.setLeadership(v, this.now());
    this.drain();
  }

  advance(us: number): void {
    this.mono += us;
    this.trueUs += us;
    this.core.tick(this.now());
    this.drain();
  }

  drain(): void {
    for (const o of this.core.takeOutputs()) {
      if (o.type === 'propose') this.log.push(...o.commands);
      if (o.type === 'send') this.sent.push(o);
      this.outputs.push(o);
    }
  }

  readonly sent: Array<Extract<TxnOutput, { type: 'send' }>> = [];

  /** Delivers every message sent so far to its split's harness. */
  deliver(): number {
    const out = this.sent.splice(0);
    for (const m of out) {
      const to = this.peers.get(m.toSplit);
      if (!to) continue;
      to.core.splitMessage(this.splitId, m.msg, to.now());
      to.drain();
    }
    return out.length;
  }

  /** Applies every proposed command (one entry each) and makes it durable. */
  applyAll(durable = true): void {
    while (this.slot < this.log.length) {
      const cmd = this.log[this.slot]!;
      const w = this.core.apply({ slot: this.slot, commands: [cmd], duplicates: [] }, this.now());
      this.slot++;
      if (w.child) this.children.push(w.child);
      this.drain();
      if (durable) this.persist(w.versions);
    }
  }

  /** Child states returned by applied cut entries. */
  readonly children: ChildInit[] = [];

  persist(vs: Array<{ key: string; ts: number; value?: unknown }>): void {
    for (const v of vs) this.versions.set(v.key, [...(this.versions.get(v.key) ?? []), { ts: v.ts, value: v.value }]);
    this.core.durable(this.slot, this.now());
    this.drain();
  }

  send(req: Parameters<SplitTxnCore['request']>[1]): number {
    const id = ++this.reqSeq;
    this.core.request(id, req, this.now());
    this.drain();
    return id;
  }

  answer(reqId: number): TxnOutput | undefined {
    return this.outputs.find((o) => (o.type === 'reply' || o.type === 'error') && o.reqId === reqId);
  }

  /** Brings a fresh leader past its epoch barrier. */
  ready(): void {
    this.lead();
    this.applyAll();
  }
}
