// The write-ahead log of acceptor writes (libs/storage/README.md, "Write-ahead log").
//
// Why: an LMDB commit is about ten page writes, an fdatasync of the data file and a synchronous
// meta-page write, with two hops between the event loop and lmdb-js's write thread. Three
// replicas of a group sharing one disk made a follower's vote wait 1.6-1.8 ms for it at one
// client, 3-4 ms under load (docs/benchmarks.md, "Round 6"). A vote needs only its acceptor state
// on disk: one appended record and one fdatasync. The same writes still go to LMDB right behind
// (the source of truth for everything else), and a record is dropped once LMDB has committed it.
//
// Format: segment files `<first seq, 16 digits>.wal`, each a sequence of frames
//   [u32 LE payload length][u32 LE CRC-32 of the payload][payload: MessagePack { s, g, p?, e? }]
// A crash can leave a torn last frame: reading stops at the first frame that is short, has a
// zero or impossible length, or fails its checksum. Nothing after it was ever acknowledged,
// because a record is acknowledged only after the fdatasync that covers it.

import { closeSync, fdatasync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import type { AcceptedEntry, Ballot } from '@synod/paxos';
import { crc32 } from './crc32.js';
import { VALUE_ENCODING } from './value-encoding.js';

/** One acknowledged-on-append persist of one group (PaxosStore.persist): what recovery writes back. */
export interface WalRecord {
  /** Position in the process's log, from 1, one more than the record before it. */
  seq: number;
  group: string;
  promised?: Ballot;
  accepted?: AcceptedEntry[];
}

const HEADER_BYTES = 8;
/** A segment is closed once it holds this much; closed segments are deleted once LMDB holds their records. */
export const WAL_SEGMENT_BYTES = 8 * 1024 * 1024;
/**
 * Largest record written or read. A larger persist takes the LMDB path instead (PaxosStore); on
 * read, a larger length field can only be damage. A Paxos persist is far smaller (docs/limits.md).
 */
export const WAL_RECORD_MAX_BYTES = 16 * 1024 * 1024;
const SEGMENT_NAME = /^\d{16}\.wal$/;

const packr = new Packr(VALUE_ENCODING);

/** A record's frame: header and payload. */
function encodeRecord(r: WalRecord): Buffer {
  const body: { s: number; g: string; p?: Ballot; e?: AcceptedEntry[] } = { s: r.seq, g: r.group };
  if (r.promised !== undefined) body.p = r.promised;
  if (r.accepted !== undefined && r.accepted.length > 0) body.e = r.accepted;
  const payload = packr.pack(body);
  const frame = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  frame.writeUInt32LE(payload.length, 0);
  frame.writeUInt32LE(crc32(payload), 4);
  payload.copy(frame, HEADER_BYTES);
  return frame;
}

function decodeRecord(payload: Uint8Array, where: string): WalRecord {
  const body = packr.unpack(payload) as { s?: unknown; g?: unknown; p?: Ballot; e?: AcceptedEntry[] };
  // A whole frame with a good checksum that is not a record is not a torn write: stop, loudly.
  if (!Number.isSafeInteger(body?.s) || (body.s as number) < 1 || typeof body.g !== 'string' || (body.e !== undefined && !Array.isArray(body.e)))
    throw new Error(`write-ahead log ${where}: a checksummed frame is not a record`);
  const r: WalRecord = { seq: body.s as number, group: body.g };
  if (body.p !== undefined) r.promised = body.p;
  if (body.e !== undefined) r.accepted = body.e;
  return r;
}

export interface WalScan {
  /** Every whole record, in log order. */
  records: WalRecord[];
  /** The segment files read, oldest first. */
  segments: string[];
}

/** Reads every segment in `dir` (none if it does not exist), each up to its first torn frame. */
export function scanWal(dir: string): WalScan {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], segments: [] };
    throw err;
  }
  const segments = names.filter((n) => SEGMENT_NAME.test(n)).sort().map((n) => join(dir, n));
  const records: WalRecord[] = [];
  for (const path of segments) {
    const bytes = readFileSync(path);
    for (let at = 0; at + HEADER_BYTES <= bytes.length; ) {
      const length = bytes.readUInt32LE(at);
      if (length === 0 || length > WAL_RECORD_MAX_BYTES || at + HEADER_BYTES + length > bytes.length) break;
      const payload = bytes.subarray(at + HEADER_BYTES, at + HEADER_BYTES + length);
      if (crc32(payload) !== bytes.readUInt32LE(at + 4)) break;
      const record = decodeRecord(payload, `${path} at byte ${at}`);
      const previous = records.at(-1);
      if (previous !== undefined && record.seq <= previous.seq) throw new Error(`write-ahead log ${path}: record ${record.seq} after ${previous.seq}`);
      records.push(record);
      at += HEADER_BYTES + length;
    }
  }
  return { records, segments };
}

