import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStorage } from '@synod/storage';
import { SplitTxnCore } from '@synod/txn';
import { SplitState } from './split-state.js';

/** A snapshot from a peer is untrusted: decode refuses anything that restore could not take. */
describe('a received split snapshot is validated before use', () => {
  const dir = mkdtempSync(join(tmpdir(), 'synod-snapdecode-'));
  const storage = openStorage({ path: dir, fsync: false });
  afterAll(async () => {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const state = (start: string, end: string) => {
    const s = new SplitState('s1', storage, { applied: 0 }, (e) => { throw e; }, { start, end });
    const core = new SplitTxnCore({ splitId: 's1', range: { start, end }, self: 'n1', reader: storage.mvcc, commandPrefix: 'test' });
    s.attach(core, () => ({ tt: { earliest: 1, latest: 2 }, serving: true, monoUs: 0 }), () => undefined);
    return s;
  };
  const sender = state('', '');
  const snap = { upTo: 3, data: { header: { maxAppliedTs: 10, lastCommitTs: 10 } }, dedupe: { clients: [], other: [] }, configs: [{ fromSlot: 0, peers: ['a', 'b', 'c'], q1: 2, q2: 2 }] };

  it('a well-formed snapshot decodes', () => {
    const text = sender.transfer.encode(snap);
    expect(state('', '').transfer.decode(text).upTo).toBe(3);
  });

  it('rows outside the receiving split are refused', async () => {
    await storage.mvcc.put([{ key: 'zzz', ts: 5, value: 'x' }]);
    const text = sender.transfer.encode(snap);
    expect(() => state('a', 'm').transfer.decode(text)).toThrow(/outside the split/);
  });

  it('malformed text, dedupe or configs are refused', () => {
    const good = JSON.parse(sender.transfer.encode(snap)) as Record<string, unknown>;
    const receiver = state('', '');
    expect(() => receiver.transfer.decode('{"upTo": 3,')).toThrow();
    expect(() => receiver.transfer.decode(JSON.stringify({ ...good, upTo: -1 }))).toThrow();
    expect(() => receiver.transfer.decode(JSON.stringify({ ...good, configs: [] }))).toThrow();
    expect(() => receiver.transfer.decode(JSON.stringify({ ...good, dedupe: { clients: 'x' } }))).toThrow();
  });
});
