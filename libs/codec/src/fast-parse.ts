import { MAX_BALLOT_ROUND, MAX_KEY_BYTES, MAX_SLOT, MAX_TIMESTAMP_US, MAX_TXN_READS, MAX_TXN_WRITES } from '@synod/limits';
import { kvMessageSchemas } from './kv-messages.js';
import { ballotSchema, commandSchema, paxosMessageSchema, valueSchema } from './paxos-messages.js';
import { txnMessageSchemas } from './txn-messages.js';

/**
 * Hand-written validators for the few message kinds every replica receives per operation (Paxos
 * accept/accepted/heartbeat traffic, closed timestamps, commits), and the read reply every client
 * receives per read (`kv.values`). zod's safeParse costs several
 * µs per message (a context, a result, checks run one by one); these do the same checks inline.
 *
 * They only ever shortcut an acceptance: each returns either exactly what the kind's zod schema
 * would return for the input (same fields, same order, defaults filled, unknown fields dropped)
 * or MISS, meaning "not sure": anything unusual (a check failing, a variant not handled here, a
 * field present but undefined) is MISS, and decode then runs the zod schema, which decides and
 * names the reason. So a fast path can make validation cheaper but never more lenient, and every
 * rejection still carries zod's detail. fast-parse.test.ts holds each validator to its schema:
 * same field lists, and on valid and mutated inputs, fast-accepted implies zod-accepted with
 * byte-identical output. Each guards itself against schema drift: see FAST_SHAPES.
 */
export const MISS: unique symbol = Symbol('fast-parse miss');
export type FastParser = (body: unknown) => unknown;

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);
/** zod's `z.number().int().nonnegative().max(max)` (max is below 2^53, so safe-integer is implied by the range). */
const isUint = (x: unknown, max: number): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= max;
const isStr = (x: unknown, min: number, max: number): x is string => typeof x === 'string' && x.length >= min && x.length <= max;
/** A field the schema marks optional or defaulted, given as `undefined`: zod keeps the key; left to zod. */
const presentUndefined = (o: Obj, k: string): boolean => o[k] === undefined && k in o;

const MAX_ITEMS = 100_000; // paxos-messages.ts MAX_ITEMS

/** `ballotSchema`: {round, node}. */
function ballot(x: unknown): { round: number; node: string } | typeof MISS {
  if (!isObj(x)) return MISS;
  const { round, node } = x;
  if (!isUint(round, MAX_BALLOT_ROUND) || !isStr(node, 0, 63)) return MISS;
  return { round, node };
}

/** `micros.default(0)` */
function sentAtUs(o: Obj): number | typeof MISS {
  const v = o.sentAtUs;
  if (v === undefined) return 'sentAtUs' in o ? MISS : 0;
  return isUint(v, MAX_TIMESTAMP_US) ? v : MISS;
}

/**
 * `z.boolean().optional()`, written into `out` as zod would: absent stays absent, a boolean is
 * kept. Returns false (MISS) for a present undefined or anything not a boolean.
 */
function optionalBool(o: Obj, k: string, out: Obj): boolean {
  const v = o[k];
  if (v === undefined) return !(k in o);
  if (typeof v !== 'boolean') return false;
  out[k] = v;
  return true;
}

/** `valueSchema` for noop and batch (config values are rare: left to zod). */
function value(x: unknown): unknown {
  if (!isObj(x)) return MISS;
  if (x.kind === 'noop') return { kind: 'noop' };
  if (x.kind !== 'batch') return MISS;
  const cmds = x.cmds;
  if (!Array.isArray(cmds) || cmds.length > MAX_ITEMS) return MISS;
  const out = new Array<unknown>(cmds.length);
  for (let i = 0; i < cmds.length; i++) {
    const c: unknown = cmds[i];
    if (!isObj(c)) return MISS;
    const { id, payload } = c;
    // `payload: z.unknown()` is required: an absent one fails in zod, a present undefined is kept; both left to zod.
    if (!isStr(id, 1, 256) || payload === undefined) return MISS;
    out[i] = { id, payload };
  }
  return { kind: 'batch', cmds: out };
}

/** `z.array(slotValue).max(MAX_ITEMS)` */
function entries(x: unknown): unknown[] | typeof MISS {
  if (!Array.isArray(x) || x.length > MAX_ITEMS) return MISS;
  const out = new Array<unknown>(x.length);
  for (let i = 0; i < x.length; i++) {
    const e: unknown = x[i];
    if (!isObj(e) || !isUint(e.slot, MAX_SLOT)) return MISS;
    const v = value(e.value);
    if (v === MISS) return MISS;
    out[i] = { slot: e.slot, value: v };
  }
  return out;
}

