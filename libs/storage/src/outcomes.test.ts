import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { openStorage } from './storage.js';
import { storageFixture } from './storage.fixture.js';
import { snapshot, tempDir } from './test-helpers.js';
import type { TxnOutcome } from './types.js';

const ok = (ts: number): TxnOutcome => ({ committed: true, ts });
const no = (reason: string): TxnOutcome => ({ committed: false, reason });

describe('durable outcome table', () => {
  const fresh = storageFixture({ fsync: false });

  it('is written with the entry and reloads in decision order, per group', async () => {
    const { storage, reopen } = fresh();
    await storage.applyEntry('g1', 1, [{ key: 'a', ts: 10, value: 1 }], { outcomes: { put: [['zeta', ok(10)], ['alpha', no('lost a lock')]], forget: [] } });
    await storage.applyEntry('g10', 1, [], { outcomes: { put: [['other', ok(3)]], forget: [] } });
    await storage.applyEntry('g1', 2, [], { outcomes: { put: [['mid', ok(11)]], forget: ['zeta'] } });
    // Decided and evicted by the same entry: gone, as from a table that decides, then evicts.
    await storage.applyEntry('g1', 3, [], { outcomes: { put: [['brief', ok(12)], ['beta', ok(12)]], forget: ['brief', 'never-there'] } });
    const expected: Array<[string, TxnOutcome]> = [['alpha', no('lost a lock')], ['mid', ok(11)], ['beta', ok(12)]];
    expect(storage.outcomes('g1')).toEqual(expected);
    const again = await reopen();
    expect(again.outcomes('g1')).toEqual(expected);
    expect(again.outcomes('g10')).toEqual([['other', ok(3)]]);
    expect(again.outcomes('g')).toEqual([]);
    // Sequence numbers go on after a restart: new outcomes come last, an id put again moves to the end.
    await again.applyEntry('g1', 4, [], { outcomes: { put: [['aaa', ok(20)], ['alpha', no('decided again')]], forget: [] } });
    expect(again.outcomes('g1')).toEqual([['mid', ok(11)], ['beta', ok(12)], ['aaa', ok(20)], ['alpha', no('decided again')]]);
    expect((await again.paxos('g1').appliedState()).upTo).toBe(4);
  });

  it('stores an outcome whole: the deciding slot and applied timestamp the core keeps with it come back', async () => {
    const { storage, reopen } = fresh();
    await storage.applyEntry('g1', 8, [], { outcomes: { put: [['t1', { committed: true, ts: 40, slot: 7, at: 39 }], ['t2', { committed: false, reason: 'x', slot: 7, at: 39 }]], forget: [] } });
    await storage.installSnapshot('g2', { start: 'x', end: 'y' }, [], snapshot(3), {}, [['s1', { committed: true, ts: 5, slot: 2, at: 4 }]]);
    const again = await reopen();
    expect(again.outcomes('g1')).toEqual([['t1', { committed: true, ts: 40, slot: 7, at: 39 }], ['t2', { committed: false, reason: 'x', slot: 7, at: 39 }]]);
    expect(again.outcomes('g2')).toEqual([['s1', { committed: true, ts: 5, slot: 2, at: 4 }]]);
    expect(() => again.applyEntry('g1', 9, [], { outcomes: { put: [['t3', { committed: true, ts: 41, slot: -1 }]], forget: [] } })).toThrow(/malformed/);
  });

  it('keeps many outcomes in decision order, whatever their ids sort like', async () => {
    const { storage, reopen } = fresh();
    const ids = Array.from({ length: 300 }, (_, i) => `txn-${(i * 7919) % 1000}`);
    for (let i = 0; i < ids.length; i += 10) void storage.applyEntry('g1', i / 10 + 1, [], { outcomes: { put: ids.slice(i, i + 10).map((id, j) => [id, ok(i + j + 1)]), forget: [] } });
    const again = await reopen();
    expect(again.outcomes('g1').map(([id]) => id)).toEqual(ids);
  });

  it('a snapshot install replaces the group’s table (and only that group’s), in the snapshot’s order', async () => {
    const { storage, reopen } = fresh();
    await storage.applyEntry('g1', 1, [], { outcomes: { put: [['old-1', ok(1)], ['keep?', ok(2)]], forget: [] } });
    await storage.applyEntry('g2', 1, [], { outcomes: { put: [['g2-only', ok(1)]], forget: [] } });
    await storage.installSnapshot('g1', { start: '', end: '' }, [['k', 5, { v: 'x' }]], snapshot(10), { maxAppliedTs: 5 }, [
      ['snap-b', ok(4)],
      ['keep?', no('aborted in the snapshot')],
      ['snap-a', ok(3)],
    ]);
    expect(storage.outcomes('g1')).toEqual([['snap-b', ok(4)], ['keep?', no('aborted in the snapshot')], ['snap-a', ok(3)]]);
    await storage.applyEntry('g1', 11, [], { outcomes: { put: [['after', ok(6)]], forget: ['snap-b'] } });
    const again = await reopen();
    expect(again.outcomes('g1')).toEqual([['keep?', no('aborted in the snapshot')], ['snap-a', ok(3)], ['after', ok(6)]]);
    expect(again.outcomes('g2')).toEqual([['g2-only', ok(1)]]);
    // A snapshot with no outcomes leaves an empty table.
    await again.installSnapshot('g1', { start: '', end: '' }, [], snapshot(20), { maxAppliedTs: 6 });
    expect(again.outcomes('g1')).toEqual([]);
    expect(again.outcomes('g2')).toEqual([['g2-only', ok(1)]]);
  });

  it('versions, outcomes and the applied index are one write op, visible together when it resolves', async () => {
    const { storage } = fresh();
    const before = storage.stats.writesCommitted;
    const write = storage.applyEntry('g1', 1, [{ key: 'a', ts: 10, value: 1 }], { outcomes: { put: [['t', ok(10)]], forget: [] } });
    expect(storage.mvcc.get('a', 10)).toBeUndefined();
    expect(storage.outcomes('g1')).toEqual([]);
    await write;
    // One op in one LMDB transaction: no crash can keep part of it (the SIGKILL test below checks the disk).
    expect(storage.stats.writesCommitted - before).toBe(1);
    expect(storage.mvcc.get('a', 10)).toMatchObject({ value: 1 });
    expect(storage.outcomes('g1')).toEqual([['t', ok(10)]]);
    expect((await storage.paxos('g1').appliedState()).upTo).toBe(1);
  });

  it('refuses malformed outcomes synchronously and writes nothing of the entry', async () => {
    const { storage } = fresh();
    const bad: unknown[] = [{ committed: true }, { committed: true, ts: 1.5 }, { committed: false }, null, { ts: 3 }];
    for (const o of bad) {
      expect(() => storage.applyEntry('g1', 1, [{ key: 'a', ts: 10, value: 1 }], { outcomes: { put: [['t', o as TxnOutcome]], forget: [] } })).toThrow(/malformed/);
    }
    expect(() => storage.applyEntry('g1', 1, [], { outcomes: { put: [], forget: [7 as unknown as string] } })).toThrow(/must be a string/);
    expect(() => storage.installSnapshot('g1', { start: '', end: '' }, [], snapshot(5), {}, [['t', { committed: 'yes' } as unknown as TxnOutcome]])).toThrow(/malformed/);
    // Nothing moved: the same applied index is still free, and nothing was written.
    await storage.applyEntry('g1', 1, [], { outcomes: { put: [['fine', ok(1)]], forget: [] } });
    expect(storage.outcomes('g1')).toEqual([['fine', ok(1)]]);
    expect(storage.mvcc.get('a', 10)).toBeUndefined();
    expect((await storage.paxos('g1').appliedState()).upTo).toBe(1);
  });
});

