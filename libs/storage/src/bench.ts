// Persist throughput and latency with fsync, at concurrency 1 and 64, to show
// the group-commit effect. Run: npx tsx libs/storage/src/bench.ts [seconds] [--no-fsync] [--no-wal]
// (--no-wal: every persist waits for its LMDB commit instead of the write-ahead log).
import { performance } from 'node:perf_hooks';
import { openStorage } from './storage.js';
import { tempDir } from './test-helpers.js';
import type { AcceptedEntry } from '@synod/paxos';

const seconds = Number(process.argv.slice(2).find((a) => /^\d+(\.\d+)?$/.test(a)) ?? 3);
const fsync = !process.argv.includes('--no-fsync');
const wal = !process.argv.includes('--no-wal');
const GROUPS = 16;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function sampleEntry(slot: number): AcceptedEntry {
  // About the size of a small client batch: ~200 bytes encoded.
  return {
    slot,
    ballot: { round: 7, node: 'node-a' },
    value: { kind: 'batch', cmds: [{ id: `cmd-${slot}`, payload: { key: `user/${slot % 1000}`, value: 'x'.repeat(128) } }] },
  };
}

async function run(concurrency: number): Promise<void> {
  const dir = tempDir('synod-bench-');
  const storage = openStorage({ path: dir.path, fsync, wal });
  try {
    const latencies: number[] = [];
    const nextSlot = new Map<string, number>();
    const deadline = performance.now() + seconds * 1000;
    // Each client is one "replica step" after another: persist, wait, persist again.
    const client = async (id: number) => {
      const group = `g${id % GROUPS}`;
      const store = storage.paxos(group);
      while (performance.now() < deadline) {
        const slot = nextSlot.get(group) ?? 0;
        nextSlot.set(group, slot + 1);
        const start = performance.now();
        await store.persist({ accepted: [sampleEntry(slot)] });
        latencies.push(performance.now() - start);
      }
    };
    const started = performance.now();
    const cpu = process.cpuUsage();
    await Promise.all(Array.from({ length: concurrency }, (_, i) => client(i)));
    const elapsed = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    const flushes = storage.fsyncCount();
    // The LMDB copies of logged persists may still be queued: wait for them before reading stats.
    for (let g = 0; g < GROUPS; g++) await storage.paxos(`g${g}`).load();
    latencies.sort((a, b) => a - b);
    const { batchesCommitted, writesCommitted, largestBatch } = storage.stats;
    console.log(
      [
        `concurrency ${String(concurrency).padStart(3)}`,
        `${Math.round(latencies.length / elapsed).toLocaleString('en-US').padStart(7)} persists/s`,
        `CPU ${Math.round((used.user + used.system) / latencies.length)} µs/persist`,
        `${Math.round(flushes / elapsed)} flushes/s`,
        `p50 ${percentile(latencies, 50).toFixed(2)} ms`,
        `p99 ${percentile(latencies, 99).toFixed(2)} ms`,
        `${Math.round(batchesCommitted / elapsed)} batches/s`,
        `avg batch ${(writesCommitted / batchesCommitted).toFixed(1)} (max ${largestBatch})`,
      ].join('  '),
    );
  } finally {
    await storage.close();
    dir.remove();
  }
}

console.log(`synod storage bench: fsync=${fsync}, write-ahead log ${wal ? 'on' : 'off'}, ${seconds}s per run, ${GROUPS} groups`);
for (const concurrency of [1, 64]) await run(concurrency);
