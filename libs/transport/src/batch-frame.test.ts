import { MAX_BATCH_BYTES, MAX_BATCH_FRAMES } from '@synod/limits';
import { describe, expect, it } from 'vitest';
import { BATCH_MAGIC, batchBytes, decodeBatch, decodeTaggedBatch, encodeBatch, encodeTaggedBatch, isBatch, isTaggedBatch, taggedBatchBytes } from './batch-frame.js';

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

describe('batch framing', () => {
  it('round-trips frames of any size, as views, and reports its own size', () => {
    const frames = [bytes(1, 1), bytes(300, 2), bytes(70_000, 3)];
    const batch = encodeBatch(frames);
    expect(batch.byteLength).toBe(batchBytes(3, 70_301));
    expect(isBatch(batch)).toBe(true);
    const r = decodeBatch(batch);
    expect(r.ok && r.frames.map((f) => [f.byteLength, f[0]])).toEqual([
      [1, 1],
      [300, 2],
      [70_000, 3],
    ]);
  });

  it('decodes a batch that sits inside a larger buffer (a view, as NATS hands them over)', () => {
    const batch = encodeBatch([bytes(5, 7), bytes(6, 8)]);
    const padded = new Uint8Array(batch.byteLength + 10);
    padded.set(batch, 7);
    const r = decodeBatch(padded.subarray(7, 7 + batch.byteLength));
    expect(r.ok && r.frames.map((f) => Array.from(f))).toEqual([Array(5).fill(7), Array(6).fill(8)]);
  });

  it('an envelope never looks like a batch: MessagePack arrays never start with 0xc1', () => {
    expect(isBatch(new Uint8Array([0x96, 1]))).toBe(false);
    expect(isBatch(new Uint8Array([]))).toBe(false);
    expect(isBatch(new Uint8Array([BATCH_MAGIC]))).toBe(true);
  });

  it('refuses to build a batch outside 1..MAX_BATCH_FRAMES frames', () => {
    expect(() => encodeBatch([])).toThrow(RangeError);
    expect(() => encodeBatch(Array.from({ length: MAX_BATCH_FRAMES + 1 }, () => bytes(1, 0)))).toThrow(RangeError);
  });

  it('decodes nothing from a batch over MAX_BATCH_BYTES, however well framed', () => {
    const r = decodeBatch(encodeBatch([bytes(MAX_BATCH_BYTES, 1)]));
    expect(r.ok).toBe(false);
  });

  it('tagged batches (requests, replies) round-trip ids and frames, and neither format passes for the other', () => {
    const frames = [
      { id: 0, bytes: bytes(3, 1) },
      { id: 0xffff_ffff, bytes: bytes(200, 2) },
      { id: 7, bytes: bytes(1, 3) },
    ];
    const tagged = encodeTaggedBatch(frames);
    expect(tagged.byteLength).toBe(taggedBatchBytes(3, 204));
    expect(isTaggedBatch(tagged)).toBe(true);
    const r = decodeTaggedBatch(tagged);
    expect(r.ok && r.frames.map((f) => [f.id, f.bytes.byteLength, f.bytes[0]])).toEqual([
      [0, 3, 1],
      [0xffff_ffff, 200, 2],
      [7, 1, 3],
    ]);
    const peer = encodeBatch([bytes(3, 1)]);
    expect(isTaggedBatch(peer)).toBe(false);
    expect(decodeTaggedBatch(peer)).toEqual({ ok: false, detail: 'unsupported batch format 1' });
    expect(decodeBatch(tagged)).toEqual({ ok: false, detail: 'unsupported batch format 2' });
    expect(() => encodeTaggedBatch([{ id: -1, bytes: bytes(1, 1) }])).toThrow(RangeError);
    expect(() => encodeTaggedBatch([{ id: 2 ** 32, bytes: bytes(1, 1) }])).toThrow(RangeError);
  });

  it('refuses broken tagged framing whole', () => {
    const good = encodeTaggedBatch([
      { id: 1, bytes: bytes(4, 1) },
      { id: 2, bytes: bytes(4, 2) },
    ]);
    const cases: Array<[Uint8Array, RegExp]> = [
      [good.subarray(0, good.byteLength - 1), /claims 4 bytes, 3 remain/],
      [encodeTaggedBatch([{ id: 1, bytes: bytes(20, 1) }, { id: 2, bytes: bytes(4, 2) }]).subarray(0, 4 + 8 + 20 + 5), /frame 1's header runs past the end/],
      [Uint8Array.from([...good, 0]), /1 bytes after the last frame/],
      [Uint8Array.from([BATCH_MAGIC, 2, 0, 0]), /0 frames/],
      [Uint8Array.from([BATCH_MAGIC, 2, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]), /frame 0 is empty/],
    ];
    for (const [b, why] of cases) {
      const r = decodeTaggedBatch(b);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.detail).toMatch(why);
    }
  });
});
