import { open, type Key } from 'lmdb';
import { afterEach, describe, expect, it } from 'vitest';
import { DB_NAMES } from './keys.js';
import { openStorage, type Storage } from './storage.js';
import { snapshot, tempDir } from './test-helpers.js';
import { VALUE_ENCODING } from './value-encoding.js';
import type { TxnOutcome } from './types.js';

// Outcome records are keyed by the group's decision order, `[groupId, seq] -> {i: txnId, o}`
// (libs/storage/README.md, "Outcome layout"); environments written with `[groupId, txnId] -> {s, o}`
// are rewritten once, at open.

const ok = (ts: number): TxnOutcome => ({ committed: true, ts });

const dirs: Array<{ remove: () => void }> = [];
const opened: Storage[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
  for (const d of dirs.splice(0)) d.remove();
});

function dir(): string {
  const d = tempDir();
  dirs.push(d);
  return d.path;
}

function openAt(path: string): Storage {
  const s = openStorage({ path, fsync: false });
  opened.push(s);
  return s;
}

async function closeAll(): Promise<void> {
  for (const s of opened.splice(0)) await s.close();
}

/** Every key of the outcome database, read raw with the storage's own encoding. */
async function rawOutcomeKeys(path: string): Promise<Key[]> {
  const env = open({ ...VALUE_ENCODING, path, maxDbs: 8 });
  try {
    return Array.from(env.openDB<unknown, Key>({ name: DB_NAMES.txnOutcomes }).getKeys());
  } finally {
    await env.close();
  }
}

/** Writes outcome records as builds before sequence keys did: `[groupId, txnId] -> {s, o}`, lmdb-js defaults. */
async function writeLegacyOutcomes(path: string, records: Array<[Key, unknown]>): Promise<void> {
  const legacy = open({ path, maxDbs: 8 });
  const db = legacy.openDB<unknown, Key>({ name: DB_NAMES.txnOutcomes });
  await legacy.transaction(() => {
    for (const [key, value] of records) db.putSync(key, value);
  });
  await legacy.close();
}

describe('outcome layout', () => {
  it('keys a group’s records by decision order: one round’s outcomes are neighbours whatever their ids', async () => {
    const path = dir();
    const storage = openAt(path);
    await storage.applyEntry('g1', 1, [], { outcomes: { put: [['zz-client-9:1.1', ok(1)], ['aa-client-1:1.1', ok(2)], ['mm-client-5:1.1', ok(3)]], forget: [] } });
    await storage.applyEntry('g1', 2, [], { outcomes: { put: [['aa-client-1:2.1', ok(4)]], forget: ['zz-client-9:1.1'] } });
    await closeAll();
    expect(await rawOutcomeKeys(path)).toEqual([
      ['g1', 1],
      ['g1', 2],
      ['g1', 3],
    ]);
  });

  it('rewrites records of the id-keyed layout at open, in their order, and goes on from there', async () => {
    const path = dir();
    // Decision order is `s`, not the ids' order.
    await writeLegacyOutcomes(path, [
      [['g1', 'c'], { s: 0, o: ok(1) }],
      [['g1', 'a'], { s: 1, o: ok(2) }],
      [['g1', 'b'], { s: 5, o: { committed: false, reason: 'lost a lock', slot: 3, at: 2 } }],
      [['g2', 'x'], { s: 0, o: ok(9) }],
    ]);

    const storage = openAt(path);
    expect(storage.outcomes('g1')).toEqual([
      ['c', ok(1)],
      ['a', ok(2)],
      ['b', { committed: false, reason: 'lost a lock', slot: 3, at: 2 }],
    ]);
    expect(storage.outcomes('g2')).toEqual([['x', ok(9)]]);
    // The rewritten records behave as any: an id put again moves last, a forgotten one goes, new ones follow.
    await storage.applyEntry('g1', 7, [], { outcomes: { put: [['c', ok(10)], ['d', ok(11)]], forget: ['a'] } });
    expect(storage.outcomes('g1')).toEqual([
      ['b', { committed: false, reason: 'lost a lock', slot: 3, at: 2 }],
      ['c', ok(10)],
      ['d', ok(11)],
    ]);
    await closeAll();
    expect(await rawOutcomeKeys(path)).toEqual([
      ['g1', 5],
      ['g1', 6],
      ['g1', 7],
      ['g2', 0],
    ]);
    expect(openAt(path).outcomes('g1').map(([id]) => id)).toEqual(['b', 'c', 'd']);
  });

  it('refuses to open over an id-keyed record without a sequence number, and rewrites nothing', async () => {
    const path = dir();
    await writeLegacyOutcomes(path, [
      [['g1', 'a'], { s: 0, o: ok(1) }],
      [['g1', 'b'], { o: ok(2) }],
    ]);
    expect(() => openStorage({ path, fsync: false })).toThrow(/outcome record \["g1","b"\] has no sequence number/);
    expect(await rawOutcomeKeys(path)).toEqual([
      ['g1', 'a'],
      ['g1', 'b'],
    ]);
  });

  it('refuses to open over two id-keyed records of a group with one sequence number, and rewrites nothing', async () => {
    const path = dir();
    await writeLegacyOutcomes(path, [
      [['g1', 'a'], { s: 3, o: ok(1) }],
      [['g1', 'b'], { s: 3, o: ok(2) }],
      [['g2', 'c'], { s: 3, o: ok(3) }],
    ]);
    expect(() => openStorage({ path, fsync: false })).toThrow(/outcome records \["g1","a"\] and \["g1","b"\] both claim sequence number 3 of group g1/);
    expect(await rawOutcomeKeys(path)).toEqual([
      ['g1', 'a'],
      ['g1', 'b'],
      ['g2', 'c'],
    ]);
  });

  it('a snapshot listing an id twice keeps its later place, as a put again does', async () => {
    const path = dir();
    const storage = openAt(path);
    await storage.installSnapshot('g1', { start: '', end: '' }, [], snapshot(4), {}, [
      ['t1', ok(1)],
      ['t2', ok(2)],
      ['t1', ok(3)],
    ]);
    expect(storage.outcomes('g1')).toEqual([
      ['t2', ok(2)],
      ['t1', ok(3)],
    ]);
    await storage.applyEntry('g1', 5, [], { outcomes: { put: [], forget: ['t1'] } });
    await closeAll();
    expect(openAt(path).outcomes('g1')).toEqual([['t2', ok(2)]]);
  });

  it('a group dropped and hosted again starts an empty table', async () => {
    const path = dir();
    const storage = openAt(path);
    await storage.applyEntry('g1', 1, [], { outcomes: { put: [['t1', ok(1)], ['t2', ok(2)]], forget: [] } });
    const dropped = storage.dropGroup('g1', null);
    const again = storage.applyEntry('g1', 1, [], { outcomes: { put: [['t3', ok(3)]], forget: ['t1'] } });
    await Promise.all([dropped, again]);
    expect(storage.outcomes('g1')).toEqual([['t3', ok(3)]]);
    await closeAll();
    expect(await rawOutcomeKeys(path)).toEqual([['g1', 0]]);
  });
});