// ---------------------------------------------------------------- crash safety

const here = dirname(fileURLToPath(import.meta.url));
const writer = join(here, 'outcome-writer.fixture.ts');

/** Starts the writer on `path`, SIGKILLs it once it has reported `reports` applied entries; returns the highest reported. */
function runAndKill(path: string, reports: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', writer, path], { cwd: join(here, '..'), stdio: ['ignore', 'pipe', 'pipe'] });
    let buffered = '';
    let stderr = '';
    let seen = 0;
    let highest = 0;
    let killed = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`writer too slow: ${seen} reports; stderr: ${stderr}`));
    }, 30_000);
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout.on('data', (c: Buffer) => {
      buffered += c.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const [kind, n] = line.split(' ');
        if (kind !== 'applied') continue;
        seen++;
        highest = Math.max(highest, Number(n));
      }
      if (!killed && seen >= reports) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (!killed) reject(new Error(`writer exited by itself (code ${code}); stderr: ${stderr}`));
      else resolve(highest);
    });
  });
}

describe('durable outcome table across SIGKILL', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => cleanups.splice(0).forEach((c) => c()));

  it('after every crash, versions, outcomes and the applied index agree on one prefix of the entries', async () => {
    const dir = tempDir('synod-outcomes-');
    cleanups.push(dir.remove);
    const outcomeOf = (s: number): TxnOutcome => (s % 3 === 0 ? no(`r${s}`) : ok(s + 1));
    const key = (s: number) => `k${String(s).padStart(6, '0')}`;
    for (let round = 0; round < 3; round++) {
      const reported = await runAndKill(dir.path, 250);
      const storage = openStorage({ path: dir.path });
      try {
        const st = await storage.paxos('g1').appliedState();
        const upTo = st.upTo;
        expect(upTo, 'every reported entry survived').toBeGreaterThanOrEqual(reported);
        expect(st.header).toEqual({ last: upTo - 1 });
        // The table is exactly the one after entry upTo - 1: nothing of a later entry, nothing of this one missing.
        const table = Array.from({ length: Math.min(5, upTo) }, (_, i) => upTo - Math.min(5, upTo) + i).map((s): [string, TxnOutcome] => [`t${s}`, outcomeOf(s)]);
        expect(storage.outcomes('g1')).toEqual(table);
        // The versions: every entry below upTo, none at or above it.
        const rows = storage.mvcc.rangeRows('', '');
        expect(rows).toHaveLength(upTo);
        expect(rows.at(-1)?.[0]).toBe(key(upTo - 1));
        expect(storage.mvcc.get(key(upTo - 1), upTo)).toMatchObject({ value: upTo - 1 });
        expect(storage.mvcc.latestVersionTs(key(upTo))).toBe(0);
      } finally {
        await storage.close();
      }
    }
  }, 60_000);
});
