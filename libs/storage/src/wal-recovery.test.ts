import { appendFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStorage, type Storage } from './storage.js';
import { WriteAheadLog, type WalRecord } from './wal.js';
import { ballot, entry, snapshot, tempDir } from './test-helpers.js';

const opened: Storage[] = [];
const cleanups: Array<() => void> = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
  cleanups.splice(0).forEach((c) => c());
});
function dataDir(): string {
  const d = tempDir('synod-walrec-');
  cleanups.push(d.remove);
  return d.path;
}
function open(path: string, wal = true): Storage {
  const s = openStorage({ path, fsync: true, wal });
  opened.push(s);
  return s;
}
async function close(s: Storage): Promise<void> {
  opened.splice(opened.indexOf(s), 1);
  await s.close();
}
/** Leaves records in `<path>/wal` as a run that crashed before LMDB took them would. */
async function leaveLog(path: string, firstSeq: number, records: Array<Omit<WalRecord, 'seq'>>): Promise<string> {
  const wal = new WriteAheadLog(join(path, 'wal'), firstSeq);
  for (const r of records) await wal.append(r)!.durable;
  await wal.close(false);
  return join(path, 'wal');
}
const walFiles = (path: string) => readdirSync(join(path, 'wal')).filter((n) => n.endsWith('.wal'));

describe('write-ahead log: acknowledgement and recovery', () => {
  it('acknowledges a persist once its record is on disk, before LMDB commits it', async () => {
    const s = open(dataDir());
    await s.paxos('g1').persist({ promised: ballot(1), accepted: [entry(0, ballot(1))] });
    expect(s.fsyncCount()).toBe(1); // the log's fdatasync
    expect(s.stats.batchesCommitted).toBe(0); // the LMDB copy waits to share a transaction
    expect((await s.paxos('g1').load()).accepted).toEqual([entry(0, ballot(1))]);
    expect(s.stats.batchesCommitted).toBe(1);
  });

  it("a follower's vote: one log fdatasync, and one LMDB transaction for its copy with the apply before it", async () => {
    const s = open(dataDir());
    const g = s.paxos('g1');
    await g.persist({ promised: ballot(1) });
    await g.load();
    s.deferApplies('g1', true);
    const batches = s.stats.batchesCommitted;
    const flushes = s.fsyncCount();
    const apply = s.applyEntry('g1', 1, [{ key: 'a', ts: 5, value: 1 }]);
    await g.persist({ accepted: [entry(1, ballot(1))] });
    await apply;
    await g.load();
    expect(s.stats.batchesCommitted).toBe(batches + 1);
    expect(s.fsyncCount()).toBe(flushes + 2);
    expect(s.mvcc.get('a', 10)?.value).toBe(1);
  });

  it('replays records LMDB never committed at start-up', async () => {
    const path = dataDir();
    await leaveLog(path, 1, [
      { group: 'g1', promised: ballot(4, 'n2') },
      { group: 'g1', accepted: [entry(0, ballot(4, 'n2')), entry(1, ballot(4, 'n2'))] },
      { group: 'g2', accepted: [{ slot: 7, ballot: ballot(1), value: { kind: 'noop' } }] },
    ]);
    const s = open(path);
    expect(await s.paxos('g1').load()).toEqual({ promised: ballot(4, 'n2'), accepted: [entry(0, ballot(4, 'n2')), entry(1, ballot(4, 'n2'))] });
    expect((await s.paxos('g2').load()).accepted).toEqual([{ slot: 7, ballot: ballot(1), value: { kind: 'noop' } }]);
    // Replayed into LMDB and synced: the old segments are gone, the new log starts after them.
    expect(walFiles(path)).toEqual(['0000000000000004.wal']);
  });

  it('skips records LMDB already holds: a later write of the same slot is not undone', async () => {
    const path = dataDir();
    const first = open(path);
    await first.paxos('g1').persist({ accepted: [entry(0, ballot(2), 'old')] }); // record 1
    await first.paxos('g1').persist({ accepted: [entry(0, ballot(3), 'new')] }); // record 2
    await close(first); // LMDB holds both; a clean close leaves no log
    expect(walFiles(path)).toEqual([]);
    // A segment whose deletion a crash lost, still holding record 1.
    await leaveLog(path, 1, [{ group: 'g1', accepted: [entry(0, ballot(2), 'old')] }]);
    const s = open(path);
    expect((await s.paxos('g1').load()).accepted).toEqual([entry(0, ballot(3), 'new')]);
  });

  it('raises the promise from the log but never lowers it, and never touches the applied index', async () => {
    const path = dataDir();
    const first = open(path);
    await first.paxos('g1').persist({ promised: ballot(5) });
    await first.applyEntry('g1', 7, [{ key: 'a', ts: 10, value: 1 }], { header: { h: 1 } });
    await close(first);
    await leaveLog(path, 2, [
      { group: 'g1', promised: ballot(9) },
      { group: 'g1', promised: ballot(3) },
    ]);
    const s = open(path);
    expect((await s.paxos('g1').load()).promised).toEqual(ballot(9));
    const applied = await s.paxos('g1').appliedState();
    expect(applied.upTo).toBe(7);
    expect(applied.header).toEqual({ h: 1 });
  });

  it('replays up to a torn last record, then logs afresh and keeps everything across another restart', async () => {
    const path = dataDir();
    const wal = await leaveLog(path, 1, [
      { group: 'g1', accepted: [entry(0, ballot(1))] },
      { group: 'g1', accepted: [entry(1, ballot(1))] },
    ]);
    appendFileSync(join(wal, '0000000000000001.wal'), Buffer.from([200, 0, 0, 0, 1, 2, 3])); // a frame cut short
    const s = open(path);
    expect((await s.paxos('g1').load()).accepted.map((e) => e.slot)).toEqual([0, 1]);
    await s.paxos('g1').persist({ accepted: [entry(2, ballot(1))] });
    await close(s);
    const again = open(path);
    expect((await again.paxos('g1').load()).accepted.map((e) => e.slot)).toEqual([0, 1, 2]);
  });

  it('replays a log left behind even when opened without one', async () => {
    const path = dataDir();
    await leaveLog(path, 1, [{ group: 'g1', promised: ballot(2) }]);
    const s = open(path, false);
    expect((await s.paxos('g1').load()).promised).toEqual(ballot(2));
    expect(walFiles(path)).toEqual([]);
  });

  it('a persist behind a barrier (an installed snapshot not yet durable) waits for LMDB', async () => {
    const s = open(dataDir());
    const g = s.paxos('g1');
    await g.persist({ promised: ballot(1) });
    await g.load(); // LMDB has caught up
    const committedBefore = s.stats.writesCommitted;
    const install = s.installSnapshot('g1', { start: '', end: '\uffff' }, [], snapshot(10), { h: 2 });
    await g.persist({ accepted: [entry(10, ballot(1))] });
    // Resolved only after its own LMDB commit, which follows the install's.
    expect(s.stats.writesCommitted).toBe(committedBefore + 2);
    await install;
    // Once the barrier is durable, persists are acknowledged from the log again.
    const before = s.stats.writesCommitted;
    await g.persist({ accepted: [entry(11, ballot(1))] });
    expect(s.stats.writesCommitted).toBe(before);
  });
});