/** Makes a created or deleted file's directory entry durable. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The file operations the log uses; tests pass failing ones. */
export interface WalFiles {
  openSync(path: string, flags: string): number;
  writeSync(fd: number, bytes: Uint8Array, offset: number, length: number): number;
  fdatasync(fd: number, done: (err: NodeJS.ErrnoException | null) => void): void;
  closeSync(fd: number): void;
  unlinkSync(path: string): void;
  fsyncDir(dir: string): void;
}

const nodeFiles: WalFiles = {
  openSync: (path, flags) => openSync(path, flags),
  writeSync: (fd, bytes, offset, length) => writeSync(fd, bytes, offset, length),
  fdatasync: (fd, done) => fdatasync(fd, done),
  closeSync: (fd) => closeSync(fd),
  unlinkSync: (path) => unlinkSync(path),
  fsyncDir,
};

interface Pending {
  frame: Buffer;
  seq: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Appends records and makes them durable with group commit: while one fdatasync is in flight,
 * new records queue, and the next write takes them all. A record's promise resolves after the
 * fdatasync that covers it. After a failed write or fdatasync every pending and later append
 * rejects (fail-stop: nothing about the file can be assumed; restart, and recovery reads it).
 */
export class WriteAheadLog {
  private fd: number;
  private segment: string;
  private segmentBytes = 0;
  private segmentLastSeq = 0;
  private readonly closedSegments: Array<{ path: string; lastSeq: number }> = [];
  private queue: Pending[] = [];
  private writing = false;
  private scheduled = false;
  private failure: Error | null = null;
  private nextSeq: number;
  private syncCount = 0;
  private idleWaiters: Array<() => void> = [];

  /** Starts a new segment in `dir` whose first record will be `firstSeq`. */
  constructor(
    private readonly dir: string,
    firstSeq: number,
    private readonly files: WalFiles = nodeFiles,
    private readonly segmentLimit = WAL_SEGMENT_BYTES,
  ) {
    if (!Number.isSafeInteger(firstSeq) || firstSeq < 1) throw new Error(`write-ahead log: bad first sequence number ${firstSeq}`);
    mkdirSync(dir, { recursive: true });
    this.nextSeq = firstSeq;
    this.segment = this.segmentPath(firstSeq);
    this.fd = this.files.openSync(this.segment, 'wx');
    this.files.fsyncDir(dir);
  }

  /** Why the log stopped taking records (a failed write or fdatasync, or close), if it did. */
  get failed(): Error | null {
    return this.failure;
  }

  /** fdatasyncs done so far (monotone). */
  get syncs(): number {
    return this.syncCount;
  }

