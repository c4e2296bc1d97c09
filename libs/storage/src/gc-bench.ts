// How long version GC holds the event loop on a large keyspace (docs/spanserver.md, "Version GC").
// Prints, asserts nothing. Run: npx tsx libs/storage/src/gc-bench.ts [versions] [--fsync]
import { performance } from 'node:perf_hooks';
import { openStorage } from './storage.js';
import { tempDir } from './test-helpers.js';
import { GC_SLICE_BUDGET_MS, GC_SLICE_MAX_ENTRIES } from './version-gc.js';
import type { VersionWrite } from './version-rule.js';

const versions = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 200_000);
const fsync = process.argv.includes('--fsync');
const sliceEntries = Number(process.argv.find((a) => a.startsWith('--slice='))?.slice(8) ?? GC_SLICE_MAX_ENTRIES);
const PER_KEY = 4;

/** Chained setImmediate callbacks; the longest gap between two is the longest stall of the loop. */
function loopWatch(): { stop: () => number[] } {
  let last = performance.now();
  const gaps: number[] = [];
  let on = true;
  const tick = () => {
    const t = performance.now();
    gaps.push(t - last);
    last = t;
    if (on) setImmediate(tick);
  };
  setImmediate(tick);
  return { stop: () => ((on = false), gaps) };
}

/** p50, p99 and max of `xs`, in ms. */
function spread(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
  return `p50 ${at(0.5).toFixed(2)} / p99 ${at(0.99).toFixed(2)} / max ${(s[s.length - 1] ?? NaN).toFixed(2)} ms`;
}

const dir = tempDir('synod-gc-bench-');
const storage = openStorage({ path: dir.path, fsync });
try {
  // Keys of 4 versions each at ts 10, 20, 30, 40; GC at 35 removes 2 per key (10 and 20).
  const batch: VersionWrite[] = [];
  for (let i = 0; i < versions / PER_KEY; i++)
    for (let v = 1; v <= PER_KEY; v++) {
      batch.push({ key: `user/${String(i).padStart(8, '0')}`, ts: v * 10, value: `value-${i}-${v}` });
      if (batch.length === 10_000) await storage.mvcc.put(batch.splice(0));
    }
  if (batch.length > 0) await storage.mvcc.put(batch.splice(0));
  const watch = loopWatch();
  const t0 = performance.now();
  const sliceMs: number[] = [];
  const overBudget: string[] = [];
  const r = await storage.mvcc.gcPass(35, {
    sliceEntries,
    onSlice: (s) => {
      sliceMs.push(s.ms);
      if (s.ms > 2 * GC_SLICE_BUDGET_MS) overBudget.push(`${s.ms.toFixed(1)} ms/${s.versionsScanned} versions`);
    },
  });
  const totalMs = performance.now() - t0;
  const gaps = watch.stop();
  console.log(`synod gc bench: ${versions.toLocaleString('en-US')} versions, fsync=${fsync}, slices of at most ${sliceEntries} versions`);
  console.log(`removed ${r.removed.toLocaleString('en-US')} in ${totalMs.toFixed(1)} ms over ${r.slices} slices`);
  console.log(`slice read+sieve: ${spread(sliceMs)}`);
  console.log(`slices over twice the budget (time/versions read): ${overBudget.join(', ') || 'none'}`);
  console.log(`event-loop gaps (${gaps.length} turns): ${spread(gaps)}`);
} finally {
  await storage.close();
  dir.remove();
}