/** `paxosMessageSchema` for accept, accepted, heartbeat and heartbeatAck (quiet or not); other types go to zod. */
function paxos(x: unknown): unknown {
  if (!isObj(x)) return MISS;
  const { group, from, type } = x;
  if (!isStr(group, 0, 63) || !isStr(from, 1, 63)) return MISS;
  const b = ballot(x.ballot);
  if (b === MISS) return MISS;
  switch (type) {
    case 'accept': {
      const es = entries(x.entries);
      const s = sentAtUs(x);
      if (es === MISS || !isUint(x.chosenUpTo, MAX_SLOT) || s === MISS) return MISS;
      return { group, from, type, ballot: b, entries: es, chosenUpTo: x.chosenUpTo, sentAtUs: s };
    }
    case 'accepted': {
      const slots = x.slots;
      const s = sentAtUs(x);
      if (!Array.isArray(slots) || slots.length > MAX_ITEMS || s === MISS) return MISS;
      for (let i = 0; i < slots.length; i++) if (!isUint(slots[i], MAX_SLOT)) return MISS;
      // A copy, as zod returns one: the decoded array is not shared with what the caller keeps.
      return { group, from, type, ballot: b, slots: slots.slice(), sentAtUs: s };
    }
    case 'heartbeat': {
      const s = sentAtUs(x);
      if (!isUint(x.chosenUpTo, MAX_SLOT) || s === MISS) return MISS;
      const out: Obj = { group, from, type, ballot: b, chosenUpTo: x.chosenUpTo, sentAtUs: s };
      return optionalBool(x, 'quiet', out) ? out : MISS;
    }
    case 'heartbeatAck': {
      const s = sentAtUs(x);
      if (!isUint(x.chosenUpTo, MAX_SLOT) || s === MISS) return MISS;
      const out: Obj = { group, from, type, ballot: b, sentAtUs: s, chosenUpTo: x.chosenUpTo };
      return optionalBool(x, 'quiet', out) ? out : MISS;
    }
    default:
      return MISS;
  }
}

/** txnMessageSchemas['split.closed'] */
function splitClosed(x: unknown): unknown {
  if (!isObj(x) || !isObj(x.ballot)) return MISS;
  const { round, node } = x.ballot;
  const { ts, appliedIndex } = x;
  if (!isUint(round, 2 ** 40) || !isStr(node, 1, 63) || !isUint(ts, MAX_TIMESTAMP_US) || ts <= 0 || !isUint(appliedIndex, MAX_SLOT)) return MISS;
  return { ballot: { round, node }, ts, appliedIndex };
}

/** kvMessageSchemas['kv.commit'] (single-split commits; cross-split ones too, participants included). */
function kvCommit(x: unknown): unknown {
  if (!isObj(x) || !isObj(x.txn)) return MISS;
  const { id, startTs } = x.txn;
  if (!isStr(id, 1, 128) || !isUint(startTs, MAX_TIMESTAMP_US) || startTs <= 0) return MISS;
  if (presentUndefined(x, 'waitMs') || presentUndefined(x, 'epoch') || presentUndefined(x, 'readKeys') || presentUndefined(x, 'participants')) return MISS;
  const waitMs = x.waitMs === undefined ? 10_000 : x.waitMs;
  if (!isUint(waitMs, 60_000)) return MISS;
  const epoch = x.epoch;
  if (epoch !== undefined && !isStr(epoch, 0, 256)) return MISS;
  const readKeys = x.readKeys === undefined ? [] : keyList(x.readKeys, 0, MAX_TXN_READS);
  if (readKeys === MISS) return MISS;
  const ws = x.writes;
  if (!Array.isArray(ws) || ws.length > MAX_TXN_WRITES) return MISS;
  const writes = new Array<unknown>(ws.length);
  for (let i = 0; i < ws.length; i++) {
    const w: unknown = ws[i];
    if (!isObj(w) || !isStr(w.key, 0, MAX_KEY_BYTES) || presentUndefined(w, 'value') || presentUndefined(w, 'deleted')) return MISS;
    const out: Obj = { key: w.key };
    if (w.value !== undefined) out.value = w.value;
    if (w.deleted !== undefined) {
      if (typeof w.deleted !== 'boolean') return MISS;
      out.deleted = w.deleted;
    }
    writes[i] = out;
  }
  const out: Obj = { txn: { id, startTs }, waitMs };
  if (epoch !== undefined) out.epoch = epoch;
  out.readKeys = readKeys;
  out.writes = writes;
  if (x.participants !== undefined) {
    const ps = x.participants;
    if (!Array.isArray(ps) || ps.length > 64) return MISS;
    for (let i = 0; i < ps.length; i++) if (!isStr(ps[i], 1, 63)) return MISS;
    out.participants = ps.slice();
  }
  return out;
}

