import { Packr } from 'msgpackr';
import { MAX_TIMESTAMP_US, NATS_MAX_PAYLOAD_BYTES } from '@synod/limits';
import { MISS, fastParsers } from './fast-parse.js';
import { messageSchemas, type MessageBody, type MessageInput, type MessageKind } from './messages.js';

export const WIRE_VERSION = 1;
/**
 * Larger payloads are refused before decoding. The same as the NATS max_payload synod
 * configures, so whatever a sender's bus lets through (a maximal value, a full Paxos message
 * of MAX_PAXOS_MESSAGE_BYTES) is also accepted here.
 */
export const MAX_MESSAGE_BYTES = NATS_MAX_PAYLOAD_BYTES;

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
  /**
   * The sender's TrueTime interval `[earliest, latest]` (µs) when it sent the message; absent
   * when the sender does not stamp (an older sender, a process without TrueTime, or one whose
   * clock is not serving). A receipt whose sender's earliest exceeds the receiver's latest at
   * receipt proves one of the two clocks wrong (docs/transport.md, "Clock evidence").
   */
  tt?: SenderInterval;
}

/** A sender's TrueTime interval at send, µs since the Unix epoch. */
export interface SenderInterval {
  earliest: number;
  latest: number;
}

export type DropReason = 'too_large' | 'malformed' | 'bad_envelope' | 'unknown_kind' | 'bad_body';
export type DecodeResult = { ok: true; envelope: Envelope } | { ok: false; reason: DropReason; detail: string };

const isName = (x: unknown, min: number): x is string => typeof x === 'string' && x.length >= min && x.length <= 63;

/** The envelope's fixed shape, checked by hand: it runs on every message, ahead of the body's zod schema. */
const isMicros = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= MAX_TIMESTAMP_US;

function envelopeProblem(raw: unknown): string | undefined {
  if (!Array.isArray(raw) || (raw.length !== 6 && raw.length !== 7)) return 'expected a 6- or 7-element array';
  if (raw[0] !== WIRE_VERSION) return `unsupported wire version ${String(raw[0]).slice(0, 20)}`;
  if (!isName(raw[1], 1)) return 'bad sender node id';
  if (!isName(raw[2], 1)) return 'bad sender dc';
  if (!isName(raw[3], 1)) return 'bad kind';
  if (!isName(raw[4], 0)) return 'bad group';
  if (raw.length === 7) {
    const tt: unknown = raw[6];
    if (!Array.isArray(tt) || tt.length !== 2 || !isMicros(tt[0]) || !isMicros(tt[1]) || tt[0] > tt[1]) return 'bad sender interval';
  }
  return undefined;
}

// Plain MessagePack (no msgpackr record extension), so non-JS peers can speak the protocol too.
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

/**
 * Encodes a message as a MessagePack array `[v, from, dc, kind, group, body]`, or with the
 * sender's interval `[v, from, dc, kind, group, body, [earliest, latest]]`: positional fields
 * keep the per-message overhead to a few bytes. The interval is rounded outwards to whole µs.
 */
export function encode<K extends MessageKind>(e: Omit<Envelope<K>, 'v' | 'body'> & { body: MessageInput<K> }): Uint8Array {
  if (!e.tt) return packr.pack([WIRE_VERSION, e.from, e.dc, e.kind, e.group, e.body]);
  return packr.pack([WIRE_VERSION, e.from, e.dc, e.kind, e.group, e.body, [Math.floor(e.tt.earliest), Math.ceil(e.tt.latest)]]);
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
  const problem = envelopeProblem(raw);
  if (problem) return { ok: false, reason: 'bad_envelope', detail: problem };
  const [v, from, dc, kind, group, body, tt] = raw as [number, string, string, string, string, unknown, [number, number] | undefined];
  if (!Object.hasOwn(messageSchemas, kind)) return { ok: false, reason: 'unknown_kind', detail: kind };
  // The hottest kinds have a hand-written validator that accepts only what zod would, with zod's
  // output; anything it is not sure of (MISS) goes to zod, which decides and names the reason.
  const fast = Object.hasOwn(fastParsers, kind) ? fastParsers[kind]!(body) : MISS;
  let data: unknown = fast;
  if (fast === MISS) {
    const parsed = messageSchemas[kind as MessageKind].safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return { ok: false, reason: 'bad_body', detail: `${kind}: ${issue?.path.join('.')} ${issue?.message}` };
    }
    data = parsed.data;
  }
  const envelope = { v, from, dc, kind: kind as MessageKind, group, body: data } as Envelope;
  if (tt) envelope.tt = { earliest: tt[0], latest: tt[1] };
  return { ok: true, envelope };
}
