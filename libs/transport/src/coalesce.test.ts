import { encode, type Envelope } from '@synod/codec';
import { MAX_BATCH_BYTES, MAX_BATCH_FRAMES, MAX_BALLOT_ROUND } from '@synod/limits';
import { describe, expect, it } from 'vitest';
import { BATCH_FRAME_OVERHEAD_BYTES, BATCH_HEADER_BYTES, BATCH_MAGIC, encodeBatch, isBatch } from './batch-frame.js';
import { Bus } from './bus.js';
import { chaos } from './chaos.js';
import { MemoryHub } from './memory-wire.js';
import { subjects } from './subjects.js';
import { breakableWire, testNodes } from './test-nodes.fixture.js';
import type { Wire } from './wire.js';

/** docs/transport.md "Coalescing": one-way peer messages of one turn leave as one NATS message per peer. */

const node = testNodes();

interface Published {
  subject: string;
  bytes: Uint8Array;
}

/** A wire that records every publish, to count what actually went out. */
function recording(inner: Wire, maxPayload?: () => number): { wire: Wire; published: Published[] } {
  const published: Published[] = [];
  const wire: Wire = {
    maxPayloadBytes: maxPayload ?? (() => inner.maxPayloadBytes()),
    publish: (subject, bytes) => {
      published.push({ subject, bytes });
      inner.publish(subject, bytes);
    },
    request: (s, d, t) => inner.request(s, d, t),
    subscribe: (s, h) => inner.subscribe(s, h),
    flush: () => inner.flush(),
    close: () => inner.close(),
  };
  return { wire, published };
}


const settle = () => new Promise((r) => setTimeout(r, 5));
const turn = () => new Promise((r) => setImmediate(r));
/** A Paxos heartbeat whose chosenUpTo numbers it, so order can be read back. */
const heartbeat = (n: number, from = 'n1') => ({ type: 'heartbeat' as const, group: 'g1', from, ballot: { round: 1, node: from }, chosenUpTo: n, sentAtUs: 0 });
/** A Paxos forward of about `bytes` bytes: a frame of any size. */
const forward = (bytes: number, id = 'c1') => ({ type: 'forward' as const, group: 'g1', from: 'n1', cmds: [{ id, payload: 'x'.repeat(bytes) }] });
const numbers = (got: Envelope[]) => got.map((e) => (e.body as { chosenUpTo: number }).chosenUpTo);
const peerPublishes = (published: Published[]) => published.filter((p) => p.subject.startsWith('synod.peer.'));

/** Collects the Paxos messages a bus receives. */
function collect(bus: Bus): Envelope[] {
  const got: Envelope[] = [];
  bus.on('paxos', (env) => void got.push(env));
  return got;
}

