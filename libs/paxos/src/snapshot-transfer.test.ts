import { describe, expect, it } from 'vitest';
import { JSON_SNAPSHOT_TRANSFER, type Snapshot } from './output.js';
import { SnapshotReceiver, SnapshotSender } from './snapshot-transfer.js';

const snap = (data: unknown): Snapshot => ({ upTo: 7, data, dedupe: { clients: [], other: [] }, configs: [] });
const asMsg = (body: NonNullable<ReturnType<SnapshotSender['chunk']>>, from: string) => ({ ...body, group: 'g', from });

describe('snapshot transfer', () => {
  it('never cuts a chunk between the halves of a surrogate pair, and the parts add up to the text', () => {
    const s = snap('ab😀'.repeat(50));
    const sender = new SnapshotSender(JSON_SNAPSHOT_TRANSFER, 5);
    const first = sender.chunk(s, 0)!;
    const parts: string[] = [];
    for (let i = 0; i < first.chunks; i++) parts.push(sender.chunk(s, i)!.data);
    for (const p of parts) {
      const last = p.charCodeAt(p.length - 1);
      expect(last >= 0xd800 && last <= 0xdbff, `chunk ends with a high surrogate: ${JSON.stringify(p)}`).toBe(false);
    }
    expect(parts.join('')).toBe(JSON_SNAPSHOT_TRANSFER.encode(s));
  });

  it('a transfer starts only from the peer being caught up from; a text that does not decode is dropped', () => {
    const sender = new SnapshotSender(JSON_SNAPSHOT_TRANSFER, 1_000);
    const body = sender.chunk(snap({ x: 1 }), 0)!;
    const receiver = new SnapshotReceiver(JSON_SNAPSHOT_TRANSFER);
    expect(receiver.receive(asMsg(body, 'mallory'), 0, 'a').kind).toBe('ignored');
    expect(receiver.active()).toBe(false);
    expect(receiver.receive(asMsg(body, 'a'), 0, 'a').kind).toBe('complete');
    const corrupt = { ...body, data: '{"upTo": 7, oops' };
    expect(receiver.receive(asMsg(corrupt, 'a'), 0, 'a').kind).toBe('ignored');
  });
});
