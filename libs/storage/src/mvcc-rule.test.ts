import { describe, expect, it } from 'vitest';
import type { MvccReader } from '@synod/txn';
import { MemoryMvccStore } from './memory-mvcc.js';
import { MvccStore } from './mvcc-store.js';
import { mvccStoreSuite } from './mvcc-suite.fixture.js';
import { storageFixture } from './storage.fixture.js';
import { compareKeys } from './version-rule.js';

// The same suite against both stores: one rule (version-rule.ts), two enumerations of versions.
describe('LMDB', () => {
  const fresh = storageFixture({ fsync: false });
  mvccStoreSuite('MvccStore (LMDB)', () => fresh().storage.mvcc);
});
mvccStoreSuite('MemoryMvccStore', () => new MemoryMvccStore());

describe('both stores are an MvccReader of the transaction core', () => {
  it('type-checks structurally (compile-time) and answers like one', () => {
    const readers: Array<(s: MvccStore | MemoryMvccStore) => MvccReader> = [(s) => s];
    const mem = new MemoryMvccStore();
    mem.put([{ key: 'k', ts: 5, value: 'v' }]);
    const reader = readers[0]!(mem);
    expect(reader.get('k', 5)).toMatchObject({ value: 'v', ts: 5 });
    expect(reader.scan('', '', 5, 10)).toEqual([{ key: 'k', value: 'v', ts: 5 }]);
    expect(reader.gcHorizon()).toBe(0);
  });
});

describe('compareKeys', () => {
  it('is code-point order: what UTF-8 bytes (and so LMDB keys) sort by', () => {
    const keys = ['', 'a', 'a\u0000', 'ab', '\u007f', '\u0080', '\u07ff', '\u0800', '\ud7ff', '\ue000', '\uffff', '\u{10000}', '\u{10ffff}', '\u{10000}a'];
    const bytes = (s: string) => Buffer.from(s, 'utf8');
    for (const a of keys) for (const b of keys) expect(Math.sign(compareKeys(a, b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBe(Math.sign(Buffer.compare(bytes(a), bytes(b))));
  });
});