/** `z.array(userKey).min(min).max(max)`, or MISS. */
function keyList(x: unknown, min: number, max: number): string[] | typeof MISS {
  if (!Array.isArray(x) || x.length < min || x.length > max) return MISS;
  for (let i = 0; i < x.length; i++) if (!isStr(x[i], 0, MAX_KEY_BYTES)) return MISS;
  return x.slice() as string[];
}

/** kvMessageSchemas['kv.read'] */
function kvRead(x: unknown): unknown {
  if (!isObj(x) || !isObj(x.txn) || presentUndefined(x, 'waitMs')) return MISS;
  const { id, startTs } = x.txn;
  if (!isStr(id, 1, 128) || !isUint(startTs, MAX_TIMESTAMP_US) || startTs <= 0) return MISS;
  const ks = keyList(x.keys, 1, 1000);
  const waitMs = x.waitMs === undefined ? 2_000 : x.waitMs;
  if (ks === MISS || !isUint(waitMs, 60_000)) return MISS;
  return { txn: { id, startTs }, keys: ks, waitMs };
}

/** kvMessageSchemas['kv.snapshot'] for key reads (a scan is left to zod). */
function kvSnapshot(x: unknown): unknown {
  if (!isObj(x) || x.scan !== undefined) return MISS;
  for (const k of ['keys', 'scan', 'ts', 'maxStalenessUs', 'waitMs', 'leaseRead', 'soleSplit']) if (presentUndefined(x, k)) return MISS;
  const out: Obj = {};
  if (x.keys !== undefined) {
    const ks = keyList(x.keys, 0, 1000);
    if (ks === MISS) return MISS;
    out.keys = ks;
  }
  const { ts, maxStalenessUs } = x;
  if (ts !== undefined) {
    if (!isUint(ts, MAX_TIMESTAMP_US) || ts <= 0) return MISS;
    out.ts = ts;
  }
  if (maxStalenessUs !== undefined) {
    if (!isUint(maxStalenessUs, MAX_TIMESTAMP_US)) return MISS;
    out.maxStalenessUs = maxStalenessUs;
  }
  const waitMs = x.waitMs === undefined ? 2_000 : x.waitMs;
  const leaseRead = x.leaseRead === undefined ? false : x.leaseRead;
  const soleSplit = x.soleSplit === undefined ? false : x.soleSplit;
  if (!isUint(waitMs, 60_000) || typeof leaseRead !== 'boolean' || typeof soleSplit !== 'boolean') return MISS;
  out.waitMs = waitMs;
  out.leaseRead = leaseRead;
  out.soleSplit = soleSplit;
  return out;
}

/** kv-messages.ts MAX_ROWS */
const MAX_ROWS = 10_000;

/** kvMessageSchemas['kv.values']: the reply to every read, decoded once per read by the client. */
function kvValues(x: unknown): unknown {
  if (!isObj(x)) return MISS;
  for (const k of ['values', 'ts', 'epoch', 'leader']) if (presentUndefined(x, k)) return MISS;
  const vs = x.values;
  if (!Array.isArray(vs) || vs.length > MAX_ROWS) return MISS;
  const rows = new Array<unknown>(vs.length);
  for (let i = 0; i < vs.length; i++) {
    const v: unknown = vs[i];
    if (!isObj(v) || !isStr(v.key, 0, MAX_KEY_BYTES) || presentUndefined(v, 'value') || presentUndefined(v, 'ts')) return MISS;
    const row: Obj = { key: v.key };
    // `value: z.unknown().optional()`: passed through as is, present or absent.
    if ('value' in v) row.value = v.value;
    if (v.ts !== undefined) {
      if (!isUint(v.ts, MAX_TIMESTAMP_US) || v.ts <= 0) return MISS;
      row.ts = v.ts;
    }
    rows[i] = row;
  }
  const out: Obj = { values: rows };
  const { ts, epoch, leader } = x;
  if (ts !== undefined) {
    if (!isUint(ts, MAX_TIMESTAMP_US) || ts <= 0) return MISS;
    out.ts = ts;
  }
  if (epoch !== undefined) {
    if (!isStr(epoch, 0, 256)) return MISS;
    out.epoch = epoch;
  }
  if (leader !== undefined) {
    if (!isStr(leader, 0, 63)) return MISS;
    out.leader = leader;
  }
  return out;
}

