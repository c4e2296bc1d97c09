import { MAX_BATCH_BYTES, MAX_BATCH_FRAMES } from '@synod/limits';

/**
 * The wire form of a batch of coalesced peer messages (docs/transport.md "Coalescing"):
 *
 *   0xc1 | format version (1) | frame count (u16 BE) | per frame: length (u32 BE), bytes
 *
 * Each frame is exactly the bytes one message would carry alone (an `encode`d envelope), so the
 * receiver runs it through the single-message path unchanged. 0xc1 is the one byte MessagePack
 * never uses, and every envelope is a MessagePack array, so the first byte tells a batch from a
 * message without parsing either.
 */
export const BATCH_MAGIC = 0xc1;
export const BATCH_FORMAT_VERSION = 1;
/** Magic, version, count. */
export const BATCH_HEADER_BYTES = 4;
/** The length prefix in front of every frame. */
export const BATCH_FRAME_OVERHEAD_BYTES = 4;

export type BatchDecodeResult = { ok: true; frames: Uint8Array[] } | { ok: false; detail: string };

/** Whether these bytes claim to be a batch (the framing itself is checked by decodeBatch). */
export function isBatch(bytes: Uint8Array): boolean {
  return bytes.byteLength > 0 && bytes[0] === BATCH_MAGIC;
}

/** The encoded size of a batch of frames totalling `frameBytes` bytes. */
export function batchBytes(frames: number, frameBytes: number): number {
  return BATCH_HEADER_BYTES + frames * BATCH_FRAME_OVERHEAD_BYTES + frameBytes;
}

/** Frames one batch; the caller keeps within MAX_BATCH_FRAMES and its byte budget (a broken promise is a bug: it throws). */
export function encodeBatch(frames: readonly Uint8Array[]): Uint8Array {
  return encodeFrames(BATCH_FORMAT_VERSION, frames.map((bytes) => ({ id: 0, bytes })));
}

/**
 * Splits untrusted bytes into frames (views into `bytes`, no copies). Never throws. The framing
 * is checked whole before any frame is returned, so a broken batch delivers nothing: over
 * MAX_BATCH_BYTES, wrong magic or version, a count of 0 or over MAX_BATCH_FRAMES, an empty
 * frame, a length running past the end, or bytes left over after the last frame.
 */
export function decodeBatch(bytes: Uint8Array): BatchDecodeResult {
  const r = decodeFrames(bytes, BATCH_FORMAT_VERSION);
  return r.ok ? { ok: true, frames: r.frames.map((f) => f.bytes) } : r;
}

/**
 * The wire form of a batch of requests, or of replies to them (docs/transport.md "Request
 * batching"): each frame carries the id its requester gave it, so replies can come back in any
 * order and several messages.
 *
 *   0xc1 | format version (2) | frame count (u16 BE) | per frame: id (u32 BE), length (u32 BE), bytes
 */
export const TAGGED_BATCH_FORMAT_VERSION = 2;
/** The id and length in front of every tagged frame. */
export const TAGGED_FRAME_OVERHEAD_BYTES = 8;

export interface TaggedFrame {
  id: number;
  bytes: Uint8Array;
}

export type TaggedBatchDecodeResult = { ok: true; frames: TaggedFrame[] } | { ok: false; detail: string };

/** Whether these bytes claim to be a tagged batch (the framing is checked by decodeTaggedBatch). */
export function isTaggedBatch(bytes: Uint8Array): boolean {
  return bytes.byteLength > 1 && bytes[0] === BATCH_MAGIC && bytes[1] === TAGGED_BATCH_FORMAT_VERSION;
}

/** The encoded size of a tagged batch of frames totalling `frameBytes` bytes. */
export function taggedBatchBytes(frames: number, frameBytes: number): number {
  return BATCH_HEADER_BYTES + frames * TAGGED_FRAME_OVERHEAD_BYTES + frameBytes;
}