describe('coalescing one-way peer messages', () => {
  it('many sends in one turn to one peer make one wire publish, delivered in send order', async () => {
    const hub = new MemoryHub();
    const out = recording(hub.wire());
    const a = await node(out.wire, 'n1');
    const b = await node(hub.wire(), 'n2');
    const got = collect(b);
    for (let i = 0; i < 300; i++) expect(a.send('n2', 'paxos', heartbeat(i), 'g1')).toBe(true);
    // Nothing leaves before the turn ends.
    expect(peerPublishes(out.published)).toHaveLength(0);
    await settle();
    const sent = peerPublishes(out.published);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.subject).toBe(subjects('synod').peer('n2', 'n1'));
    expect(isBatch(sent[0]!.bytes)).toBe(true);
    expect(numbers(got)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(a.metrics.get('synod_bus_batches_total', { direction: 'out' })).toBe(1);
    expect(a.metrics.get('synod_bus_batch_frames_total', { direction: 'out' })).toBe(300);
    expect(b.metrics.get('synod_bus_batches_total', { direction: 'in' })).toBe(1);
    expect(b.metrics.get('synod_bus_batch_frames_total', { direction: 'in' })).toBe(300);
    expect(b.metrics.get('synod_bus_received_total')).toBe(300);
  });

  it('one wire publish per peer: two peers, two publishes', async () => {
    const hub = new MemoryHub();
    const out = recording(hub.wire());
    const a = await node(out.wire, 'n1');
    const b = await node(hub.wire(), 'n2');
    const c = await node(hub.wire(), 'n3');
    const [gotB, gotC] = [collect(b), collect(c)];
    for (let i = 0; i < 10; i++) {
      a.send('n2', 'paxos', heartbeat(i), 'g1');
      a.send('n3', 'paxos', heartbeat(100 + i), 'g1');
    }
    const wireOutBefore = a.metrics.get('synod_bus_wire_published_total');
    await settle();
    expect(peerPublishes(out.published).map((p) => p.subject)).toEqual([subjects('synod').peer('n2', 'n1'), subjects('synod').peer('n3', 'n1')]);
    expect(a.metrics.get('synod_bus_wire_published_total') - wireOutBefore).toBe(2);
    expect(numbers(gotB)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(numbers(gotC)).toEqual(Array.from({ length: 10 }, (_, i) => 100 + i));
  });

  it('sends from two timers firing in the same loop iteration share one publish', async () => {
    const hub = new MemoryHub();
    const out = recording(hub.wire());
    const a = await node(out.wire, 'n1');
    const got = collect(await node(hub.wire(), 'n2'));
    await new Promise<void>((resolve) => {
      setTimeout(() => a.send('n2', 'paxos', heartbeat(1), 'g1'), 0);
      setTimeout(() => {
        a.send('n2', 'paxos', heartbeat(2), 'g1');
        resolve();
      }, 0);
      // Node stamps each timer with a fresh clock read, so two timers made a millisecond apart can expire in different
      // loop iterations; holding the loop until both are due makes them fire in one timers phase.
      const due = performance.now() + 3;
      while (performance.now() < due);
    });
    await settle();
    expect(peerPublishes(out.published)).toHaveLength(1);
    expect(numbers(got)).toEqual([1, 2]);
  });

  it('a lone message goes as a plain message, not a batch of one', async () => {
    const hub = new MemoryHub();
    const out = recording(hub.wire());
    const a = await node(out.wire, 'n1');
    const got = collect(await node(hub.wire(), 'n2'));
    a.send('n2', 'paxos', heartbeat(7), 'g1');
    await settle();
    expect(peerPublishes(out.published)).toHaveLength(1);
    expect(peerPublishes(out.published)[0]!.bytes[0]).not.toBe(BATCH_MAGIC);
    expect(numbers(got)).toEqual([7]);
    expect(a.metrics.get('synod_bus_batches_total', { direction: 'out' })).toBe(0);
  });

  it('with coalesce off every send is its own publish', async () => {
    const hub = new MemoryHub();
    const out = recording(hub.wire());
    const a = await node(out.wire, 'n1', { coalesce: false });
    const got = collect(await node(hub.wire(), 'n2'));
    for (let i = 0; i < 20; i++) a.send('n2', 'paxos', heartbeat(i), 'g1');
    expect(peerPublishes(out.published)).toHaveLength(20);
    await settle();
    expect(numbers(got)).toHaveLength(20);
  });

  it('only peer kinds are queued: a note (client inbox) is published at once', async () => {
    const hub = new MemoryHub();
    const out = recording(hub.wire());
    const a = await node(out.wire, 'n1');
    await node(hub.wire(), 'n2');
    a.send('n2', 'note', { token: 'x' });
    expect(out.published.map((p) => p.subject)).toEqual([subjects('synod').node('n2')]);
  });
});

describe('batch limits', () => {
  it(`a batch holds at most MAX_BATCH_FRAMES (${MAX_BATCH_FRAMES}) frames; the rest go in the next, in order`, async () => {
    const hub = new MemoryHub();
    const out = recording(hub.wire());
    const a = await node(out.wire, 'n1');
    const got = collect(await node(hub.wire(), 'n2'));
    const n = MAX_BATCH_FRAMES + 5;
    for (let i = 0; i < n; i++) a.send('n2', 'paxos', heartbeat(i), 'g1');
    await settle();
    expect(peerPublishes(out.published)).toHaveLength(2);
    expect(a.metrics.get('synod_bus_batch_frames_total', { direction: 'out' })).toBe(n);
    expect(numbers(got)).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it('a batch stays within the wire max payload when that is below MAX_BATCH_BYTES', async () => {
    const MAX = 4 * 1024;
    const hub = new MemoryHub({ maxPayloadBytes: MAX });
    const out = recording(hub.wire());
    const a = await node(out.wire, 'n1');
    const got = collect(await node(hub.wire(), 'n2'));
    const frame = encode({ from: 'n1', dc: 'dc-n1', kind: 'paxos', group: 'g1', body: forward(1_000) }).byteLength;
    const perBatch = Math.floor((MAX - BATCH_HEADER_BYTES) / (frame + BATCH_FRAME_OVERHEAD_BYTES));
    expect(perBatch).toBeGreaterThan(1);
    for (let i = 0; i < 10; i++) a.send('n2', 'paxos', forward(1_000, `c${i}`), 'g1');
    await settle();
    const sent = peerPublishes(out.published);
    expect(sent).toHaveLength(Math.ceil(10 / perBatch));
    for (const p of sent) expect(p.bytes.byteLength).toBeLessThanOrEqual(MAX);
    expect(got.map((e) => (e.body as { cmds: Array<{ id: string }> }).cmds[0]!.id)).toEqual(Array.from({ length: 10 }, (_, i) => `c${i}`));
  });

  it('a batch never passes MAX_BATCH_BYTES on a wire that carries far more', async () => {
    const hub = new MemoryHub();
    const out = recording(hub.wire());
    const a = await node(out.wire, 'n1');
    const got = collect(await node(hub.wire(), 'n2'));
    const n = Math.ceil((3 * MAX_BATCH_BYTES) / (100 * 1024));
    for (let i = 0; i < n; i++) a.send('n2', 'paxos', forward(100 * 1024, `c${i}`), 'g1');
    await settle();
    const sent = peerPublishes(out.published);
    expect(sent.length).toBeGreaterThanOrEqual(3);
    for (const p of sent) expect(p.bytes.byteLength).toBeLessThanOrEqual(MAX_BATCH_BYTES);
    expect(got).toHaveLength(n);
  });

  it('a frame over the batch budget goes alone, after what was queued before it and before what follows', async () => {
    const hub = new MemoryHub();
    const out = recording(hub.wire());
    const a = await node(out.wire, 'n1');
    const got = collect(await node(hub.wire(), 'n2'));
    a.send('n2', 'paxos', forward(10, 'before-1'), 'g1');
    a.send('n2', 'paxos', forward(10, 'before-2'), 'g1');
    expect(a.send('n2', 'paxos', forward(MAX_BATCH_BYTES, 'big'), 'g1')).toBe(true);
    a.send('n2', 'paxos', forward(10, 'after-1'), 'g1');
    a.send('n2', 'paxos', forward(10, 'after-2'), 'g1');
    await settle();
    const sent = peerPublishes(out.published);
    expect(sent.map((p) => isBatch(p.bytes))).toEqual([true, false, true]);
    expect(sent[1]!.bytes.byteLength).toBeGreaterThan(MAX_BATCH_BYTES);
    expect(got.map((e) => (e.body as { cmds: Array<{ id: string }> }).cmds[0]!.id)).toEqual(['before-1', 'before-2', 'big', 'after-1', 'after-2']);
  });

  it('when the wire max shrinks between queueing and flushing, each frame goes alone and arrives', async () => {
    const hub = new MemoryHub();
    let max = 64 * 1024;
    const out = recording(hub.wire(), () => max);
    const a = await node(out.wire, 'n1');
    const got = collect(await node(hub.wire(), 'n2'));
    for (let i = 0; i < 3; i++) a.send('n2', 'paxos', forward(1_000, `c${i}`), 'g1');
    max = 1_500;
    await settle();
    expect(peerPublishes(out.published).map((p) => isBatch(p.bytes))).toEqual([false, false, false]);
    expect(got).toHaveLength(3);
  });

  it('a batch the wire refuses is counted per message kind, like lost messages', async () => {
    const hub = new MemoryHub();
    const { wire, breakIt } = breakableWire(hub);
    const a = await node(wire, 'n1');
    await node(hub.wire(), 'n2');
    breakIt();
    a.send('n2', 'paxos', heartbeat(1), 'g1');
    a.send('n2', 'split.closed', { ballot: { round: 1, node: 'n1' }, ts: 5, appliedIndex: 3 }, 's1');
    a.send('n2', 'paxos', heartbeat(2), 'g1');
    await settle();
    expect(a.metrics.get('synod_bus_publish_failed_total', { kind: 'paxos' })).toBe(2);
    expect(a.metrics.get('synod_bus_publish_failed_total', { kind: 'split.closed' })).toBe(1);
  });
});

describe('order: nothing overtakes frames queued for the same peer', () => {
  it('a request sent after queued frames arrives after them', async () => {
    const hub = new MemoryHub();
    const a = await node(hub.wire(), 'n1');
    const b = await node(hub.wire(), 'n2');
    const seen: string[] = [];
    b.on('paxos', (env) => void seen.push(`paxos ${(env.body as { chosenUpTo: number }).chosenUpTo}`));
    b.on('ping', (env) => {
      seen.push('ping');
      return { kind: 'pong', body: { nonce: env.body.nonce } };
    });
    for (let i = 0; i < 3; i++) a.send('n2', 'paxos', heartbeat(i), 'g1');
    await a.request('n2', 'ping', { nonce: 1 });
    expect(seen).toEqual(['paxos 0', 'paxos 1', 'paxos 2', 'ping']);
  });

  it('a reply sent after frames queued for the requester arrives after them', async () => {
    const hub = new MemoryHub();
    const a = await node(hub.wire(), 'n1');
    const b = await node(hub.wire(), 'n2');
    const got = collect(a);
    b.on('ping', (env) => {
      b.send('n1', 'paxos', heartbeat(41, 'n2'), 'g1');
      b.send('n1', 'paxos', heartbeat(42, 'n2'), 'g1');
      return { kind: 'pong', body: { nonce: env.body.nonce } };
    });
    await a.request('n2', 'ping', { nonce: 1 });
    // Delivered before the reply resolved the request.
    expect(numbers(got)).toEqual([41, 42]);
  });

  it('a non-peer send after queued frames arrives after them', async () => {
    const hub = new MemoryHub();
    const a = await node(hub.wire(), 'n1');
    const b = await node(hub.wire(), 'n2');
    const seen: string[] = [];
    b.on('paxos', () => void seen.push('paxos'));
    b.on('note', () => void seen.push('note'));
    a.send('n2', 'paxos', heartbeat(1), 'g1');
    a.send('n2', 'paxos', heartbeat(2), 'g1');
    a.send('n2', 'note', { token: 'x' });
    await settle();
    expect(seen).toEqual(['paxos', 'paxos', 'note']);
  });
});

describe('order: a broadcast does not overtake frames queued for any peer', () => {
  it('frames queued for two peers arrive before a broadcast sent after them', async () => {
    const hub = new MemoryHub();
    const a = await node(hub.wire(), 'n1');
    const seen: Record<string, string[]> = { n2: [], n3: [] };
    for (const id of ['n2', 'n3'] as const) {
      const b = await node(hub.wire(), id);
      b.on('paxos', () => void seen[id]!.push('paxos'));
      b.on('note', () => void seen[id]!.push('note'));
    }
    a.send('n2', 'paxos', heartbeat(1), 'g1');
    a.send('n3', 'paxos', heartbeat(1), 'g1');
    a.broadcast('note', { token: 'x' });
    await settle();
    expect(seen).toEqual({ n2: ['paxos', 'note'], n3: ['paxos', 'note'] });
  });
});

describe('close and fail-stop', () => {
  it('close publishes what was queued', async () => {
    const hub = new MemoryHub();
    const a = new Bus(hub.wire(), { nodeId: 'n1', dc: 'dc-a' });
    await a.start();
    const got = collect(await node(hub.wire(), 'n2'));
    for (let i = 0; i < 4; i++) a.send('n2', 'paxos', heartbeat(i), 'g1');
    await a.close();
    await settle();
    expect(numbers(got)).toEqual([0, 1, 2, 3]);
    expect(a.send('n2', 'paxos', heartbeat(9), 'g1')).toBe(false);
  });

  it('frames queued when a handler fails fatally are never sent', async () => {
    const hub = new MemoryHub();
    const out = recording(hub.wire());
    const fatal: unknown[] = [];
    const a = await node(out.wire, 'n1', { onFatal: (err) => void fatal.push(err) });
    const b = await node(hub.wire(), 'n2');
    const got = collect(b);
    a.on('note', () => {
      a.send('n2', 'paxos', heartbeat(1), 'g1');
      a.send('n2', 'paxos', heartbeat(2), 'g1');
      throw new Error('applied index went backwards');
    });
    b.send('n1', 'note', { token: 'x' });
    await settle();
    expect(fatal).toHaveLength(1);
    expect(peerPublishes(out.published)).toHaveLength(0);
    await a.close();
    await settle();
    expect(peerPublishes(out.published)).toHaveLength(0);
    expect(got).toEqual([]);
  });
});

describe('hostile batches at the receiver', () => {
  const inbox = subjects('synod').peer('n1', 'n9');
  const frame = (body: unknown, from = 'n9') => encode({ from, dc: 'dc-z', kind: 'paxos', group: 'g1', body: body as never });

  /** A target n1 collecting Paxos messages, and a raw wire to throw bytes at it. */
  async function target() {
    const hub = new MemoryHub();
    const bus = await node(hub.wire(), 'n1');
    return { hub, bus, got: collect(bus), raw: hub.wire() };
  }

  it('broken framing drops the whole batch under bad_batch, and valid traffic still flows', async () => {
    const { bus, got, raw } = await target();
    const good = frame(heartbeat(1, 'n9'));
    const valid = encodeBatch([good, good]);
    const truncated = valid.subarray(0, valid.byteLength - 1);
    const trailing = new Uint8Array([...valid, 0]);
    const badVersion = valid.slice();
    badVersion[1] = 2;
    const zeroFrames = new Uint8Array([BATCH_MAGIC, 1, 0, 0]);
    const emptyFrame = new Uint8Array([BATCH_MAGIC, 1, 0, 1, 0, 0, 0, 0]);
    const lengthPastEnd = new Uint8Array([BATCH_MAGIC, 1, 0, 1, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
    const headerOnly = new Uint8Array([BATCH_MAGIC]);
    const broken = [truncated, trailing, badVersion, zeroFrames, emptyFrame, lengthPastEnd, headerOnly];
    for (const bytes of broken) raw.publish(inbox, bytes);
    raw.publish(inbox, valid);
    await settle();
    expect(bus.metrics.get('synod_bus_dropped_total', { reason: 'bad_batch' })).toBe(broken.length);
    expect(numbers(got)).toEqual([1, 1]);
  });

  it('a batch claiming more than MAX_BATCH_FRAMES frames is dropped whole', async () => {
    const { bus, got, raw } = await target();
    const good = frame(heartbeat(1, 'n9'));
    // Framed by hand: encodeBatch refuses to build it.
    const n = MAX_BATCH_FRAMES + 1;
    const bytes = new Uint8Array(BATCH_HEADER_BYTES + n * (BATCH_FRAME_OVERHEAD_BYTES + good.byteLength));
    const view = new DataView(bytes.buffer);
    bytes[0] = BATCH_MAGIC;
    bytes[1] = 1;
    view.setUint16(2, n);
    for (let i = 0, at = BATCH_HEADER_BYTES; i < n; i++, at += BATCH_FRAME_OVERHEAD_BYTES + good.byteLength) {
      view.setUint32(at, good.byteLength);
      bytes.set(good, at + BATCH_FRAME_OVERHEAD_BYTES);
    }
    raw.publish(inbox, bytes);
    await settle();
    expect(bus.metrics.get('synod_bus_dropped_total', { reason: 'bad_batch' })).toBe(1);
    expect(got).toEqual([]);
  });

  it('a batch over MAX_BATCH_BYTES is dropped whole', async () => {
    const { bus, got, raw } = await target();
    raw.publish(inbox, encodeBatch([frame(forward(MAX_BATCH_BYTES / 2, 'a')), frame(forward(MAX_BATCH_BYTES / 2, 'b'))]));
    await settle();
    expect(bus.metrics.get('synod_bus_dropped_total', { reason: 'bad_batch' })).toBe(1);
    expect(got).toEqual([]);
  });

  it('bad frames among good ones are dropped and counted one by one; the good ones are delivered in order', async () => {
    const { bus, got, raw } = await target();
    const overRound = { ...heartbeat(2, 'n9'), ballot: { round: MAX_BALLOT_ROUND + 1, node: 'n9' } };
    raw.publish(
      inbox,
      encodeBatch([
        frame(heartbeat(1, 'n9')),
        frame(overRound),
        new Uint8Array([0xc1, 0xc1, 0xc1]),
        frame(heartbeat(3, 'n8'), 'n8'),
        encodeBatch([frame(heartbeat(4, 'n9')), frame(heartbeat(4, 'n9'))]),
        frame(heartbeat(5, 'n9')),
      ]),
    );
    await settle();
    expect(numbers(got)).toEqual([1, 5]);
    expect(bus.metrics.get('synod_bus_dropped_total', { reason: 'bad_body' })).toBe(1);
    // Garbage, and a batch nested in a batch: a frame is always a single message.
    expect(bus.metrics.get('synod_bus_dropped_total', { reason: 'malformed' })).toBe(2);
    // A frame claiming another sender than the subject's token.
    expect(bus.metrics.get('synod_bus_dropped_total', { reason: 'spoofed_sender' })).toBe(1);
    expect(bus.metrics.get('synod_bus_dropped_total', { reason: 'bad_batch' })).toBe(0);
  });

  it('a batch is unpacked only on a peer subject', async () => {
    const { bus, got, raw } = await target();
    raw.publish(subjects('synod').node('n1'), encodeBatch([frame(heartbeat(1, 'n9')), frame(heartbeat(2, 'n9'))]));
    await settle();
    expect(got).toEqual([]);
    expect(bus.metrics.get('synod_bus_batches_total', { direction: 'in' })).toBe(0);
    expect(bus.metrics.get('synod_bus_dropped_total', { reason: 'malformed' })).toBe(1);
  });

  it('a batch sent as a request is refused with INVALID_ARGUMENT and delivers nothing', async () => {
    const { bus, got, raw } = await target();
    const reply = await raw.request(inbox, encodeBatch([frame(heartbeat(1, 'n9')), frame(heartbeat(2, 'n9'))]), 1_000);
    expect(reply[0]).not.toBe(BATCH_MAGIC);
    expect(bus.metrics.get('synod_bus_dropped_total', { reason: 'bad_batch' })).toBe(1);
    expect(got).toEqual([]);
  });

  it('random bytes behind the batch magic never crash the receiver', async () => {
    const { bus, raw } = await target();
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const good = frame(heartbeat(1, 'n9'));
    const valid = encodeBatch([good, good, good]);
    for (let i = 0; i < 2_000; i++) {
      // Mutations of a valid batch (a few bytes changed) and pure noise.
      const bytes = i % 2 === 0 ? valid.slice() : new Uint8Array(1 + Math.floor(next() * 200)).map(() => Math.floor(next() * 256));
      bytes[0] = BATCH_MAGIC;
      if (i % 2 === 0) for (let k = 0; k < 3; k++) bytes[1 + Math.floor(next() * (bytes.length - 1))] = Math.floor(next() * 256);
      raw.publish(inbox, bytes);
    }
    await settle();
    // Every one was either framed well (its frames then judged one by one) or dropped as bad_batch.
    const framed = bus.metrics.get('synod_bus_batches_total', { direction: 'in' });
    expect(framed + bus.metrics.get('synod_bus_dropped_total', { reason: 'bad_batch' })).toBe(2_000);
    expect((await bus.request('n1', 'ping', { nonce: 3 })).body).toEqual({ nonce: 3 });
  });
});

describe('the simulated network judges every frame', () => {
  it('a partitioned DC pair drops each frame of a batch, counted one by one', async () => {
    const hub = new MemoryHub();
    const out = recording(hub.wire());
    const a = await node(out.wire, 'n1');
    const b = await node(hub.wire(), 'n2');
    const got = collect(b);
    await a.publishChaos(chaos.partition(a.chaos, ['dc-n1'], ['dc-n2']));
    await settle();
    for (let i = 0; i < 5; i++) a.send('n2', 'paxos', heartbeat(i), 'g1');
    await settle();
    expect(peerPublishes(out.published)).toHaveLength(1);
    expect(got).toEqual([]);
    expect(b.metrics.get('synod_bus_fault_dropped_total', { why: 'partition' })).toBe(5);
  });

  it('loss is drawn per frame, not per batch', async () => {
    const hub = new MemoryHub();
    const a = await node(hub.wire(), 'n1');
    let draw = 0;
    // Alternating draws against a 50% loss: every other frame is lost.
    const b = await node(hub.wire(), 'n2', { rand: () => (draw++ % 2 === 0 ? 0.1 : 0.9) });
    const got = collect(b);
    await a.publishChaos(chaos.loss(a.chaos, 'dc-n1', 'dc-n2', 0.5));
    await settle();
    for (let i = 0; i < 6; i++) a.send('n2', 'paxos', heartbeat(i), 'g1');
    await settle();
    expect(numbers(got)).toEqual([1, 3, 5]);
    expect(b.metrics.get('synod_bus_fault_dropped_total', { why: 'loss' })).toBe(3);
  });

  it('wire counters: one batch is one message out and one in', async () => {
    const hub = new MemoryHub();
    const a = await node(hub.wire(), 'n1');
    const b = await node(hub.wire(), 'n2');
    collect(b);
    await turn();
    const [outBefore, inBefore] = [a.metrics.get('synod_bus_wire_published_total'), b.metrics.get('synod_bus_wire_received_total')];
    for (let i = 0; i < 50; i++) a.send('n2', 'paxos', heartbeat(i), 'g1');
    await settle();
    expect(a.metrics.get('synod_bus_wire_published_total') - outBefore).toBe(1);
    expect(b.metrics.get('synod_bus_wire_received_total') - inBefore).toBe(1);
  });
});