  /**
   * Queues a record of `group` and returns its sequence number and a promise that resolves once
   * it is on disk; null (nothing queued) when its frame would exceed WAL_RECORD_MAX_BYTES.
   * Throws once the log has failed or closed.
   */
  append(record: Omit<WalRecord, 'seq'>): { seq: number; durable: Promise<void> } | null {
    if (this.failure) throw this.failure;
    const seq = this.nextSeq;
    const frame = encodeRecord({ ...record, seq });
    if (frame.length > WAL_RECORD_MAX_BYTES) return null;
    this.nextSeq++;
    const durable = new Promise<void>((resolve, reject) => this.queue.push({ frame, seq, resolve, reject }));
    if (!this.writing && !this.scheduled) {
      // The records of one turn of the event loop (every message it read, every group) share a
      // write and an fdatasync: each fdatasync is a hand-off to a libuv thread and back, about
      // 30 µs of CPU here, and a flush of the shared disk (docs/benchmarks.md, "Round 6").
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.writeQueued();
      });
    }
    return { seq, durable };
  }

  /** Deletes closed segments whose records are all at or below `seq` (LMDB has committed them). */
  retireThrough(seq: number): void {
    while (this.closedSegments.length > 0 && this.closedSegments[0]!.lastSeq <= seq) {
      const { path } = this.closedSegments.shift()!;
      // A deletion lost to a crash only leaves records recovery skips (their seq is committed).
      this.files.unlinkSync(path);
    }
  }

  /**
   * Waits for queued records to be written, then closes the file. With `discard` (every record
   * is committed in LMDB) it deletes every segment: the next start has nothing to replay.
   */
  async close(discard: boolean): Promise<void> {
    await new Promise<void>((resolve) => (this.writing || this.scheduled || this.queue.length > 0 ? this.idleWaiters.push(resolve) : resolve()));
    this.failure ??= new Error('write-ahead log is closed');
    this.files.closeSync(this.fd);
    if (!discard) return;
    for (const { path } of this.closedSegments.splice(0)) this.files.unlinkSync(path);
    this.files.unlinkSync(this.segment);
    this.files.fsyncDir(this.dir);
  }

  /** The highest sequence number appended so far (the first one less 1 before any). */
  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  private segmentPath(firstSeq: number): string {
    return join(this.dir, `${String(firstSeq).padStart(16, '0')}.wal`);
  }

  private writeQueued(): void {
    if (this.writing) return;
    if (this.failure || this.queue.length === 0) {
      for (const wake of this.idleWaiters.splice(0)) wake();
      return;
    }
    const batch = this.queue;
    this.queue = [];
    this.writing = true;
    try {
      const bytes = batch.length === 1 ? batch[0]!.frame : Buffer.concat(batch.map((p) => p.frame));
      if (this.segmentBytes > 0 && this.segmentBytes + bytes.length > this.segmentLimit) this.rotate(batch[0]!.seq);
      for (let written = 0; written < bytes.length; ) written += this.files.writeSync(this.fd, bytes, written, bytes.length - written);
      this.segmentBytes += bytes.length;
      this.segmentLastSeq = batch.at(-1)!.seq;
    } catch (err) {
      this.fail(batch, err);
      return;
    }
    this.files.fdatasync(this.fd, (err) => {
      this.writing = false;
      if (err) return this.fail(batch, err);
      this.syncCount++;
      for (const p of batch) p.resolve();
      this.writeQueued();
    });
  }

  /** Closes the full segment (its records are durable: every write before this one was synced) and starts the next. */
  private rotate(firstSeq: number): void {
    this.files.closeSync(this.fd);
    this.closedSegments.push({ path: this.segment, lastSeq: this.segmentLastSeq });
    this.segment = this.segmentPath(firstSeq);
    this.fd = this.files.openSync(this.segment, 'wx');
    this.segmentBytes = 0;
    this.files.fsyncDir(this.dir);
  }

  /** Stops the log as a failed write would: LMDB could not commit what it acknowledged (fail-stop). */
  abort(err: unknown): void {
    if (this.failure) return;
    this.fail([], err);
  }

  private fail(batch: Pending[], err: unknown): void {
    this.writing = false;
    const cause = err instanceof Error ? err : new Error(String(err));
    this.failure = new Error(`write-ahead log write failed; storage is read-only until restart: ${cause.message}`, { cause });
    for (const p of batch) p.reject(this.failure);
    for (const p of this.queue.splice(0)) p.reject(this.failure);
    for (const wake of this.idleWaiters.splice(0)) wake();
  }
}
