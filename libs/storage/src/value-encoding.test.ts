import { open, type Key } from 'lmdb';
import { afterEach, describe, expect, it } from 'vitest';
import { DB_NAMES } from './keys.js';
import { openStorage } from './storage.js';
import { ballot, snapshot, tempDir } from './test-helpers.js';
import { MAX_TS } from './version-rule.js';

// Values are plain MessagePack maps (storage.ts, VALUE_ENCODING). Environments written before that
// hold lmdb-js's default encoding (msgpackr records, each value carrying its record definitions):
// they must read back as the same objects.

const dirs: Array<{ remove: () => void }> = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});

/** msgpackr's record extension (fixext 1, type 0x72): a value written with lmdb-js's default encoding. */
const isRecordEncoded = (b: Buffer) => b[0] === 0xd4 && b[1] === 0x72;

describe('value encoding', () => {
  it('reads an environment written with lmdb-js default (record) encoding as the same objects', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const header = { maxAppliedTs: 5, lastCommitTs: 5, prepared: [{ txn: 't9', ts: 9, coordinator: 's1', writes: [{ key: 'k', value: { a: [1, { b: null }] } }] }] };
    const value = { kind: 'batch' as const, cmds: [{ id: 'c0', payload: { t: 'commit', txn: 't0', ts: 4, writes: [{ key: 'k', value: 'v' }] } }] };
    const legacy = open({ path: dir.path, maxDbs: 8 });
    const db = (name: string) => legacy.openDB<unknown, Key>({ name });
    await legacy.transaction(() => {
      db(DB_NAMES.paxosMeta).putSync(['g1'], { promised: ballot(2, 'n2'), applied: 3, header });
      db(DB_NAMES.paxosSnapshot).putSync(['g1'], snapshot(1, { header }));
      db(DB_NAMES.paxosLog).putSync(['g1', 0], { ballot: ballot(2, 'n2'), value });
      db(DB_NAMES.paxosApplied).putSync(['g1', 1], { commandIds: ['c1'] });
      db(DB_NAMES.paxosApplied).putSync(['g1', 2], { commandIds: ['c2', 'c3'] });
      db(DB_NAMES.mvcc).putSync(['k', MAX_TS - 5], { v: { nested: [1, { a: 'b' }], n: null } });
      db(DB_NAMES.mvcc).putSync(['d', MAX_TS - 5], { del: 1 });
      db(DB_NAMES.txnOutcomes).putSync(['g1', 't0'], { s: 0, o: { committed: true, ts: 4, slot: 0, at: 3 } });
      db(DB_NAMES.nodeMeta).putSync('time-mark', { issuedUs: 7, gcHorizonUs: 0 });
    });
    const raw = legacy.openDB<Buffer, Key>({ name: DB_NAMES.paxosMeta, encoding: 'binary' });
    expect(isRecordEncoded(raw.get(['g1'])!)).toBe(true); // the old encoding is what this test reads
    await legacy.close();

    const storage = openStorage({ path: dir.path, fsync: false });
    try {
      expect(await storage.paxos('g1').load()).toEqual({ promised: ballot(2, 'n2'), accepted: [{ slot: 0, ballot: ballot(2, 'n2'), value }], snapshot: snapshot(1, { header }) });
      expect(await storage.paxos('g1').appliedState()).toEqual({
        upTo: 3,
        from: 1,
        records: [
          { slot: 1, commandIds: ['c1'] },
          { slot: 2, commandIds: ['c2', 'c3'] },
        ],
        header,
        snapshot: snapshot(1, { header }),
      });
      expect(storage.mvcc.get('k', 10)).toEqual({ key: 'k', value: { nested: [1, { a: 'b' }], n: null }, ts: 5 });
      expect(storage.mvcc.get('d', 10)).toBeUndefined();
      expect(storage.outcomes('g1')).toEqual([['t0', { committed: true, ts: 4, slot: 0, at: 3 }]]);
      expect(storage.timeMark()).toEqual({ issuedUs: 7, gcHorizonUs: 0 });
      // New writes are plain maps, and read back alike.
      await storage.applyEntry('g1', 4, [{ key: 'k', ts: 6, value: { x: 1 } }], { record: { slot: 3, commandIds: ['c4'] }, header: { ...header, maxAppliedTs: 6 } });
      expect(storage.mvcc.get('k', 10)).toEqual({ key: 'k', value: { x: 1 }, ts: 6 });
      expect((await storage.paxos('g1').appliedState()).header).toEqual({ ...header, maxAppliedTs: 6 });
    } finally {
      await storage.close();
    }
    const check = open({ path: dir.path, maxDbs: 8 });
    const metaBytes = check.openDB<Buffer, Key>({ name: DB_NAMES.paxosMeta, encoding: 'binary' }).get(['g1'])!;
    expect(isRecordEncoded(metaBytes)).toBe(false);
    await check.close();
  });
});
