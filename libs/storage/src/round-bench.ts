// CPU cost of the storage work of one Paxos round on a follower, the way the spanserver drives it:
// an Accept arrives and its entry is persisted (the Accepted vote waits for the fsync); once it is
// durable the Ready is released and the entry before it, chosen meanwhile, is applied (its MVCC
// versions, outcomes, applied index, header and applied record); the next Accept arrives `--gap`
// ms later. `--cmds` single-key puts per entry. With `--follower` the group's applies are
// deferrable (Storage.deferApplies, as PaxosHost sets it on a follower) and ride with the next
// round's persist. Prints CPU µs (user+system of this process, lmdb's write thread included) and
// LMDB write transactions per round. `--keep` outcomes stay in the table (the oldest are forgotten each round).
// Run: npx tsx libs/storage/src/round-bench.ts [seconds] [--cmds 4] [--gap 2] [--keep 1000] [--follower] [--no-fsync]
import { performance } from 'node:perf_hooks';
import { openStorage } from './storage.js';
import { tempDir } from './test-helpers.js';
import type { AcceptedEntry } from '@synod/paxos';

const args = process.argv.slice(2);
const flag = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const seconds = Number(args.find((a, i) => /^\d+(\.\d+)?$/.test(a) && !args[i - 1]?.startsWith('--')) ?? 5);
const cmdsPerEntry = flag('cmds', 4);
const gapMs = flag('gap', 2);
const keep = flag('keep', 1000);
const follower = args.includes('--follower');
const fsync = !args.includes('--no-fsync');
const GROUP = 's3';
const value = (i: number) => `{"n":${i},"pad":"${'x'.repeat(48)}"}`;

function entryAt(slot: number): AcceptedEntry {
  const cmds = Array.from({ length: cmdsPerEntry }, (_, j) => {
    const txn = `vsetcd-client-${j}-${slot}-0123456789abcdef`;
    return { id: `${txn}:commit`, payload: { t: 'commit', txn, ts: 1_795_765_279_409_000 + slot * 10 + j, writes: [{ key: `v/${String((slot * 7 + j) % 10_000).padStart(6, '0')}`, value: value(slot) }] } };
  });
  return { slot, ballot: { round: 3, node: 'n3' }, value: { kind: 'batch', cmds } };
}

async function main(): Promise<void> {
  const dir = tempDir('synod-round-bench-');
  const storage = openStorage({ path: dir.path, fsync });
  try {
    const store = storage.paxos(GROUP);
    await store.persist({ promised: { round: 3, node: 'n3' } });
    const outcomeIds: string[] = [];
    const apply = (e: AcceptedEntry): Promise<void> => {
      const cmds = e.value.kind === 'batch' ? e.value.cmds : [];
      const versions = cmds.map((c) => {
        const p = c.payload as { ts: number; writes: Array<{ key: string; value: string }> };
        return { key: p.writes[0]!.key, ts: p.ts, value: p.writes[0]!.value };
      });
      const put = cmds.map((c) => {
        const p = c.payload as { txn: string; ts: number };
        return [p.txn, { committed: true as const, ts: p.ts, slot: e.slot, at: p.ts }] as const;
      });
      for (const [id] of put) outcomeIds.push(id);
      // Retention: the table stays at `keep` outcomes.
      const forget = outcomeIds.length > keep ? outcomeIds.splice(0, outcomeIds.length - keep) : [];
      return storage.applyEntry(GROUP, e.slot + 1, versions, {
        record: { slot: e.slot, commandIds: cmds.map((c) => c.id) },
        header: { maxAppliedTs: versions.at(-1)?.ts ?? 0, lastCommitTs: versions.at(-1)?.ts ?? 0 },
        outcomes: { put, forget },
      });
    };
    if (follower) storage.deferApplies(GROUP, true);
    let slot = 0;
    let lastApply: Promise<void> = Promise.resolve();
    const round = async (): Promise<void> => {
      const e = entryAt(slot++);
      await store.persist({ accepted: [e] });
      // Released: the previous entry is applied (not awaited: the follower goes on).
      if (e.slot > 0) lastApply = apply(entryAt(e.slot - 1));
      if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
    };
    // Warm up (JIT, lmdb structures), then measure.
    const warm = performance.now() + 1000;
    while (performance.now() < warm) await round();
    const commits0 = storage.stats.batchesCommitted;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const slot0 = slot;
    const deadline = t0 + seconds * 1000;
    while (performance.now() < deadline) await round();
    await lastApply;
    const cpu = process.cpuUsage(cpu0);
    const rounds = slot - slot0;
    const elapsed = (performance.now() - t0) / 1000;
    const txns = storage.stats.batchesCommitted - commits0;
    console.log(
      `fsync=${fsync} cmds/entry ${cmdsPerEntry} gap ${gapMs} ms keep ${keep}${follower ? ' follower (deferred applies)' : ''}: ${rounds} rounds in ${elapsed.toFixed(1)} s (${(rounds / elapsed).toFixed(0)}/s), ` +
        `CPU ${((cpu.user + cpu.system) / rounds).toFixed(1)} µs/round (user ${(cpu.user / rounds).toFixed(1)}, sys ${(cpu.system / rounds).toFixed(1)}), ` +
        `${(txns / rounds).toFixed(2)} LMDB txns/round`,
    );
  } finally {
    await storage.close();
    dir.remove();
  }
}

await main();
