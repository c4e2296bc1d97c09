import { appendFileSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { crc32 } from './crc32.js';
import { scanWal, WriteAheadLog, type WalFiles } from './wal.js';
import { ballot, entry, tempDir } from './test-helpers.js';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));
function dir(): string {
  const d = tempDir('synod-wal-');
  cleanups.push(d.remove);
  return join(d.path, 'wal');
}
const segments = (d: string) => readdirSync(d).filter((n) => n.endsWith('.wal')).sort();

describe('crc32', () => {
  it('is the IEEE CRC-32 (the zlib one)', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
});

describe('WriteAheadLog', () => {
  it('reads back every acknowledged record, in order, as written', async () => {
    const d = dir();
    const wal = new WriteAheadLog(d, 1);
    const a = wal.append({ group: 'g1', promised: ballot(2) })!;
    const b = wal.append({ group: 'g2', accepted: [entry(0, ballot(1)), entry(1, ballot(1))] })!;
    expect([a.seq, b.seq]).toEqual([1, 2]);
    await Promise.all([a.durable, b.durable]);
    const { records } = scanWal(d);
    expect(records).toEqual([
      { seq: 1, group: 'g1', promised: ballot(2) },
      { seq: 2, group: 'g2', accepted: [entry(0, ballot(1)), entry(1, ballot(1))] },
    ]);
    await wal.close(false);
  });

  it('group-commits: one fdatasync for the records of a turn, one for those queued during it', async () => {
    const wal = new WriteAheadLog(dir(), 1);
    const first = Array.from({ length: 10 }, (_, i) => wal.append({ group: 'g', accepted: [entry(i, ballot(1))] })!.durable);
    await new Promise((r) => setImmediate(r)); // the first write is in flight now
    const second = Array.from({ length: 10 }, (_, i) => wal.append({ group: 'g', accepted: [entry(10 + i, ballot(1))] })!.durable);
    await Promise.all([...first, ...second]);
    expect(wal.syncs).toBeGreaterThanOrEqual(1);
    expect(wal.syncs).toBeLessThanOrEqual(2);
    await wal.close(false);
  });

  it('stops reading at a torn or damaged frame: what follows was never acknowledged', async () => {
    const d = dir();
    const wal = new WriteAheadLog(d, 1);
    for (let i = 0; i < 3; i++) await wal.append({ group: 'g', accepted: [entry(i, ballot(1))] })!.durable;
    await wal.close(false);
    const file = join(d, segments(d)[0]!);
    const whole = readFileSync(file);
    expect(scanWal(d).records.map((r) => r.seq)).toEqual([1, 2, 3]);

    truncateSync(file, whole.length - 3); // the last frame cut short
    expect(scanWal(d).records.map((r) => r.seq)).toEqual([1, 2]);

    const damaged = Buffer.from(whole);
    const secondPayload = whole.readUInt32LE(0) + 8 + 8 + 2; // a byte inside the second payload
    damaged[secondPayload] = damaged[secondPayload]! ^ 0xff;
    writeFileSync(file, damaged);
    expect(scanWal(d).records.map((r) => r.seq)).toEqual([1]);

    writeFileSync(file, whole);
    appendFileSync(file, Buffer.alloc(64)); // zeros after the end: a length of 0
    expect(scanWal(d).records.map((r) => r.seq)).toEqual([1, 2, 3]);
  });

  it('refuses a checksummed frame that is not a record rather than dropping it', async () => {
    const d = dir();
    const wal = new WriteAheadLog(d, 1);
    await wal.close(false);
    const payload = Buffer.from([0xc0]); // MessagePack nil
    const frame = Buffer.alloc(8 + payload.length);
    frame.writeUInt32LE(payload.length, 0);
    frame.writeUInt32LE(crc32(payload), 4);
    payload.copy(frame, 8);
    writeFileSync(join(d, segments(d)[0]!), frame);
    expect(() => scanWal(d)).toThrow(/not a record/);
  });

  it('rotates full segments and deletes them once LMDB holds their records', async () => {
    const d = dir();
    const wal = new WriteAheadLog(d, 1, undefined, 2_000);
    for (let i = 0; i < 40; i++) await wal.append({ group: 'g', accepted: [entry(i, ballot(1))] })!.durable;
    const before = segments(d);
    expect(before.length).toBeGreaterThan(2);
    expect(scanWal(d).records.map((r) => r.seq)).toEqual([...Array(40).keys()].map((i) => i + 1));
    // Every record of the first segment is committed elsewhere: only it goes.
    const secondStarts = Number(before[1]!.slice(0, 16));
    wal.retireThrough(secondStarts - 1);
    expect(segments(d)).toEqual(before.slice(1));
    expect(scanWal(d).records[0]!.seq).toBe(secondStarts);
    // A segment still holding an uncommitted record stays.
    wal.retireThrough(secondStarts);
    expect(segments(d)).toEqual(before.slice(1));
    await wal.close(true);
    expect(segments(d)).toEqual([]);
  });

  it('fails stop: after a failed fdatasync the pending records reject and later appends throw', async () => {
    let failNext = false;
    const files: WalFiles = {
      openSync: () => 3,
      writeSync: (_fd, _b, _o, length) => length,
      fdatasync: (_fd, done) => setImmediate(() => done(failNext ? Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }) : null)),
      closeSync: () => undefined,
      unlinkSync: () => undefined,
      fsyncDir: () => undefined,
    };
    const wal = new WriteAheadLog(dir(), 1, files);
    await wal.append({ group: 'g', promised: ballot(1) })!.durable;
    failNext = true;
    const lost = wal.append({ group: 'g', promised: ballot(2) })!.durable;
    await expect(lost).rejects.toThrow(/write-ahead log write failed.*EIO/);
    expect(() => wal.append({ group: 'g', promised: ballot(3) })).toThrow(/write-ahead log write failed/);
    expect(wal.syncs).toBe(1);
  });
});
