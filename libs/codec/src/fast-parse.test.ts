import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { MAX_BALLOT_ROUND, MAX_KEY_BYTES, MAX_SLOT, MAX_TIMESTAMP_US } from '@synod/limits';
import { decode, encode } from './envelope.js';
import { FAST_KINDS, MISS, fastParsers } from './fast-parse.js';
import { messageSchemas } from './messages.js';

// Same options as the envelope's packr: equal bytes mean equal fields, order and values.
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

const payload = { t: 'commit', txn: 't1', writes: [{ k: 'a', v: { n: 1, s: 'x' } }], ts: 1_700_000_000_000_000 };
const ballot = { round: 7, node: 'n3' };
/** Valid bodies of every fast-pathed kind, in the variants the fast paths handle. */
const VALID: Array<[string, Record<string, unknown>]> = [
  ['paxos', { group: 's3', from: 'n3', type: 'accept', ballot, entries: [{ slot: 5, value: { kind: 'batch', cmds: [{ id: 'c1', payload }, { id: 'c2', payload: 'x' }] } }, { slot: 6, value: { kind: 'noop' } }], chosenUpTo: 4, sentAtUs: 123 }],
  ['paxos', { group: 's3', from: 'n3', type: 'accept', ballot, entries: [], chosenUpTo: 4 }],
  ['paxos', { group: 's3', from: 'n1', type: 'accepted', ballot, slots: [5, 6], sentAtUs: 99 }],
  ['paxos', { group: '', from: 'n1', type: 'accepted', ballot, slots: [] }],
  ['paxos', { group: 's3', from: 'n3', type: 'heartbeat', ballot, chosenUpTo: 0, sentAtUs: 1 }],
  ['paxos', { group: 's3', from: 'n2', type: 'heartbeatAck', ballot, sentAtUs: 1, chosenUpTo: 9 }],
  ['paxos', { group: 's3', from: 'n3', type: 'heartbeat', ballot, chosenUpTo: 0, sentAtUs: 1, quiet: true }],
  ['paxos', { group: 's3', from: 'n2', type: 'heartbeatAck', ballot, sentAtUs: 1, chosenUpTo: 9, quiet: false }],
  ['split.closed', { ballot, ts: 1_700_000_000_000_000, appliedIndex: 12 }],
  ['kv.commit', { txn: { id: 't1', startTs: 1_700_000_000_000_000 }, writes: [{ key: 'a', value: { x: [1, 2] } }, { key: 'b', deleted: true }, { key: 'c' }] }],
  ['kv.read', { txn: { id: 't1', startTs: 5 }, keys: ['a', 'b'] }],
  ['kv.read', { txn: { id: 't1', startTs: 5 }, keys: ['a'], waitMs: 0 }],
  ['kv.snapshot', { keys: ['a', 'b'], maxStalenessUs: 10_000_000 }],
  ['kv.snapshot', { keys: [], ts: 1_700_000_000_000_000, waitMs: 500, leaseRead: true }],
  ['kv.snapshot', { keys: ['k'], soleSplit: true }],
  ['kv.snapshot', {}],
  ['kv.commit', { txn: { id: 't1', startTs: 5 }, waitMs: 3_000, epoch: 'e1', readKeys: ['a', 'b'], writes: [{ key: 'a', value: 1, deleted: false }], participants: ['s1', 's2'] }],
  ['kv.values', { values: [{ key: 'a', value: 'v'.repeat(64), ts: 1_700_000_000_000_000 }, { key: 'b' }, { key: 'c', value: { n: [1, 2] } }], ts: 1_700_000_000_000_001 }],
  ['kv.values', { values: [{ key: 'a', value: null, ts: 3 }], epoch: '3.n2', leader: 'n2' }],
  ['kv.values', { values: [] }],
];

/** Values that sit on or just past the bounds the schemas enforce, plus wrong types. */
const REPLACEMENTS: unknown[] = [
  undefined, null, true, false, 0, -0, 1, -1, 0.5, NaN, Infinity, 2 ** 40, 2 ** 40 + 1, MAX_BALLOT_ROUND + 1, MAX_SLOT, MAX_SLOT + 1,
  MAX_TIMESTAMP_US, MAX_TIMESTAMP_US + 1, 2 ** 53, 60_000, 60_001, '', 'x', 'a'.repeat(63), 'a'.repeat(64), 'a'.repeat(128), 'a'.repeat(129),
  'a'.repeat(256), 'a'.repeat(257), 'a'.repeat(MAX_KEY_BYTES + 1), 'noop', 'batch', 'config', 'accept', 'prepare', [], [1], ['a'], {}, { kind: 'noop' },
];

/** Every input one edit away from `x`: each value replaced, each key deleted, an unknown key added. */
function* mutations(x: unknown): Generator<unknown> {
  if (Array.isArray(x)) {
    for (let i = 0; i < x.length; i++) {
      for (const r of REPLACEMENTS) yield x.map((v, j) => (i === j ? r : v));
      for (const m of mutations(x[i])) yield x.map((v, j) => (i === j ? m : v));
    }
    yield [...x, x[0]];
    return;
  }
  if (typeof x !== 'object' || x === null) return;
  const o = x as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    for (const r of REPLACEMENTS) yield { ...o, [k]: r };
    for (const m of mutations(o[k])) yield { ...o, [k]: m };
    const { [k]: _gone, ...rest } = o;
    yield rest;
  }
  yield { ...o, extra: 1 };
}

