import { decode, encode, SynodError } from '@synod/codec';
import { afterEach, describe, expect, it } from 'vitest';
import { Bus } from './bus.js';
import { EMPTY_CHAOS, chaos } from './chaos.js';
import { MemoryHub } from './memory-wire.js';
import { subjects } from './subjects.js';

const buses: Bus[] = [];
async function node(hub: MemoryHub, nodeId: string, dc: string): Promise<Bus> {
  const bus = new Bus(hub.wire(), { nodeId, dc });
  bus.on('ping', (env) => ({ kind: 'pong', body: { nonce: env.body.nonce } }));
  await bus.start();
  buses.push(bus);
  return bus;
}
afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.close()));
});

const settle = () => new Promise((r) => setTimeout(r, 5));

describe('Bus over the in-memory wire', () => {
  it('does request/reply and one-way sends', async () => {
    const hub = new MemoryHub();
    const [a, b] = [await node(hub, 'n1', 'dc-a'), await node(hub, 'n2', 'dc-b')];
    const reply = await a.request('n2', 'ping', { nonce: 42 });
    expect(reply).toMatchObject({ kind: 'pong', from: 'n2', dc: 'dc-b', body: { nonce: 42 } });
    const notes: string[] = [];
    b.on('note', (env) => void notes.push(env.body.token));
    a.send('n2', 'note', { token: 'hello' });
    await settle();
    expect(notes).toEqual(['hello']);
  });

  it('turns handler errors and missing nodes into coded errors', async () => {
    const hub = new MemoryHub();
    const a = await node(hub, 'n1', 'dc-a');
    const b = await node(hub, 'n2', 'dc-b');
    b.on('note', () => {
      throw new SynodError('NOT_LEADER', 'ask n3', { leader: 'n3' });
    });
    await expect(a.request('n2', 'note', { token: 'x' })).rejects.toMatchObject({ code: 'NOT_LEADER', hint: { leader: 'n3' } });
    await expect(a.request('n9', 'ping', { nonce: 1 })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('answers an invalid request with INVALID_ARGUMENT instead of letting it time out', async () => {
    const hub = new MemoryHub();
    const a = await node(hub, 'n1', 'dc-a');
    await node(hub, 'n2', 'dc-b');
    await expect(a.request('n2', 'ping', { nonce: 1.5 } as never, { timeoutMs: 1_000 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('drops and counts bad bytes without disturbing valid traffic', async () => {
    const hub = new MemoryHub();
    const a = await node(hub, 'n1', 'dc-a');
    const b = await node(hub, 'n2', 'dc-b');
    const raw = hub.wire();
    const inbox = subjects('synod').node('n2');
    raw.publish(inbox, new Uint8Array([1, 2, 3]));
    raw.publish(inbox, encode({ from: 'x', dc: 'dc-z', kind: 'ping', group: '', body: { nonce: 'no' } as never }));
    await settle();
    expect(b.stats().dropped).toBe(2);
    expect((await a.request('n2', 'ping', { nonce: 5 })).body).toEqual({ nonce: 5 });
  });

  it('applies a broadcast fault picture everywhere, newest version wins', async () => {
    const hub = new MemoryHub();
    const a = await node(hub, 'n1', 'dc-a');
    const b = await node(hub, 'n2', 'dc-b');
    const c = await node(hub, 'n3', 'dc-c');
    const cut = chaos.partition(EMPTY_CHAOS, ['dc-a'], ['dc-b', 'dc-c']);
    await c.publishChaos(cut);
    await settle();
    expect([a.chaos.version, b.chaos.version]).toEqual([1, 1]);
    await expect(a.request('n2', 'ping', { nonce: 1 }, { timeoutMs: 50 })).rejects.toMatchObject({ code: 'TIMEOUT' });
    await expect(b.request('n1', 'ping', { nonce: 1 }, { timeoutMs: 50 })).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect((await b.request('n3', 'ping', { nonce: 1 })).body).toEqual({ nonce: 1 });
    await b.publishChaos({ ...EMPTY_CHAOS, version: 0 }); // stale: ignored
    expect(a.chaos.version).toBe(1);
    await a.publishChaos(chaos.heal(cut));
    await settle();
    expect((await b.request('n1', 'ping', { nonce: 2 })).body).toEqual({ nonce: 2 });
  });

  it('gives a late joiner the current fault picture', async () => {
    const hub = new MemoryHub();
    const a = await node(hub, 'n1', 'dc-a');
    await a.publishChaos(chaos.partition(EMPTY_CHAOS, ['dc-a'], ['dc-b']));
    const late = await node(hub, 'n2', 'dc-b');
    expect(late.chaos.version).toBe(1);
  });

  it('answers a newcomer on a cluster without faults with version 0 (no timeout to wait out), but only once its own start-up question is settled', async () => {
    const hub = new MemoryHub();
    const ask = () => hub.wire().request(subjects('synod').chaosGet, encode({ v: 1, from: 'cli', dc: 'dc-a', kind: 'chaos.get', group: '', body: {} } as never), 200);
    // Nobody yet: the question times out.
    await expect(ask()).rejects.toThrow();
    const starting = new Bus(hub.wire(), { nodeId: 'n1', dc: 'dc-a' });
    const started = starting.start();
    // n1 is still waiting for its own answer: it must not claim to know the picture.
    await expect(ask()).rejects.toThrow();
    await started;
    const reply = await ask();
    const d = decode(reply);
    expect(d.ok && d.envelope.kind).toBe('chaos.state');
    expect(d.ok && (d.envelope.body as { version: number }).version).toBe(0);
    await starting.close();
  });

  it('delays messages by the injected one-way latency', async () => {
    const hub = new MemoryHub();
    const a = await node(hub, 'n1', 'dc-a');
    await node(hub, 'n2', 'dc-b');
    await a.publishChaos(chaos.latency(EMPTY_CHAOS, 'dc-a', 'dc-b', 60));
    await settle();
    const t0 = performance.now();
    await a.request('n2', 'ping', { nonce: 1 });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(55);
  });

  it('serves and requests an extra subject, with faults applied', async () => {
    const hub = new MemoryHub();
    const a = await node(hub, 'n1', 'dc-a');
    const master = await node(hub, 'tm-b', 'dc-b');
    master.on('time.get', () => ({ kind: 'time.now', body: { earliest: 10, latest: 20, master: 'reference' } }));
    const subject = subjects('synod').timemaster('dc-b');
    await expect(a.requestSubject(subject, 'time.get', {}, { timeoutMs: 50 })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    const off = await master.serve(subject);
    expect(await a.requestSubject(subject, 'time.get', {})).toMatchObject({ from: 'tm-b', kind: 'time.now', body: { earliest: 10, latest: 20 } });
    await a.publishChaos(chaos.partition(EMPTY_CHAOS, ['dc-b'], ['*']));
    await settle();
    await expect(a.requestSubject(subject, 'time.get', {}, { timeoutMs: 50 })).rejects.toMatchObject({ code: 'TIMEOUT' });
    off();
    await a.publishChaos(chaos.heal(a.chaos));
    await expect(a.requestSubject(subject, 'time.get', {}, { timeoutMs: 50 })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('delivers chaos broadcasts to every process even across a partition', async () => {
    const hub = new MemoryHub();
    const a = await node(hub, 'n1', 'dc-a');
    const b = await node(hub, 'n2', 'dc-b');
    const got: unknown[] = [];
    b.on('clock.fault', (env) => void got.push(env.body));
    await a.publishChaos(chaos.partition(EMPTY_CHAOS, ['dc-b'], ['*']));
    await a.broadcastChaos('clock.fault', { node: 'n2', skewMs: 250 });
    await settle();
    expect(got).toEqual([{ node: 'n2', skewMs: 250 }]);
  });
});
