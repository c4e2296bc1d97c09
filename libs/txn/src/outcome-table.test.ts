import { describe, expect, it } from 'vitest';
import { Prng } from '@synod/prng';
import type { TxnOutcome } from './core-types.js';
import { OutcomeTable } from './outcome-table.js';

/** The table's rules in their plainest form: one Map, insertion order is eviction order. */
class ModelTable {
  readonly entries = new Map<string, { outcome: TxnOutcome; at: number; slot: number }>();
  constructor(
    private readonly max: number,
    private readonly retentionUs: number,
  ) {}
  put(id: string, outcome: TxnOutcome, at: number, slot: number): void {
    this.entries.set(id, { outcome, at, slot });
  }
  evict(maxAppliedTs: number): string[] {
    const gone: string[] = [];
    for (const [id, e] of this.entries) {
      if (this.entries.size <= this.max && e.at >= maxAppliedTs - this.retentionUs) break;
      this.entries.delete(id);
      gone.push(id);
    }
    return gone;
  }
  exportBelow(index: number): Array<[string, unknown]> {
    return [...this.entries].filter(([, e]) => e.slot < index).map(([id, e]) => [id, { ...e.outcome, slot: e.slot, at: e.at }]);
  }
}

describe('OutcomeTable', () => {
  it('matches the one-Map model under random decisions, re-decisions, evictions and reloads, and its change count covers every change (3 seeds × 6,000 steps)', () => {
    for (const seed of [1, 2, 3]) {
      const rng = new Prng(seed);
      const int = (n: number) => Math.floor(rng.next() * n);
      const max = 300 + int(2_000);
      const table = new OutcomeTable(max, 5_000);
      const model = new ModelTable(max, 5_000);
      let ts = 0;
      let slot = 0;
      let nextId = 0;
      // Readings cached as split-core's parked commits cache them: valid while `changes` stands still.
      const cached = new Map<string, { at: number; outcome: TxnOutcome | undefined; durable: boolean }>();
      for (let step = 0; step < 6_000; step++) {
        for (const [id, c] of cached)
          if (c.at === table.changes) {
            expect(table.get(id)).toEqual(c.outcome);
            expect(table.isDurable(id)).toBe(c.durable);
            expect(table.find(id)).toEqual(c.outcome === undefined ? undefined : expect.objectContaining({ outcome: c.outcome, durable: c.durable }));
          } else cached.delete(id);
        if (cached.size < 20) {
          const id = `t${int(nextId + 5)}`;
          cached.set(id, { at: table.changes, outcome: table.get(id), durable: table.isDurable(id) });
        }
        const r = rng.next();
        if (r < 0.1 && nextId > 0) {
          table.markDurable(`t${int(nextId)}`);
          continue;
        }
        if (r < 0.7) {
          // Mostly new ids; sometimes one decided before (it keeps its place in the order).
          const id = rng.next() < 0.1 && nextId > 0 ? `t${int(nextId)}` : `t${nextId++}`;
          const outcome: TxnOutcome = rng.next() < 0.8 ? { committed: true, ts: (ts += 1 + int(20)) } : { committed: false, reason: 'wounded' };
          table.put(id, outcome, ts, ++slot);
          model.put(id, outcome, ts, slot);
        } else if (r < 0.95) {
          expect(table.evict(ts)).toEqual(model.evict(ts));
        } else if (r < 0.997) {
          const id = `t${int(nextId + 5)}`;
          expect(table.get(id)).toEqual(model.entries.get(id)?.outcome);
        } else {
          // A restart: reload from what a snapshot below some index carries, then go on.
          const below = slot - int(50);
          const exported = table.exportBelow(below);
          expect(exported).toEqual(model.exportBelow(below));
          table.load(exported, ts, true);
          model.entries.clear();
          for (const [id, o] of exported) model.put(id, o.committed ? { committed: true, ts: o.ts } : { committed: false, reason: o.reason }, o.at, o.slot);
        }
        expect(table.size).toBe(model.entries.size);
      }
      expect(table.exportBelow(Infinity)).toEqual(model.exportBelow(Infinity));
    }
  });
});
