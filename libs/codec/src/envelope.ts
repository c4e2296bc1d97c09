import { Packr } from 'msgpackr';
import { z } from 'zod';
import { messageSchemas, type MessageBody, type MessageKind } from './messages.js';

export const WIRE_VERSION = 1;
/** Larger payloads are refused before decoding; snapshots travel in chunks well below this. */
export const MAX_MESSAGE_BYTES = 1 << 20;

export interface Envelope<K extends MessageKind = MessageKind> {
  v: number;
  /** Sender node id. */
  from: string;
  /** Sender DC: the receiver needs it to apply the simulated link between the two DCs. */
  dc: string;
  kind: K;
  /** Paxos group the message concerns; '' for process-level traffic. */
  group: string;
  body: MessageBody<K>;
}

export type DropReason = 'too_large' | 'malformed' | 'bad_envelope' | 'unknown_kind' | 'bad_body';
export type DecodeResult = { ok: true; envelope: Envelope } | { ok: false; reason: DropReason; detail: string };

const shortString = z.string().max(63);
const envelopeTuple = z.tuple([z.literal(WIRE_VERSION), shortString.min(1), shortString.min(1), z.string().max(63), shortString, z.unknown()]);

// Plain MessagePack (no msgpackr record extension), so non-JS peers can speak the protocol too.
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

/**
 * Encodes a message as a MessagePack array `[v, from, dc, kind, group, body]`: positional
 * fields keep the per-message overhead to a few bytes.
 */
export function encode<K extends MessageKind>(e: Omit<Envelope<K>, 'v'>): Uint8Array {
  return packr.pack([WIRE_VERSION, e.from, e.dc, e.kind, e.group, e.body]);
}

/** Decodes and validates untrusted bytes. Never throws: a bad message is a value. */
export function decode(bytes: Uint8Array): DecodeResult {
  if (bytes.byteLength > MAX_MESSAGE_BYTES) return { ok: false, reason: 'too_large', detail: `${bytes.byteLength} bytes` };
  let raw: unknown;
  try {
    raw = packr.unpack(bytes);
  } catch (err) {
    return { ok: false, reason: 'malformed', detail: (err as Error).message.slice(0, 200) };
  }
  const tuple = envelopeTuple.safeParse(raw);
  if (!tuple.success) return { ok: false, reason: 'bad_envelope', detail: tuple.error.issues[0]?.message ?? 'bad envelope' };
  const [v, from, dc, kind, group, body] = tuple.data;
  if (!Object.hasOwn(messageSchemas, kind)) return { ok: false, reason: 'unknown_kind', detail: kind };
  const parsed = messageSchemas[kind as MessageKind].safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: 'bad_body', detail: `${kind}: ${issue?.path.join('.')} ${issue?.message}` };
  }
  return { ok: true, envelope: { v, from, dc, kind: kind as MessageKind, group, body: parsed.data } as Envelope };
}