function zodParse(kind: string, body: unknown) {
  return messageSchemas[kind as keyof typeof messageSchemas].safeParse(body);
}

describe('fast parsers', () => {
  it('are all on: every schema still has the fields its fast parser builds (FAST_SHAPES)', () => {
    // A schema edit that changes a shape turns that kind's fast path off at load; update the parser and FAST_SHAPES.
    expect(Object.keys(fastParsers)).toEqual(FAST_KINDS);
    expect(FAST_KINDS).toEqual(['paxos', 'split.closed', 'kv.commit', 'kv.read', 'kv.snapshot', 'kv.values']);
  });

  it.each(VALID.map(([kind, body], i) => [i, kind, body] as const))('#%i (%s) is taken by the fast path with zod’s output', (_i, kind, body) => {
    const fast = fastParsers[kind]!(body);
    expect(fast).not.toBe(MISS);
    const slow = zodParse(kind, body);
    expect(slow.success).toBe(true);
    expect(Buffer.from(packr.pack(fast))).toEqual(Buffer.from(packr.pack(slow.data)));
  });

  it.each(VALID.map(([kind, body], i) => [i, kind, body] as const))(
    'never accepts what zod refuses, and gives zod’s output for what it accepts: every one-edit mutation of #%i (%s)',
    (_i, kind, body) => {
      let checked = 0;
      let fastTaken = 0;
      let refused = 0;
      for (const m of mutations(body)) {
        checked++;
        const fast = fastParsers[kind]!(m);
        const slow = zodParse(kind, m);
        if (!slow.success) refused++;
        if (fast === MISS) continue;
        fastTaken++;
        if (!slow.success) throw new Error(`fast path accepted what zod refuses: ${kind} ${JSON.stringify(m)?.slice(0, 300)}`);
        expect(Buffer.from(packr.pack(fast))).toEqual(Buffer.from(packr.pack(slow.data)));
      }
      // The mutations reach both sides: some are refused, and some still take the fast path.
      expect(checked).toBeGreaterThan(0);
      if (Object.keys(body).length > 0) expect(refused).toBeGreaterThan(0);
      expect(fastTaken).toBeGreaterThan(0);
    },
    30_000,
  );

  it('heartbeat and heartbeatAck `quiet`: absent decodes absent, a boolean as itself, anything else is MISS and zod refuses it', () => {
    for (const type of ['heartbeat', 'heartbeatAck'] as const) {
      const hb = { group: 's3', from: 'n3', type, ballot, chosenUpTo: 2, sentAtUs: 1 };
      const absent = fastParsers.paxos!(hb) as Record<string, unknown>;
      expect(absent).not.toBe(MISS);
      expect('quiet' in absent).toBe(false);
      expect('quiet' in zodParse('paxos', hb).data!).toBe(false);
      for (const q of [true, false]) expect(fastParsers.paxos!({ ...hb, quiet: q })).toMatchObject({ quiet: q });
      for (const bad of [1, 0, 'true', null, {}, []]) {
        expect(fastParsers.paxos!({ ...hb, quiet: bad })).toBe(MISS);
        expect(zodParse('paxos', { ...hb, quiet: bad }).success).toBe(false);
      }
      // A key present with undefined is kept by zod: left to it.
      expect(fastParsers.paxos!({ ...hb, quiet: undefined })).toBe(MISS);
    }
  });

  it('leaves wake to zod, which decodes it', () => {
    const wake = { group: 's3', from: 'n2', type: 'wake', ballot };
    expect(fastParsers.paxos!(wake)).toBe(MISS);
    const r = decode(encode({ from: 'n2', dc: 'dc-b', kind: 'paxos', group: 's3', body: wake as never }));
    expect(r.ok && r.envelope.body).toEqual(wake);
  });

  it('leaves refusals to zod: a bad fast-path kind is dropped as bad_body with zod’s detail', () => {
    const bad = { group: 's3', from: 'n3', type: 'accept', ballot, entries: [{ slot: -1, value: { kind: 'noop' } }], chosenUpTo: 4 };
    const r = decode(encode({ from: 'n3', dc: 'dc-a', kind: 'paxos', group: 's3', body: bad as never }));
    expect(r).toMatchObject({ ok: false, reason: 'bad_body' });
    expect(!r.ok && r.detail).toContain('entries.0.slot');
  });

  it('decodes through the fast path to the same envelope zod gives', () => {
    const [, body] = VALID[0]!;
    const r = decode(encode({ from: 'n3', dc: 'dc-a', kind: 'paxos', group: 's3', body: body as never }));
    expect(r.ok && r.envelope.body).toEqual(zodParse('paxos', body).data);
  });
});
