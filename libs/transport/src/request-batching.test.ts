import { startNatsServer, type NatsServerHandle } from '@synod/natsd';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeTaggedBatch, encodeTaggedBatch } from './batch-frame.js';
import { SharedConnection } from './connect.js';
import { inboxPrefixFor, permissionsFor } from './credentials.js';
import { NatsWire } from './nats-wire.js';
import { WireNoRespondersError, WirePayloadTooLargeError, WireTimeoutError, type Respond } from './wire.js';
import { Bus } from './bus.js';

// docs/transport.md "Request batching".
const MAX = 64 * 1024;
let nats: NatsServerHandle;
beforeAll(async () => {
  nats = await startNatsServer({ maxPayloadBytes: MAX });
}, 30_000);
afterAll(async () => {
  await nats?.stop();
});

const text = (d: Uint8Array) => Buffer.from(d).toString();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A responder on `subject`: `answer` decides, per request, what to do with its respond. */
async function responder(url: string, subject: string, answer: (data: string, respond: Respond) => void, opts: Parameters<typeof NatsWire.connect>[1] = {}): Promise<NatsWire> {
  const server = await NatsWire.connect(url, opts);
  server.subscribe(subject, (d, respond) => respond && answer(text(d), respond));
  await server.flush();
  return server;
}
const echoAt = (url: string, subject: string) => responder(url, subject, (d, respond) => respond(Buffer.from(`re:${d}`)));