type Shaped = { shape: Record<string, unknown> };
const fieldsOf = (schema: unknown): string => Object.keys((schema as Shaped).shape).join(',');
const variant = (union: unknown, tag: string, value: string): Shaped | undefined =>
  (union as { options: Shaped[] }).options.find((o) => (o.shape[tag] as { value?: unknown } | undefined)?.value === value);
const elementOf = (array: unknown): unknown => (array as { element: unknown }).element;

/**
 * Every object shape a fast parser builds, as the fields it writes, checked against the live
 * schemas when this module loads. A schema that gained, lost or reordered a field turns its
 * kind's fast path off (zod alone then parses it, so nothing is silently dropped), and
 * fast-parse.test.ts, which requires every fast path on, fails until the parser learns it.
 */
export const FAST_SHAPES: Record<string, Array<[() => unknown, string]>> = {
  paxos: [
    [() => variant(paxosMessageSchema, 'type', 'accept'), 'group,from,type,ballot,entries,chosenUpTo,sentAtUs'],
    [() => variant(paxosMessageSchema, 'type', 'accepted'), 'group,from,type,ballot,slots,sentAtUs'],
    [() => variant(paxosMessageSchema, 'type', 'heartbeat'), 'group,from,type,ballot,chosenUpTo,sentAtUs,quiet'],
    [() => variant(paxosMessageSchema, 'type', 'heartbeatAck'), 'group,from,type,ballot,sentAtUs,chosenUpTo,quiet'],
    [() => ballotSchema, 'round,node'],
    [() => elementOf(variant(paxosMessageSchema, 'type', 'accept')?.shape.entries), 'slot,value'],
    [() => variant(valueSchema, 'kind', 'noop'), 'kind'],
    [() => variant(valueSchema, 'kind', 'batch'), 'kind,cmds'],
    [() => commandSchema, 'id,payload'],
  ],
  'split.closed': [
    [() => txnMessageSchemas['split.closed'], 'ballot,ts,appliedIndex'],
    [() => txnMessageSchemas['split.closed'].shape.ballot, 'round,node'],
  ],
  'kv.commit': [
    [() => kvMessageSchemas['kv.commit'], 'txn,waitMs,epoch,readKeys,writes,participants'],
    [() => kvMessageSchemas['kv.commit'].shape.txn, 'id,startTs'],
    [() => elementOf(kvMessageSchemas['kv.commit'].shape.writes), 'key,value,deleted'],
  ],
  'kv.read': [
    [() => kvMessageSchemas['kv.read'], 'txn,keys,waitMs'],
    [() => kvMessageSchemas['kv.read'].shape.txn, 'id,startTs'],
  ],
  'kv.snapshot': [[() => kvMessageSchemas['kv.snapshot'], 'keys,scan,ts,maxStalenessUs,waitMs,leaseRead,soleSplit']],
  'kv.values': [
    [() => kvMessageSchemas['kv.values'], 'values,ts,epoch,leader'],
    [() => elementOf(kvMessageSchemas['kv.values'].shape.values), 'key,value,ts'],
  ],
};

const shapesHold = (kind: string): boolean =>
  FAST_SHAPES[kind]!.every(([schema, fields]) => {
    const s = schema();
    return s !== undefined && fieldsOf(s) === fields;
  });

const ALL_FAST: Record<string, FastParser> = { paxos, 'split.closed': splitClosed, 'kv.commit': kvCommit, 'kv.read': kvRead, 'kv.snapshot': kvSnapshot, 'kv.values': kvValues };

/** The kinds whose fast path is on: those whose schemas still have the shapes the parser builds. */
export const fastParsers: Readonly<Record<string, FastParser>> = Object.fromEntries(Object.entries(ALL_FAST).filter(([kind]) => shapesHold(kind)));
export const FAST_KINDS: readonly string[] = Object.keys(ALL_FAST);
