import { encode, SynodError, type Envelope } from '@synod/codec';
import { MAX_BALLOT_ROUND, NATS_MAX_PAYLOAD_BYTES } from '@synod/limits';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Bus, type BusLogger } from './bus.js';
import { MemoryHub } from './memory-wire.js';
import { subjects } from './subjects.js';
import { breakableWire, testNodes } from './test-nodes.fixture.js';
import type { Wire } from './wire.js';

const node = testNodes();
afterEach(() => {
  vi.restoreAllMocks();
});

function recordingLog() {
  const lines: Array<{ level: string; fields: Record<string, unknown>; msg: string }> = [];
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) => void lines.push({ level, fields, msg });
  return { lines, log: { warn: at('warn'), info: at('info'), error: at('error'), fatal: at('fatal') } as unknown as BusLogger };
}


const settle = () => new Promise((r) => setTimeout(r, 5));
const prepare = (round: number) => ({ type: 'prepare' as const, group: 'g1', from: 'n9', ballot: { round, node: 'n9' }, fromSlot: 0 });
/** A Paxos forward whose one command carries `bytes` characters: a message of any size. */
const forward = (bytes: number) => ({ type: 'forward' as const, group: 'g1', from: 'n1', cmds: [{ id: 'c1', payload: 'x'.repeat(bytes) }] });

describe('untrusted numbers at the bus', () => {
  it('a prepare with a round above MAX_BALLOT_ROUND is dropped and counted, and never reaches the handler', async () => {
    const hub = new MemoryHub();
    const { lines, log } = recordingLog();
    const target = await node(hub.wire(), 'n1', { logger: log });
    const seen: number[] = [];
    target.on('paxos', (env) => void seen.push((env.body as { ballot: { round: number } }).ballot.round));
    const raw = hub.wire();
    // Peer traffic from n9 arrives on n9's peer subject (docs/transport.md "Credentials").
    const inbox = subjects('synod').peer('n1', 'n9');
    // The incident's message (2^53-1), one just past the bound, and a legitimate one.
    for (const round of [Number.MAX_SAFE_INTEGER, MAX_BALLOT_ROUND + 1, 7]) raw.publish(inbox, encode({ from: 'n9', dc: 'dc-z', kind: 'paxos', group: 'g1', body: prepare(round) }));
    await settle();
    expect(seen).toEqual([7]);
    expect(target.metrics.get('synod_bus_dropped_total', { reason: 'bad_body' })).toBe(2);
    // Logged once per reason per interval: a flood of hostile messages is not a flood of lines.
    const drops = lines.filter((l) => l.msg === 'dropped a bad message');
    expect(drops).toHaveLength(1);
    expect(drops[0]!.fields).toMatchObject({ reason: 'bad_body' });
  });
});

