/**
 * The spanserver's version GC (docs/spanserver.md, "Version GC"): incremental passes on its
 * timer collect old versions, persist the horizon, refuse reads below it, and report progress as
 * metrics (docs/metrics.md).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { RangeMap } from '@synod/placement';
import { MemoryHub } from '@synod/transport';
import { startInMemoryClient, startInMemoryNode } from './in-memory-node.fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'synod-gc-'));
const stops: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  rmSync(dir, { recursive: true, force: true });
});

it('collects overwritten versions on its timer, persists the horizon and counts the pass', async () => {
  const hub = new MemoryHub();
  const rangeMap = RangeMap.uniform([{ id: 'n1', dc: 'dc-a' }], []);
  // Retention 1 s: every version but the newest of a key is garbage by the first pass a second
  // after the last write. Not shorter: a read is refused SNAPSHOT_TOO_OLD when a pass moves the
  // horizon past its timestamp while it waits (for t_safe, for its timestamp to be surely past),
  // and with 1 ms a read here outwaited the retention on a loaded machine.
  const node = await startInMemoryNode(hub, { id: 'n1', dc: 'dc-a', path: join(dir, 'n1'), rangeMap }, { server: { gcRetentionMs: 1_000, gcIntervalMs: 50 } });
  stops.push(node.stop);
  const { client, close } = await startInMemoryClient(hub, 'c1', 'dc-a', rangeMap);
  stops.push(close);
  const first = await client.put('k', 1);
  await client.put('k', 2);
  const last = await client.put('k', 3);
  const metrics = node.bus.metrics;
  // Bounded wait for the timer's pass (a tick every 50 ms, collecting once the retention has passed).
  for (let i = 0; i < 800 && metrics.get('synod_gc_versions_removed_total') < 2; i++) await new Promise((r) => setTimeout(r, 25));
  expect(metrics.get('synod_gc_versions_removed_total')).toBeGreaterThanOrEqual(2);
  expect(node.storage.mvcc.rangeRows('k', 'k\u0000').map(([, ts]) => ts)).toEqual([last]);
  expect(node.storage.timeMark().gcHorizonUs).toBeGreaterThan(last);
  expect(metrics.get('synod_gc_passes_total', { outcome: 'completed' })).toBeGreaterThanOrEqual(1);
  expect(metrics.get('synod_gc_slices_total')).toBeGreaterThanOrEqual(1);
  expect(metrics.get('synod_gc_versions_scanned_total')).toBeGreaterThanOrEqual(3);
  expect(metrics.get('synod_gc_keys_scanned_total')).toBeGreaterThanOrEqual(1);
  expect(metrics.get('synod_gc_longest_slice_seconds')).toBeGreaterThan(0);
  await expect(client.get('k', { ts: first })).rejects.toMatchObject({ code: 'SNAPSHOT_TOO_OLD' });
  expect(await client.get('k')).toBe(3);
}, 30_000);

it('a version GC pass that fails stops the process (fail-stop), it is not only logged', async () => {
  const hub = new MemoryHub();
  const rangeMap = RangeMap.uniform([{ id: 'n2', dc: 'dc-a' }], []);
  const fatal: unknown[] = [];
  const node = await startInMemoryNode(hub, { id: 'n2', dc: 'dc-a', path: join(dir, 'n2'), rangeMap }, { server: { gcRetentionMs: 1, gcIntervalMs: 50 }, onFatal: (err) => void fatal.push(err) });
  stops.push(node.stop);
  node.storage.collectVersions = () => Promise.reject(new Error('gc: a slice read 1001 versions, over its bound 1000'));
  for (let i = 0; i < 200 && fatal.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
  expect(String(fatal[0])).toContain('over its bound');
}, 30_000);