/** Frames one tagged batch; the caller keeps within MAX_BATCH_FRAMES and its byte budget (a broken promise is a bug: it throws). */
export function encodeTaggedBatch(frames: readonly TaggedFrame[]): Uint8Array {
  return encodeFrames(TAGGED_BATCH_FORMAT_VERSION, frames);
}

/** Splits untrusted bytes into tagged frames, as decodeBatch does (views, never throws, framing checked whole first). */
export function decodeTaggedBatch(bytes: Uint8Array): TaggedBatchDecodeResult {
  return decodeFrames(bytes, TAGGED_BATCH_FORMAT_VERSION);
}

/** Bytes in front of each frame: its length, and in a tagged batch its id first. */
const frameOverhead = (version: number) => (version === TAGGED_BATCH_FORMAT_VERSION ? TAGGED_FRAME_OVERHEAD_BYTES : BATCH_FRAME_OVERHEAD_BYTES);

/** Both formats: a tagged batch writes each frame's id before its length; a peer batch has no ids. */
function encodeFrames(version: number, frames: readonly TaggedFrame[]): Uint8Array {
  if (frames.length < 1 || frames.length > MAX_BATCH_FRAMES) throw new RangeError(`a batch holds 1..${MAX_BATCH_FRAMES} frames, not ${frames.length}`);
  const overhead = frameOverhead(version);
  const tagged = version === TAGGED_BATCH_FORMAT_VERSION;
  let payload = 0;
  for (const f of frames) payload += f.bytes.byteLength;
  const out = new Uint8Array(BATCH_HEADER_BYTES + frames.length * overhead + payload);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out[0] = BATCH_MAGIC;
  out[1] = version;
  view.setUint16(2, frames.length);
  let at = BATCH_HEADER_BYTES;
  for (const f of frames) {
    if (tagged) {
      if (!Number.isInteger(f.id) || f.id < 0 || f.id > 0xffff_ffff) throw new RangeError(`a frame id is a u32, not ${f.id}`);
      view.setUint32(at, f.id);
    }
    view.setUint32(at + overhead - 4, f.bytes.byteLength);
    out.set(f.bytes, at + overhead);
    at += overhead + f.bytes.byteLength;
  }
  return out;
}

function decodeFrames(bytes: Uint8Array, version: number): TaggedBatchDecodeResult {
  if (bytes.byteLength > MAX_BATCH_BYTES) return { ok: false, detail: `${bytes.byteLength} bytes, over the batch maximum of ${MAX_BATCH_BYTES}` };
  if (bytes.byteLength < BATCH_HEADER_BYTES) return { ok: false, detail: `${bytes.byteLength} bytes, shorter than a batch header` };
  if (bytes[0] !== BATCH_MAGIC) return { ok: false, detail: 'not a batch' };
  if (bytes[1] !== version) return { ok: false, detail: `unsupported batch format ${bytes[1]}` };
  const overhead = frameOverhead(version);
  const tagged = version === TAGGED_BATCH_FORMAT_VERSION;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint16(2);
  if (count < 1 || count > MAX_BATCH_FRAMES) return { ok: false, detail: `${count} frames, outside 1..${MAX_BATCH_FRAMES}` };
  if (BATCH_HEADER_BYTES + count * overhead > bytes.byteLength) return { ok: false, detail: `${count} frames cannot fit in ${bytes.byteLength} bytes` };
  const frames: TaggedFrame[] = [];
  let at = BATCH_HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    if (at + overhead > bytes.byteLength) return { ok: false, detail: `frame ${i}'s ${tagged ? 'header' : 'length'} runs past the end` };
    const id = tagged ? view.getUint32(at) : 0;
    const len = view.getUint32(at + overhead - 4);
    at += overhead;
    if (len === 0) return { ok: false, detail: `frame ${i} is empty` };
    if (len > bytes.byteLength - at) return { ok: false, detail: `frame ${i} claims ${len} bytes, ${bytes.byteLength - at} remain` };
    frames.push({ id, bytes: bytes.subarray(at, at + len) });
    at += len;
  }
  if (at !== bytes.byteLength) return { ok: false, detail: `${bytes.byteLength - at} bytes after the last frame` };
  return { ok: true, frames };
}