describe('oversize and failed publishes never throw out of the bus (memory wire)', () => {
  const MAX = 64 * 1024;

  it('the memory wire defaults to the max payload synod configures NATS with', () => {
    expect(new MemoryHub().wire().maxPayloadBytes()).toBe(NATS_MAX_PAYLOAD_BYTES);
  });

  it('send and broadcast of a message over the max payload return false, publish nothing and count synod_bus_oversize_total{kind}', async () => {
    const hub = new MemoryHub({ maxPayloadBytes: MAX });
    const { lines, log } = recordingLog();
    const a = await node(hub.wire(), 'n1', { logger: log });
    const b = await node(hub.wire(), 'n2');
    const got: Envelope[] = [];
    b.on('paxos', (env) => void got.push(env));
    expect(a.send('n2', 'paxos', forward(MAX), 'g1')).toBe(false);
    expect(a.broadcast('paxos', forward(MAX), 'g1')).toBe(false);
    // Exactly as a Paxos host sends: from inside a promise chain, where a throw became an unhandled rejection.
    await Promise.resolve().then(() => a.send('n2', 'paxos', forward(MAX), 'g1'));
    expect(a.send('n2', 'paxos', forward(100), 'g1')).toBe(true);
    await settle();
    expect(got).toHaveLength(1);
    expect(a.metrics.get('synod_bus_oversize_total', { kind: 'paxos' })).toBe(3);
    expect(lines.filter((l) => l.msg === 'refused to publish a message over the max payload')).toHaveLength(1);
  });

  it('a request over the max payload rejects with MESSAGE_TOO_LARGE and is not sent', async () => {
    const hub = new MemoryHub({ maxPayloadBytes: MAX });
    const a = await node(hub.wire(), 'n1');
    const b = await node(hub.wire(), 'n2');
    let handled = 0;
    b.on('paxos.propose', () => {
      handled++;
      return { kind: 'paxos.proposed', body: { ids: [], appliedUpTo: 0 } };
    });
    const err = await a.request('n2', 'paxos.propose', { cmds: [{ id: 'c1', payload: 'x'.repeat(MAX) }] }, { group: 'g1', timeoutMs: 500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SynodError);
    expect(err).toMatchObject({ code: 'MESSAGE_TOO_LARGE', hint: { limit: MAX } });
    expect((err as SynodError).hint!.actual).toBeGreaterThan(MAX);
    await settle();
    expect(handled).toBe(0);
    expect(a.metrics.get('synod_bus_oversize_total', { kind: 'paxos.propose' })).toBe(1);
  });

  it('a reply over the max payload is answered with MESSAGE_TOO_LARGE instead of a timeout', async () => {
    const hub = new MemoryHub({ maxPayloadBytes: MAX });
    const a = await node(hub.wire(), 'n1');
    const b = await node(hub.wire(), 'n2');
    b.on('kv.read', () => ({ kind: 'kv.values', body: { values: [{ key: 'k', value: 'v'.repeat(MAX) }] } }));
    await expect(a.request('n2', 'kv.read', { txn: { id: 't1', startTs: 1 }, keys: ['k'] }, { timeoutMs: 2_000 })).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
    expect(b.metrics.get('synod_bus_oversize_total', { kind: 'kv.values' })).toBe(1);
  });

  it('a publish the wire refuses (a closed connection) is counted and dropped, and a request rejects UNAVAILABLE', async () => {
    const hub = new MemoryHub();
    const { wire, breakIt } = breakableWire(hub);
    const a = await node(wire, 'n1');
    await node(hub.wire(), 'n2');
    breakIt();
    expect(a.send('n2', 'note', { token: 'x' })).toBe(false);
    expect(a.broadcast('note', { token: 'x' })).toBe(false);
    const err = await a.request('n2', 'ping', { nonce: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SynodError);
    expect(err).toMatchObject({ code: 'UNAVAILABLE' });
    expect(a.metrics.get('synod_bus_publish_failed_total', { kind: 'note' })).toBe(2);
    expect(a.metrics.get('synod_bus_publish_failed_total', { kind: 'ping' })).toBe(1);
  });
});

class InvariantViolation extends Error {
  override name = 'InvariantViolation';
}

describe('fail-stop: a handler that throws a non-SynodError stops the process', () => {
  it('a handler throwing an InvariantViolation triggers onFatal and no reply is sent', async () => {
    const hub = new MemoryHub();
    const fatal: Array<{ err: unknown; kind: string }> = [];
    const a = await node(hub.wire(), 'n1');
    const b = await node(hub.wire(), 'n2', { onFatal: (err, ctx) => void fatal.push({ err, kind: ctx.kind }) });
    const violation = new InvariantViolation('chosen value changed at slot 3');
    b.on('note', () => {
      throw violation;
    });
    // No reply at all: the requester times out rather than hearing INTERNAL from a broken process.
    await expect(a.request('n2', 'note', { token: 'x' }, { timeoutMs: 200 })).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(fatal).toEqual([{ err: violation, kind: 'note' }]);
    // And it does not limp on: nothing more is delivered or sent.
    await expect(a.request('n2', 'ping', { nonce: 1 }, { timeoutMs: 100 })).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(b.send('n1', 'note', { token: 'y' })).toBe(false);
    expect(fatal).toHaveLength(1);
  });

  it('an async handler rejecting with a plain Error triggers onFatal and no reply is sent', async () => {
    const hub = new MemoryHub();
    const fatal: unknown[] = [];
    const a = await node(hub.wire(), 'n1');
    const b = await node(hub.wire(), 'n2', { onFatal: (err) => void fatal.push(err) });
    b.on('note', async () => {
      await settle();
      throw new Error('ballot went backwards');
    });
    await expect(a.request('n2', 'note', { token: 'x' }, { timeoutMs: 200 })).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(fatal).toHaveLength(1);
    expect((fatal[0] as Error).message).toBe('ballot went backwards');
  });

  it('a SynodError is still an answer, not a fatal failure', async () => {
    const hub = new MemoryHub();
    const fatal: unknown[] = [];
    const a = await node(hub.wire(), 'n1');
    const b = await node(hub.wire(), 'n2', { onFatal: (err) => void fatal.push(err) });
    b.on('note', async () => {
      throw new SynodError('NOT_LEADER', 'ask n3', { leader: 'n3' });
    });
    await expect(a.request('n2', 'note', { token: 'x' })).rejects.toMatchObject({ code: 'NOT_LEADER' });
    expect((await a.request('n2', 'ping', { nonce: 2 })).body).toEqual({ nonce: 2 });
    expect(fatal).toEqual([]);
  });

  it('by default logs at fatal level and exits with code 70', async () => {
    const hub = new MemoryHub();
    const exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    const { lines, log } = recordingLog();
    const a = await node(hub.wire(), 'n1');
    const b = await node(hub.wire(), 'n2', { logger: log });
    const violation = new InvariantViolation('applied index went backwards');
    b.on('note', () => {
      throw violation;
    });
    a.send('n2', 'note', { token: 'x' });
    await settle();
    expect(exit).toHaveBeenCalledWith(70);
    const fatal = lines.filter((l) => l.level === 'fatal');
    expect(fatal).toHaveLength(1);
    expect(fatal[0]!.fields).toMatchObject({ err: violation, kind: 'note', from: 'n1' });
    expect(fatal[0]!.msg).toMatch(/non-SynodError.*stopping/);
  });
});

describe('fail-stop at shutdown', () => {
  it('a handler failing after the bus closed is logged, not fatal: the process is already stopping', async () => {
    const hub = new MemoryHub();
    const fatal: unknown[] = [];
    const { lines, log } = recordingLog();
    const a = await node(hub.wire(), 'n1');
    const b = new Bus(hub.wire(), { nodeId: 'n2', dc: 'dc-b', logger: log, onFatal: (err) => void fatal.push(err) });
    await b.start();
    let release!: () => void;
    b.on('note', () => new Promise<void>((_, reject) => (release = () => reject(new Error('storage is closed')))));
    a.send('n2', 'note', { token: 'x' });
    await settle();
    await b.close();
    release();
    await settle();
    expect(fatal).toEqual([]);
    expect(lines.filter((l) => l.msg === 'handler failed after the bus closed')).toHaveLength(1);
  });
});
