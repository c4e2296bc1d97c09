import { describe, expect, it } from 'vitest';
import { MAX_BALLOT_ROUND, MAX_KEY_BYTES, MAX_PAXOS_MESSAGE_BYTES, MAX_SLOT, MAX_TIMESTAMP_US, MAX_VALUE_BYTES } from '@synod/limits';
import { decode, encode } from './envelope.js';
import type { MessageInput, MessageKind } from './messages.js';

const wire = <K extends MessageKind>(kind: K, body: MessageInput<K>, group = 'g1') => decode(encode({ from: 'n9', dc: 'dc-z', kind, group, body }));
const ballot = (round: number) => ({ round, node: 'n9' });
const base = { group: 'g1', from: 'n9' };
const txn = { id: 't1', startTs: 1 };

/**
 * Each case is one message a hostile or corrupt peer could send: schema-valid in shape, with
 * one number or length just past its bound. `ok` is the same message just inside the bound,
 * so the test also fails if a bound is set too tight for legitimate traffic.
 */
const cases: Array<{ name: string; ok: () => ReturnType<typeof wire>; over: () => ReturnType<typeof wire> }> = [
  {
    name: 'prepare round above MAX_BALLOT_ROUND',
    ok: () => wire('paxos', { ...base, type: 'prepare', ballot: ballot(MAX_BALLOT_ROUND), fromSlot: 0 }),
    over: () => wire('paxos', { ...base, type: 'prepare', ballot: ballot(MAX_BALLOT_ROUND + 1), fromSlot: 0 }),
  },
  {
    name: 'prepare round of 2^53-1 (the crash-looping ballot)',
    ok: () => wire('paxos', { ...base, type: 'prepare', ballot: ballot(1), fromSlot: 0 }),
    over: () => wire('paxos', { ...base, type: 'prepare', ballot: ballot(Number.MAX_SAFE_INTEGER), fromSlot: 0 }),
  },
  {
    name: 'nack promised round above MAX_BALLOT_ROUND',
    ok: () => wire('paxos', { ...base, type: 'nack', ballot: ballot(1), promised: ballot(MAX_BALLOT_ROUND) }),
    over: () => wire('paxos', { ...base, type: 'nack', ballot: ballot(1), promised: ballot(MAX_BALLOT_ROUND + 1) }),
  },
  {
    name: 'promise accepted-entry ballot above MAX_BALLOT_ROUND',
    ok: () => wire('paxos', { ...base, type: 'promise', ballot: ballot(1), fromSlot: 0, accepted: [{ slot: 0, ballot: ballot(MAX_BALLOT_ROUND), value: { kind: 'noop' } }], chosenUpTo: 0 }),
    over: () => wire('paxos', { ...base, type: 'promise', ballot: ballot(1), fromSlot: 0, accepted: [{ slot: 0, ballot: ballot(MAX_BALLOT_ROUND + 1), value: { kind: 'noop' } }], chosenUpTo: 0 }),
  },
  {
    name: 'preVote round above MAX_BALLOT_ROUND',
    ok: () => wire('paxos', { ...base, type: 'preVote', ballot: ballot(MAX_BALLOT_ROUND) }),
    over: () => wire('paxos', { ...base, type: 'preVote', ballot: ballot(MAX_BALLOT_ROUND + 1) }),
  },
  {
    name: 'promise continueFrom above MAX_SLOT',
    ok: () => wire('paxos', { ...base, type: 'promise', ballot: ballot(1), fromSlot: 0, accepted: [], chosenUpTo: 0, continueFrom: MAX_SLOT }),
    over: () => wire('paxos', { ...base, type: 'promise', ballot: ballot(1), fromSlot: 0, accepted: [], chosenUpTo: 0, continueFrom: MAX_SLOT + 1 }),
  },
  {
    name: 'prepare fromSlot above MAX_SLOT',
    ok: () => wire('paxos', { ...base, type: 'prepare', ballot: ballot(1), fromSlot: MAX_SLOT }),
    over: () => wire('paxos', { ...base, type: 'prepare', ballot: ballot(1), fromSlot: MAX_SLOT + 1 }),
  },
  {
    name: 'promise snapshotUpTo above MAX_SLOT',
    ok: () => wire('paxos', { ...base, type: 'promise', ballot: ballot(1), fromSlot: 0, accepted: [], chosenUpTo: 0, snapshotUpTo: MAX_SLOT }),
    over: () => wire('paxos', { ...base, type: 'promise', ballot: ballot(1), fromSlot: 0, accepted: [], chosenUpTo: 0, snapshotUpTo: MAX_SLOT + 1 }),
  },
  {
    name: 'accept entry slot above MAX_SLOT',
    ok: () => wire('paxos', { ...base, type: 'accept', ballot: ballot(1), entries: [{ slot: MAX_SLOT, value: { kind: 'noop' } }], chosenUpTo: 0, sentAtUs: 1 }),
    over: () => wire('paxos', { ...base, type: 'accept', ballot: ballot(1), entries: [{ slot: MAX_SLOT + 1, value: { kind: 'noop' } }], chosenUpTo: 0, sentAtUs: 1 }),
  },
  {
    name: 'accepted slot above MAX_SLOT',
    ok: () => wire('paxos', { ...base, type: 'accepted', ballot: ballot(1), slots: [MAX_SLOT], sentAtUs: 1 }),
    over: () => wire('paxos', { ...base, type: 'accepted', ballot: ballot(1), slots: [MAX_SLOT + 1], sentAtUs: 1 }),
  },
  {
    name: 'heartbeat chosenUpTo above MAX_SLOT',
    ok: () => wire('paxos', { ...base, type: 'heartbeat', ballot: ballot(1), chosenUpTo: MAX_SLOT, sentAtUs: 1 }),
    over: () => wire('paxos', { ...base, type: 'heartbeat', ballot: ballot(1), chosenUpTo: MAX_SLOT + 1, sentAtUs: 1 }),
  },
  {
    name: 'wake round above MAX_BALLOT_ROUND',
    ok: () => wire('paxos', { ...base, type: 'wake', ballot: ballot(MAX_BALLOT_ROUND) }),
    over: () => wire('paxos', { ...base, type: 'wake', ballot: ballot(MAX_BALLOT_ROUND + 1) }),
  },
  {
    name: 'heartbeat quiet not a boolean',
    ok: () => wire('paxos', { ...base, type: 'heartbeat', ballot: ballot(1), chosenUpTo: 0, sentAtUs: 1, quiet: true }),
    over: () => wire('paxos', { ...base, type: 'heartbeat', ballot: ballot(1), chosenUpTo: 0, sentAtUs: 1, quiet: 1 as unknown as boolean }),
  },
  {
    name: 'heartbeatAck quiet not a boolean',
    ok: () => wire('paxos', { ...base, type: 'heartbeatAck', ballot: ballot(1), chosenUpTo: 0, sentAtUs: 1, quiet: false }),
    over: () => wire('paxos', { ...base, type: 'heartbeatAck', ballot: ballot(1), chosenUpTo: 0, sentAtUs: 1, quiet: 'yes' as unknown as boolean }),
  },
  {
    name: 'catchupRequest toSlot above MAX_SLOT',
    ok: () => wire('paxos', { ...base, type: 'catchupRequest', fromSlot: 0, toSlot: MAX_SLOT }),
    over: () => wire('paxos', { ...base, type: 'catchupRequest', fromSlot: 0, toSlot: MAX_SLOT + 1 }),
  },
  {
    name: 'snapshotRequest upTo above MAX_SLOT',
    ok: () => wire('paxos', { ...base, type: 'snapshotRequest', upTo: MAX_SLOT, chunk: 0 }),
    over: () => wire('paxos', { ...base, type: 'snapshotRequest', upTo: MAX_SLOT + 1, chunk: 0 }),
  },
  {
    name: 'heartbeat sentAtUs above MAX_TIMESTAMP_US',
    ok: () => wire('paxos', { ...base, type: 'heartbeat', ballot: ballot(1), chosenUpTo: 0, sentAtUs: MAX_TIMESTAMP_US }),
    over: () => wire('paxos', { ...base, type: 'heartbeat', ballot: ballot(1), chosenUpTo: 0, sentAtUs: MAX_TIMESTAMP_US + 1 }),
  },
  {
    name: 'heartbeatAck sentAtUs below 0',
    ok: () => wire('paxos', { ...base, type: 'heartbeatAck', ballot: ballot(1), chosenUpTo: 0, sentAtUs: 0 }),
    over: () => wire('paxos', { ...base, type: 'heartbeatAck', ballot: ballot(1), chosenUpTo: 0, sentAtUs: -1 }),
  },
  {
    name: 'snapshotChunk index at or past its chunk count',
    ok: () => wire('paxos', { ...base, type: 'snapshotChunk', upTo: 5, chunk: 1, chunks: 2, data: 'x' }),
    over: () => wire('paxos', { ...base, type: 'snapshotChunk', upTo: 5, chunk: 2, chunks: 2, data: 'x' }),
  },
  {
    name: 'snapshotChunk count above MAX_SNAPSHOT_CHUNKS',
    ok: () => wire('paxos', { ...base, type: 'snapshotChunk', upTo: 5, chunk: 0, chunks: 2 ** 20, data: 'x' }),
    over: () => wire('paxos', { ...base, type: 'snapshotChunk', upTo: 5, chunk: 0, chunks: 2 ** 20 + 1, data: 'x' }),
  },
  {
    name: 'paxos.proposed appliedUpTo above MAX_SLOT',
    ok: () => wire('paxos.proposed', { ids: ['c1'], appliedUpTo: MAX_SLOT }),
    over: () => wire('paxos.proposed', { ids: ['c1'], appliedUpTo: MAX_SLOT + 1 }),
  },
  {
    name: 'kv.commit startTs above MAX_TIMESTAMP_US',
    ok: () => wire('kv.commit', { txn: { id: 't1', startTs: MAX_TIMESTAMP_US }, writes: [] }),
    over: () => wire('kv.commit', { txn: { id: 't1', startTs: MAX_TIMESTAMP_US + 1 }, writes: [] }),
  },
  {
    name: 'kv.snapshot ts above MAX_TIMESTAMP_US',
    ok: () => wire('kv.snapshot', { keys: ['a'], ts: MAX_TIMESTAMP_US }),
    over: () => wire('kv.snapshot', { keys: ['a'], ts: MAX_TIMESTAMP_US + 1 }),
  },
  {
    name: 'kv.snapshot maxStalenessUs above MAX_TIMESTAMP_US',
    ok: () => wire('kv.snapshot', { keys: ['a'], maxStalenessUs: MAX_TIMESTAMP_US }),
    over: () => wire('kv.snapshot', { keys: ['a'], maxStalenessUs: MAX_TIMESTAMP_US + 1 }),
  },
  {
    name: 'kv.committed ts above MAX_TIMESTAMP_US',
    ok: () => wire('kv.committed', { ts: MAX_TIMESTAMP_US, commitWaitUs: 0 }),
    over: () => wire('kv.committed', { ts: MAX_TIMESTAMP_US + 1, commitWaitUs: 0 }),
  },
  {
    name: 'time.now latest above MAX_TIMESTAMP_US',
    ok: () => wire('time.now', { earliest: 1, latest: MAX_TIMESTAMP_US, master: 'reference' }),
    over: () => wire('time.now', { earliest: 1, latest: MAX_TIMESTAMP_US + 1, master: 'reference' }),
  },
  {
    name: 'kv.read key longer than MAX_KEY_BYTES characters',
    ok: () => wire('kv.read', { txn, keys: ['k'.repeat(MAX_KEY_BYTES)] }),
    over: () => wire('kv.read', { txn, keys: ['k'.repeat(MAX_KEY_BYTES + 1)] }),
  },
  {
    name: 'kv.commit write key longer than MAX_KEY_BYTES characters',
    ok: () => wire('kv.commit', { txn, writes: [{ key: 'k'.repeat(MAX_KEY_BYTES), value: 1 }] }),
    over: () => wire('kv.commit', { txn, writes: [{ key: 'k'.repeat(MAX_KEY_BYTES + 1), value: 1 }] }),
  },
  {
    name: 'kv.read waitMs above 60,000 ms',
    ok: () => wire('kv.read', { txn, keys: ['a'], waitMs: 60_000 }),
    over: () => wire('kv.read', { txn, keys: ['a'], waitMs: 60_001 }),
  },
  {
    name: 'kv.read waitMs below 0',
    ok: () => wire('kv.read', { txn, keys: ['a'], waitMs: 0 }),
    over: () => wire('kv.read', { txn, keys: ['a'], waitMs: -1 }),
  },
  {
    name: 'kv.commit waitMs above 60,000 ms',
    ok: () => wire('kv.commit', { txn, writes: [], waitMs: 60_000 }),
    over: () => wire('kv.commit', { txn, writes: [], waitMs: 60_001 }),
  },
  {
    name: 'kv.commit waitMs not whole',
    ok: () => wire('kv.commit', { txn, writes: [], waitMs: 1 }),
    over: () => wire('kv.commit', { txn, writes: [], waitMs: 1.5 }),
  },
  {
    name: 'kv.txn-status txnId longer than 128 characters',
    ok: () => wire('kv.txn-status', { txnId: 't'.repeat(128) }),
    over: () => wire('kv.txn-status', { txnId: 't'.repeat(129) }),
  },
  {
    name: 'kv.txn-status empty txnId',
    ok: () => wire('kv.txn-status', { txnId: 't' }),
    over: () => wire('kv.txn-status', { txnId: '' }),
  },
  {
    name: 'kv.txn-status waitMs above 60,000 ms',
    ok: () => wire('kv.txn-status', { txnId: 't1', waitMs: 60_000 }),
    over: () => wire('kv.txn-status', { txnId: 't1', waitMs: 60_001 }),
  },
  {
    name: 'kv.txn-status waitMs below 0',
    ok: () => wire('kv.txn-status', { txnId: 't1', waitMs: 0 }),
    over: () => wire('kv.txn-status', { txnId: 't1', waitMs: -1 }),
  },
  {
    name: 'kv.txn-status.reply ts above MAX_TIMESTAMP_US',
    ok: () => wire('kv.txn-status.reply', { state: 'committed', ts: MAX_TIMESTAMP_US }),
    over: () => wire('kv.txn-status.reply', { state: 'committed', ts: MAX_TIMESTAMP_US + 1 }),
  },
  {
    name: 'kv.txn-status.reply ts of 0 (not a commit timestamp)',
    ok: () => wire('kv.txn-status.reply', { state: 'committed', ts: 1 }),
    over: () => wire('kv.txn-status.reply', { state: 'committed', ts: 0 }),
  },
  {
    name: 'kv.txn-status.reply reason longer than 1024 characters',
    ok: () => wire('kv.txn-status.reply', { state: 'aborted', reason: 'r'.repeat(1024) }),
    over: () => wire('kv.txn-status.reply', { state: 'aborted', reason: 'r'.repeat(1025) }),
  },
  {
    name: 'kv.txn-status.reply committed without its ts',
    ok: () => wire('kv.txn-status.reply', { state: 'pending' }),
    over: () => wire('kv.txn-status.reply', { state: 'committed' }),
  },
  {
    name: 'kv.txn-status.reply state outside committed / aborted / pending',
    ok: () => wire('kv.txn-status.reply', { state: 'aborted' }),
    over: () => wire('kv.txn-status.reply', { state: 'unknown' as 'pending' }),
  },
  {
    name: 'kv.values with more rows than any read returns',
    ok: () => wire('kv.values', { values: Array.from({ length: 10_000 }, () => ({ key: 'a' })) }),
    over: () => wire('kv.values', { values: Array.from({ length: 10_001 }, () => ({ key: 'a' })) }),
  },
];