describe('NatsWire request batching', () => {
  it('requests to one subject in one turn leave as one message, and each gets its own reply', async () => {
    const [server, client] = [await echoAt(nats.url, 'rb.echo'), await NatsWire.connect(nats.url)];
    try {
      const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => client.request('rb.echo', Buffer.from(`q${i}`), 5_000)));
      expect(replies.map(text)).toEqual(Array.from({ length: 50 }, (_, i) => `re:q${i}`));
      expect(client.batchStats).toMatchObject({ batchesOut: 1, framesOut: 50 });
      expect(server.batchStats).toMatchObject({ batchesIn: 1, framesIn: 50 });
      expect(client.pendingRequests).toBe(0);
      // One request alone goes as before, without batch framing.
      expect(text(await client.request('rb.echo', Buffer.from('solo'), 5_000))).toBe('re:solo');
      expect(client.batchStats.batchesOut).toBe(1);
    } finally {
      await Promise.all([server.close(), client.close()]);
    }
  });

  it('off: every request leaves alone', async () => {
    const [server, client] = [await echoAt(nats.url, 'rb.off'), await NatsWire.connect(nats.url, {}, { batchRequests: false })];
    try {
      const replies = await Promise.all(Array.from({ length: 5 }, (_, i) => client.request('rb.off', Buffer.from(`q${i}`), 5_000)));
      expect(replies.map(text)).toEqual(Array.from({ length: 5 }, (_, i) => `re:q${i}`));
      expect(client.batchStats.batchesOut).toBe(0);
      expect(server.batchStats.batchesIn).toBe(0);
    } finally {
      await Promise.all([server.close(), client.close()]);
    }
  });

  it('replies leave as they are ready: a slow one holds back none of the rest, an unanswered one times out alone', async () => {
    const server = await responder(nats.url, 'rb.mixed', (d, respond) => {
      if (d.startsWith('slow')) setTimeout(() => respond(Buffer.from(`re:${d}`)), 150);
      else if (!d.startsWith('never')) respond(Buffer.from(`re:${d}`));
    });
    const client = await NatsWire.connect(nats.url);
    try {
      const t0 = performance.now();
      const done: string[] = [];
      const ask = (q: string, timeoutMs = 5_000) =>
        client.request('rb.mixed', Buffer.from(q), timeoutMs).then((r) => {
          done.push(text(r));
          return performance.now() - t0;
        });
      const [fast, slow, never, fast2] = [ask('fast1'), ask('slow1'), ask('never1', 300).catch((e: unknown) => e), ask('fast2')];
      expect(await fast).toBeLessThan(150);
      expect(await fast2).toBeLessThan(150);
      expect(await slow).toBeGreaterThanOrEqual(140);
      expect(await never).toBeInstanceOf(WireTimeoutError);
      expect(done).toEqual(['re:fast1', 're:fast2', 're:slow1']);
      expect(client.batchStats).toMatchObject({ batchesOut: 1, framesOut: 4 });
      expect(client.pendingRequests).toBe(0);
    } finally {
      await Promise.all([server.close(), client.close()]);
    }
  });

  it('a batch nobody listens to fails every request of it at once', async () => {
    const client = await NatsWire.connect(nats.url);
    try {
      const t0 = performance.now();
      const errs = await Promise.all(Array.from({ length: 3 }, () => client.request('rb.nobody', Buffer.from('x'), 10_000).catch((e: unknown) => e)));
      for (const e of errs) expect(e).toBeInstanceOf(WireNoRespondersError);
      expect(performance.now() - t0).toBeLessThan(5_000);
      expect(client.batchStats.batchesOut).toBe(1);
      expect(client.pendingRequests).toBe(0);
    } finally {
      await client.close();
    }
  });

  it('a request too large for a batch goes alone; a reply too large for one is refused where it is given', async () => {
    const refused: unknown[] = [];
    const server = await responder(nats.url, 'rb.big', (d, respond) => {
      if (!d.startsWith('big-reply')) return respond(Buffer.from(`re:${d.length}`));
      try {
        respond(Buffer.alloc(MAX - 4, 1));
      } catch (err) {
        refused.push(err);
        respond(Buffer.from('too large'));
      }
    });
    const client = await NatsWire.connect(nats.url);
    try {
      const alone = Buffer.alloc(MAX - 4, 'a'.charCodeAt(0));
      const [small, big] = await Promise.all([client.request('rb.big', Buffer.from('s'), 5_000), client.request('rb.big', alone, 5_000)]);
      expect(text(small)).toBe('re:1');
      expect(text(big)).toBe(`re:${MAX - 4}`);
      // The small one could not share a batch with the big one: both went alone.
      expect(client.batchStats.batchesOut).toBe(0);
      const replies = await Promise.all([client.request('rb.big', Buffer.from('big-reply'), 5_000), client.request('rb.big', Buffer.from('t'), 5_000)]);
      expect(replies.map(text)).toEqual(['too large', 're:1']);
      expect(refused).toHaveLength(1);
      expect(refused[0]).toBeInstanceOf(WirePayloadTooLargeError);
    } finally {
      await Promise.all([server.close(), client.close()]);
    }
  });

  it('broken framing reaches the handler whole; a reply naming a request of another batch answers nothing', async () => {
    const seen: Uint8Array[] = [];
    const server = await NatsWire.connect(nats.url);
    server.subscribe('rb.hostile', (d) => void seen.push(d));
    await server.flush();
    const client = await NatsWire.connect(nats.url);
    try {
      const broken = new Uint8Array([0xc1, 2, 0, 5, 1]);
      client.nc.publish('rb.hostile', broken, { reply: 'rb.nowhere' });
      await client.flush();
      await sleep(100);
      expect(seen.map((d) => Array.from(d))).toEqual([Array.from(broken)]);

      // A responder that answers each batch with the ids of the batch before it.
      let previous: Array<{ id: number; bytes: Uint8Array }> = [];
      const liar = await NatsWire.connect(nats.url);
      liar.nc.subscribe('rb.liar', {
        callback: (_e, msg) => {
          const r = decodeTaggedBatch(msg.data);
          if (!r.ok) return;
          if (previous.length > 0) msg.respond(encodeTaggedBatch(previous));
          previous = r.frames.map((f) => ({ id: f.id, bytes: Buffer.from('lie') }));
        },
      });
      await liar.flush();
      const first = [client.request('rb.liar', Buffer.from('a'), 300), client.request('rb.liar', Buffer.from('b'), 300)].map((p) => p.catch((e: unknown) => e));
      await sleep(50);
      const second = [client.request('rb.liar', Buffer.from('c'), 300), client.request('rb.liar', Buffer.from('d'), 300)].map((p) => p.catch((e: unknown) => e));
      for (const e of await Promise.all([...first, ...second])) expect(e).toBeInstanceOf(WireTimeoutError);
      await liar.close();
    } finally {
      await Promise.all([server.close(), client.close()]);
    }
  });

  it('under node credentials, replies to one batch may leave in several messages', async () => {
    const pw = 'p'.repeat(24);
    const srv = await startNatsServer({
      authorization: {
        users: [
          { user: 'n1', password: pw, permissions: permissionsFor('c', 'node', 'n1') },
          { user: 'client', password: pw, permissions: permissionsFor('c', 'client', 'client') },
        ],
      },
    });
    try {
      let n = 0;
      const server = await responder(srv.url, 'c.node.n1', (d, respond) => {
        // Every other reply a turn later: the batch is answered in at least two messages.
        if (n++ % 2 === 0) respond(Buffer.from(`re:${d}`));
        else setTimeout(() => respond(Buffer.from(`re:${d}`)), 20 * n);
      }, { user: 'n1', pass: pw });
      const client = await NatsWire.connect(srv.url, { user: 'client', pass: pw, inboxPrefix: inboxPrefixFor('client') });
      const replies = await Promise.all(Array.from({ length: 6 }, (_, i) => client.request('c.node.n1', Buffer.from(`q${i}`), 5_000)));
      expect(replies.map(text)).toEqual(Array.from({ length: 6 }, (_, i) => `re:q${i}`));
      expect(client.batchStats.batchesOut).toBe(1);
      await Promise.all([server.close(), client.close()]);
    } finally {
      await srv.stop();
    }
  });

  it("many client buses on one connection: their requests to one node in a turn share a batch, each answered as its own", async () => {
    const server = new Bus(await NatsWire.connect(nats.url), { nodeId: 'rb-s1', dc: 'dc-a' });
    server.on('ping', (env) => ({ kind: 'pong', body: { nonce: env.body.nonce + 1000 } }));
    await server.start();
    const shared = await SharedConnection.connect(nats.url, {});
    try {
      const buses = await Promise.all(Array.from({ length: 4 }, (_, i) => shared.bus({ nodeId: `rb-c${i}`, dc: 'dc-a' })));
      const before = shared.natsWire.batchStats.framesOut;
      const replies = await Promise.all(buses.map((b, i) => b.request('rb-s1', 'ping', { nonce: i })));
      expect(replies.map((r) => [r.from, r.body])).toEqual(buses.map((_, i) => ['rb-s1', { nonce: i + 1000 }]));
      expect(shared.natsWire.batchStats.framesOut - before).toBe(4);
      // Exported once per connection, at a scrape; the server's own bus exports what it received.
      await shared.metrics.render();
      expect(shared.metrics.get('synod_bus_request_batch_frames_total', { direction: 'out' })).toBe(shared.natsWire.batchStats.framesOut);
      await server.metrics.render();
      expect(server.metrics.get('synod_bus_request_batches_total', { direction: 'in' })).toBeGreaterThanOrEqual(1);
      expect(server.metrics.get('synod_bus_request_batch_frames_total', { direction: 'in' })).toBeGreaterThanOrEqual(4);
      for (const b of buses) await b.close();
    } finally {
      await shared.close();
      await server.close();
    }
  });
});
