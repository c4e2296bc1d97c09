import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RangeMap } from '@synod/placement';
import { MemoryHub } from '@synod/transport';
import { startInMemoryNode, type InMemoryNode } from './in-memory-node.fixture.js';
import { collectSpanserverGauges } from './metrics.js';
import { eachInSlices } from './slices.js';
import { LocalTrueTime } from './time-source.js';

/** Counts turns of the event loop (check phase) until stopped; bounded. */
function countTurns(): { turns: () => number; stop: () => void } {
  let n = 0;
  let stopped = false;
  const tick = () => {
    if (stopped || n >= 10_000) return;
    n++;
    setImmediate(tick);
  };
  setImmediate(tick);
  return { turns: () => n, stop: () => (stopped = true) };
}

describe('eachInSlices', () => {
  it('visits every item in order, with a turn of the event loop after each slice that ran out', async () => {
    let clock = 0;
    const seen: number[] = [];
    const turnsAt: number[] = [];
    const t = countTurns();
    // Every reading of the clock is 5 ms later: every item ends a slice of 4 ms.
    await eachInSlices([1, 2, 3, 4], (x) => {
      seen.push(x);
      turnsAt.push(t.turns());
    }, 4, () => (clock += 5));
    t.stop();
    expect(seen).toEqual([1, 2, 3, 4]);
    // Other callbacks ran between consecutive items.
    for (let i = 1; i < turnsAt.length; i++) expect(turnsAt[i]).toBeGreaterThan(turnsAt[i - 1]!);
  });

  it('runs in one turn while the slice has time left', async () => {
    const turnsAt: number[] = [];
    const t = countTurns();
    await eachInSlices([1, 2, 3, 4], () => turnsAt.push(t.turns()), 4, () => 0);
    t.stop();
    expect(new Set(turnsAt).size).toBe(1);
  });
});

describe('node.status and the scrape over many splits', () => {
  const rangeMap = RangeMap.uniform([{ id: 'n1', dc: 'dc-a' }], ['b', 'c', 'd', 'e', 'f', 'g', 'h']);
  const hub = new MemoryHub();
  let dir: string;
  let node: InMemoryNode;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'synod-status-slices-'));
    node = await startInMemoryNode(hub, { id: 'n1', dc: 'dc-a', path: join(dir, 'n1'), rangeMap });
  }, 30_000);

  afterAll(async () => {
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('builds the per-split list in slices, letting the event loop run between them', async () => {
    const t = countTurns();
    // A slice of 0 ms: a turn after every split.
    const sliced = await node.server.statusSliced(0);
    t.stop();
    expect(t.turns()).toBeGreaterThanOrEqual(rangeMap.all().length - 1);
    const whole = node.server.status();
    expect(sliced.groups.map((g) => g.id)).toEqual(whole.groups.map((g) => g.id));
    expect(sliced.groups.map((g) => g.id).sort()).toEqual(rangeMap.all().map((s) => s.id).sort());
    expect(sliced.groups[0]).toHaveProperty('logEntries');
  });

  it('answers node.status on the bus with every split', async () => {
    const r = await node.bus.request('n1', 'node.status', {}, { timeoutMs: 5_000 });
    expect((r.body as { groups: Array<{ id: string }> }).groups).toHaveLength(rangeMap.all().length);
  });

  it('a scrape sets every per-split gauge, the log size and reapplied entries among them', async () => {
    collectSpanserverGauges(node.bus.metrics, node.server, new LocalTrueTime(1_000));
    const text = await node.bus.metrics.render();
    for (const s of rangeMap.all()) {
      expect(text).toContain(`synod_split_log_entries{split="${s.id}"}`);
      expect(text).toContain(`synod_split_reapplied_entries_total{split="${s.id}"}`);
      expect(text).toContain(`synod_split_leader{split="${s.id}"}`);
    }
  });
});
