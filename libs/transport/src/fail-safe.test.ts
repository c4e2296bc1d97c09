import { encode, SynodError, type Envelope } from '@synod/codec';
import { MAX_BALLOT_ROUND, NATS_MAX_PAYLOAD_BYTES } from '@synod/limits';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Bus, type BusLogger, type BusOptions } from './bus.js';
import { MemoryHub } from './memory-wire.js';
import { subjects } from './subjects.js';
import type { Wire } from './wire.js';

const buses: Bus[] = [];
afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.close()));
  vi.restoreAllMocks();
});

function recordingLog() {
  const lines: Array<{ level: string; fields: Record<string, unknown>; msg: string }> = [];
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) => void lines.push({ level, fields, msg });
  return { lines, log: { warn: at('warn'), info: at('info'), error: at('error'), fatal: at('fatal') } as unknown as BusLogger };
}

async function node(wire: Wire, nodeId: string, opts: Partial<BusOptions> = {}): Promise<Bus> {
  const bus = new Bus(wire, { nodeId, dc: `dc-${nodeId}`, ...opts });
  bus.on('ping', (env) => ({ kind: 'pong', body: { nonce: env.body.nonce } }));
  await bus.start();
  buses.push(bus);
  return bus;
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
    const inbox = subjects('synod').node('n1');
    // The incident's message (2^53-1 from a spoofed id), one just past the bound, and a legitimate one.
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
    const inner = hub.wire();
    let broken = false;
    // What nats.js does on a closed connection: publish and request throw.
    const wire: Wire = {
      maxPayloadBytes: () => inner.maxPayloadBytes(),
      publish: (s, d) => {
        if (broken) throw new Error('CONNECTION_CLOSED');
        inner.publish(s, d);
      },
      request: (s, d, t) => (broken ? Promise.reject(new Error('CONNECTION_CLOSED')) : inner.request(s, d, t)),
      subscribe: (s, h) => inner.subscribe(s, h),
      flush: () => inner.flush(),
      close: () => inner.close(),
    };
    const a = await node(wire, 'n1');
    await node(hub.wire(), 'n2');
    broken = true;
    expect(a.send('n2', 'note', { token: 'x' })).toBe(false);
    expect(a.broadcast('note', { token: 'x' })).toBe(false);
    const err = await a.request('n2', 'ping', { nonce: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SynodError);
    expect(err).toMatchObject({ code: 'UNAVAILABLE' });
    expect(a.metrics.get('synod_bus_publish_failed_total', { kind: 'note' })).toBe(2);
    expect(a.metrics.get('synod_bus_publish_failed_total', { kind: 'ping' })).toBe(1);
  });
});

