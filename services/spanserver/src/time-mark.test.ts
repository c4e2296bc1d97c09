/**
 * The persisted time high-water mark (docs/spanserver.md): a spanserver started on data whose
 * mark is ahead of its clock (the clock moved back) issues no timestamp at or below the mark,
 * and the persisted GC horizon, not now − retention, bounds snapshot reads.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { RangeMap } from '@synod/placement';
import { openStorage } from '@synod/storage';
import { MemoryHub } from '@synod/transport';
import { startInMemoryClient, startInMemoryNode } from './in-memory-node.fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'synod-timemark-'));
const stops: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  rmSync(dir, { recursive: true, force: true });
});
const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);

it('a restart behind the persisted mark issues timestamps above it, and the persisted GC horizon holds', async () => {
  const hub = new MemoryHub();
  const rangeMap = RangeMap.uniform([{ id: 'n1', dc: 'dc-a' }], []);
  const path = join(dir, 'n1');
  // An earlier run issued timestamps up to 3 s ahead of this clock and collected up to 10 minutes ago.
  const seed = openStorage({ path, fsync: false });
  const markUs = nowUs() + 3_000_000;
  const horizonUs = nowUs() - 600_000_000;
  await seed.raiseTimeMark({ issuedUs: markUs, gcHorizonUs: horizonUs });
  await seed.close();

  const node = await startInMemoryNode(hub, { id: 'n1', dc: 'dc-a', path, rangeMap }, { server: { timeMarkIntervalMs: 50 } });
  stops.push(node.stop);
  const { client, close } = await startInMemoryClient(hub, 'c1', 'dc-a', rangeMap);
  stops.push(close);

  // The first commit goes above the mark: the lease cannot cover a timestamp that far ahead, so
  // it is refused (and retried) until TrueTime gets close enough; it never lands below the mark.
  const t0 = Date.now();
  let ts = 0;
  while (ts === 0) {
    try {
      ts = await client.put('k', 1);
    } catch (err) {
      if (Date.now() - t0 > 20_000) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  console.log(`[timing] first commit after ${Date.now() - t0} ms, ${ts - markUs} µs above the mark`);
  expect(ts).toBeGreaterThan(markUs);
  // Below the persisted horizon (though above now − 1 h): SNAPSHOT_TOO_OLD.
  await expect(client.get('k', { ts: horizonUs - 60_000_000 })).rejects.toMatchObject({ code: 'SNAPSHOT_TOO_OLD' });
  // The mark keeps rising while the node serves: its timer (50 ms) persists it. Polled, bounded:
  // on a loaded machine the timer and the write may take longer than a fixed sleep.
  for (let i = 0; i < 200 && node.storage.timeMark().issuedUs < ts; i++) await new Promise((r) => setTimeout(r, 25));
  expect(node.storage.timeMark().issuedUs).toBeGreaterThanOrEqual(ts);
}, 30_000);
