import { MAX_BATCH_BYTES, MAX_BATCH_FRAMES } from '@synod/limits';
import { describe, expect, it } from 'vitest';
import { BATCH_MAGIC, batchBytes, decodeBatch, encodeBatch, isBatch } from './batch-frame.js';

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
});