describe('numbers and lengths from the network are bounded by @synod/limits', () => {
  it.each(cases)('$name: dropped as bad_body, while the value at the bound is accepted', ({ ok, over }) => {
    expect(ok().ok).toBe(true);
    const r = over();
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toBe('bad_body');
  });
});

describe('request wait bounds and the transaction status lookup', () => {
  const body = (r: ReturnType<typeof wire>) => (r.ok ? (r.envelope.body as Record<string, unknown>) : undefined);

  it('fills the default waitMs the server may park a request for: read 2 s, commit 10 s, status 2 s', () => {
    expect(body(wire('kv.read', { txn, keys: ['a'] }))).toMatchObject({ waitMs: 2_000 });
    expect(body(wire('kv.commit', { txn, writes: [] }))).toMatchObject({ waitMs: 10_000 });
    expect(body(wire('kv.txn-status', { txnId: 't1' }))).toEqual({ txnId: 't1', waitMs: 2_000 });
    expect(body(wire('kv.commit', { txn, writes: [], waitMs: 1_500 }))).toMatchObject({ waitMs: 1_500 });
  });

  it('still accepts kv.snapshot leaseRead from older clients, and does not need it', () => {
    expect(body(wire('kv.snapshot', { keys: ['a'], leaseRead: true }))).toMatchObject({ leaseRead: true });
    expect(body(wire('kv.snapshot', { keys: ['a'] }))).toMatchObject({ leaseRead: false });
  });

  it('carries each outcome of a status lookup', () => {
    expect(body(wire('kv.txn-status.reply', { state: 'committed', ts: 42 }))).toEqual({ state: 'committed', ts: 42 });
    expect(body(wire('kv.txn-status.reply', { state: 'aborted', reason: 'wounded' }))).toEqual({ state: 'aborted', reason: 'wounded' });
    expect(body(wire('kv.txn-status.reply', { state: 'pending' }))).toEqual({ state: 'pending' });
  });
});

describe('message size', () => {
  it('a commit carrying a maximal value decodes: what the client accepts gets through the receiving codec', () => {
    const value = 'v'.repeat(MAX_VALUE_BYTES - 5);
    const bytes = encode({ from: 'n9', dc: 'dc-z', kind: 'kv.commit', group: 'g1', body: { txn, writes: [{ key: 'k', value }] } });
    expect(bytes.byteLength).toBeGreaterThan(MAX_VALUE_BYTES);
    expect(decode(bytes).ok).toBe(true);
  });

  it('a Paxos message of MAX_PAXOS_MESSAGE_BYTES decodes', () => {
    const payload = 'p'.repeat(MAX_PAXOS_MESSAGE_BYTES - 1024);
    const bytes = encode({ from: 'n9', dc: 'dc-z', kind: 'paxos', group: 'g1', body: { ...base, type: 'accept', ballot: ballot(1), entries: [{ slot: 0, value: { kind: 'batch', cmds: [{ id: 'c', payload }] } }], chosenUpTo: 0, sentAtUs: 1 } });
    expect(decode(bytes).ok).toBe(true);
  });
});
