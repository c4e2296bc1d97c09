import { SynodError } from '@synod/codec';
import { startNatsServer, type NatsServerHandle } from '@synod/natsd';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bus } from './bus.js';
import { SharedConnection } from './connect.js';
import { NatsWire } from './nats-wire.js';
import { WireNoRespondersError, WireTimeoutError, WireTooManyRequestsError } from './wire.js';

/** A small max_payload keeps the oversize messages small; the path is the same at 8 MiB. */
const MAX = 64 * 1024;
let nats: NatsServerHandle;
beforeAll(async () => {
  nats = await startNatsServer({ maxPayloadBytes: MAX });
}, 30_000);
afterAll(async () => {
  await nats?.stop();
});

async function node(nodeId: string): Promise<Bus> {
  const bus = new Bus(await NatsWire.connect(nats.url), { nodeId, dc: `dc-${nodeId}` });
  bus.on('ping', (env) => ({ kind: 'pong', body: { nonce: env.body.nonce } }));
  await bus.start();
  return bus;
}
const big = (n: number) => ({ type: 'forward' as const, group: 'g1', from: 'n1', cmds: [{ id: 'c1', payload: 'x'.repeat(n) }] });

describe('Bus over NATS: publishes the server refuses never throw', () => {
  it("reads the server's max_payload", async () => {
    const wire = await NatsWire.connect(nats.url);
    expect(wire.maxPayloadBytes()).toBe(MAX);
    await wire.close();
  });

  it('an oversize send returns false and counts; an oversize request rejects MESSAGE_TOO_LARGE; the connection keeps working', async () => {
    const [a, b] = [await node('n1'), await node('n2')];
    try {
      const got: unknown[] = [];
      b.on('paxos', (env) => void got.push(env.body));
      expect(a.send('n2', 'paxos', big(MAX), 'g1')).toBe(false);
      await expect(a.request('n2', 'paxos.propose', { cmds: [{ id: 'c1', payload: 'x'.repeat(MAX) }] }, { timeoutMs: 1_000 })).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
      expect(a.metrics.get('synod_bus_oversize_total', { kind: 'paxos' })).toBe(1);
      expect(a.metrics.get('synod_bus_oversize_total', { kind: 'paxos.propose' })).toBe(1);
      // NATS closes a connection that sends past max_payload; this one never did.
      expect(a.send('n2', 'paxos', big(100), 'g1')).toBe(true);
      expect((await a.request('n2', 'ping', { nonce: 3 })).body).toEqual({ nonce: 3 });
      expect(got).toHaveLength(1);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('a send on a closed connection returns false and counts; a request rejects with a SynodError', async () => {
    const a = await node('n3');
    await (a.wire as NatsWire).nc.close();
    expect(a.send('n2', 'note', { token: 'x' })).toBe(false);
    expect(a.metrics.get('synod_bus_publish_failed_total', { kind: 'note' })).toBe(1);
    const err = await a.request('n2', 'ping', { nonce: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SynodError);
    expect(err).toMatchObject({ code: 'UNAVAILABLE' });
    await a.close();
  });
});

describe('Bus over NATS: coalescing (docs/transport.md "Coalescing")', () => {
  it('one turn of sends to a peer crosses NATS as batches within the server max_payload, delivered in order', async () => {
    const [a, b] = [await node('n4'), await node('n5')];
    try {
      const got: string[] = [];
      b.on('paxos', (env) => void got.push((env.body as { cmds: Array<{ id: string }> }).cmds[0]!.id));
      const published = a.metrics.get('synod_bus_wire_published_total');
      // 40 frames of ~4 KiB: more than one 64 KiB payload, so the server's max splits the batches.
      const n = 40;
      for (let i = 0; i < n; i++) a.send('n5', 'paxos', { ...big(4_000), cmds: [{ id: `c${i}`, payload: 'x'.repeat(4_000) }] }, 'g1');
      expect((await a.request('n5', 'ping', { nonce: 1 })).body).toEqual({ nonce: 1 });
      const batches = a.metrics.get('synod_bus_batches_total', { direction: 'out' });
      expect(batches).toBeGreaterThanOrEqual(Math.ceil((n * 4_000) / MAX));
      expect(batches).toBeLessThan(n / 2);
      // The batches, then the request: nothing else went out.
      expect(a.metrics.get('synod_bus_wire_published_total') - published).toBe(batches + 1);
      expect(got).toEqual(Array.from({ length: n }, (_, i) => `c${i}`));
      expect(b.metrics.get('synod_bus_batch_frames_total', { direction: 'in' })).toBe(n);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('NatsWire: one socket write per turn', () => {
  it('holds the writes of a turn on the socket and lets them go once the turn has run', async () => {
    const [a, b] = [await NatsWire.connect(nats.url), await NatsWire.connect(nats.url)];
    try {
      const got: string[] = [];
      b.subscribe('hold.test', (d) => void got.push(Buffer.from(d).toString()));
      await b.flush();
      const socket = (a.nc as unknown as { protocol: { transport: { socket: { writableCorked: number } } } }).protocol.transport.socket;
      // Three callbacks of one turn publishing, as a leader's commit-wait timers do: all held until the turn ends.
      await new Promise<void>((resolve) => {
        let left = 3;
        for (let i = 0; i < 3; i++)
          setTimeout(() => {
            a.publish('hold.test', Buffer.from(`m${i}`));
            // nats.js's path to its socket still holds (a version that moved it would silently lose the batching).
            expect(a.holdingWrites).toBe(true);
            expect(socket.writableCorked).toBe(1);
            if (--left === 0) resolve();
          }, 0);
      });
      await new Promise((r) => setImmediate(r));
      expect(a.holdingWrites).toBe(false);
      expect(socket.writableCorked).toBe(0);
      for (let i = 0; i < 400 && got.length < 3; i++) await new Promise((r) => setTimeout(r, 5));
      expect(got).toEqual(['m0', 'm1', 'm2']);
      // endTurn releases in the microtask after nats.js has moved the turn's last publishes to the socket.
      a.publish('hold.test', Buffer.from('m3'));
      expect(a.holdingWrites).toBe(true);
      a.endTurn();
      expect(a.holdingWrites).toBe(false);
      await Promise.resolve();
      expect(socket.writableCorked).toBe(0);
      for (let i = 0; i < 400 && got.length < 4; i++) await new Promise((r) => setTimeout(r, 5));
      expect(got).toEqual(['m0', 'm1', 'm2', 'm3']);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('NatsWire: what endTurn publishes shares the turn\'s one write', () => {
  it('a turn with a publish and two batched requests reaches the socket in one write', async () => {
    const [a, b] = [await NatsWire.connect(nats.url, {}, { batchRequests: true }), await NatsWire.connect(nats.url)];
    try {
      b.subscribe('one.write', (d, respond) => respond?.(d));
      await b.flush();
      await a.flush();
      const socket = (a.nc as unknown as { protocol: { transport: { socket: Record<string, unknown> } } }).protocol.transport.socket;
      let writes = 0;
      for (const hook of ['_write', '_writev'] as const) {
        const original = socket[hook] as (...args: unknown[]) => unknown;
        socket[hook] = (...args: unknown[]) => {
          writes++;
          return original.apply(socket, args);
        };
      }
      // From a timer, as a leader's commit waits publish: the plain publish is held at once; the two
      // requests leave as one batch from endTurn, after nats.js's own flush of that turn has run.
      const replies = await new Promise<Uint8Array[]>((resolve, reject) =>
        setTimeout(() => {
          a.publish('one.write.none', Buffer.from('p'));
          Promise.all([a.request('one.write', Buffer.from('r1'), 2_000), a.request('one.write', Buffer.from('r2'), 2_000)]).then(resolve, reject);
        }, 0),
      );
      expect(replies.map((r) => Buffer.from(r).toString())).toEqual(['r1', 'r2']);
      expect(a.batchStats.batchesOut).toBe(1);
      expect(writes).toBe(1);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('NatsWire: request/reply on its own reply subscription', () => {
  const echo = async () => {
    const server = await NatsWire.connect(nats.url);
    server.subscribe('rr.echo', (d, respond) => respond?.(d));
    // Never answers: its requests time out.
    server.subscribe('rr.silent', () => undefined);
    await server.flush();
    return server;
  };

  it('matches many concurrent replies to their requests, and keeps nothing once answered', async () => {
    const [server, client] = [await echo(), await NatsWire.connect(nats.url)];
    try {
      const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => client.request('rr.echo', Buffer.from(`r${i}`), 5_000)));
      expect(replies.map((r) => Buffer.from(r).toString())).toEqual(Array.from({ length: 200 }, (_, i) => `r${i}`));
      expect(client.pendingRequests).toBe(0);
    } finally {
      await Promise.all([server.close(), client.close()]);
    }
  });

  it('times out without a reply, and says when nobody listens', async () => {
    const [server, client] = [await echo(), await NatsWire.connect(nats.url)];
    try {
      await expect(client.request('rr.silent', Buffer.from('x'), 100)).rejects.toBeInstanceOf(WireTimeoutError);
      await expect(client.request('rr.nobody', Buffer.from('x'), 5_000)).rejects.toBeInstanceOf(WireNoRespondersError);
      expect(client.pendingRequests).toBe(0);
      // The reply subscription still serves after both.
      expect(Buffer.from(await client.request('rr.echo', Buffer.from('ok'), 5_000)).toString()).toBe('ok');
    } finally {
      await Promise.all([server.close(), client.close()]);
    }
  });

  it('refuses a request past its bound of waiting ones at once, and serves again once they settle', async () => {
    const [server, client] = [await echo(), await NatsWire.connect(nats.url, {}, { maxPendingRequests: 2 })];
    try {
      const waiting = [client.request('rr.silent', Buffer.from('a'), 200), client.request('rr.silent', Buffer.from('b'), 200)];
      await expect(client.request('rr.echo', Buffer.from('c'), 5_000)).rejects.toBeInstanceOf(WireTooManyRequestsError);
      for (const w of waiting) await expect(w).rejects.toBeInstanceOf(WireTimeoutError);
      expect(Buffer.from(await client.request('rr.echo', Buffer.from('d'), 5_000)).toString()).toBe('d');
    } finally {
      await Promise.all([server.close(), client.close()]);
    }
  });

  it('a reply subscription the server refuses fails the waiting request at once, and the next request subscribes again', async () => {
    const pw = 'p'.repeat(20);
    const srv = await startNatsServer({
      authorization: {
        users: [
          { user: 'server', password: pw, permissions: { publish: { allow: ['>'] }, subscribe: { allow: ['>'] } } },
          // May ask, may not subscribe to any inbox: its reply subscription is refused.
          { user: 'asker', password: pw, permissions: { publish: { allow: ['>'] }, subscribe: { allow: ['nothing.here'] } } },
        ],
      },
    });
    try {
      const server = await NatsWire.connect(srv.url, { user: 'server', pass: pw });
      server.subscribe('svc', (data, respond) => respond?.(data));
      const asker = await NatsWire.connect(srv.url, { user: 'asker', pass: pw });
      for (let i = 0; i < 2; i++) {
        // Refused, not left to its 60 s timeout (beyond the test's own): the second one too, as
        // it subscribed again rather than waiting on the dead subscription.
        const err = await asker.request('svc', new Uint8Array([1]), 60_000).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(Error);
        expect(err).not.toBeInstanceOf(WireTimeoutError);
        expect(asker.pendingRequests).toBe(0);
      }
      await asker.close();
      await server.close();
    } finally {
      await srv.stop();
    }
  });

  it('fails the requests still waiting when the connection closes, not at their timeouts', async () => {
    const [server, client] = [await echo(), await NatsWire.connect(nats.url)];
    try {
      const waiting = client.request('rr.silent', Buffer.from('x'), 60_000);
      await client.flush();
      await client.nc.close();
      await expect(waiting).rejects.toBeInstanceOf(Error);
      await expect(waiting).rejects.not.toBeInstanceOf(WireTimeoutError);
      expect(client.pendingRequests).toBe(0);
    } finally {
      await Promise.all([server.close(), client.close()]);
    }
  });
});

describe('SharedConnection: many client buses over one NATS connection', () => {
  it('each bus requests as itself; the connection closes with the last bus', async () => {
    const server = await node('s1');
    const seen: Array<{ from: string; dc: string }> = [];
    server.on('ping', (env) => {
      seen.push({ from: env.from, dc: env.dc });
      return { kind: 'pong', body: { nonce: env.body.nonce } };
    });
    const shared = await SharedConnection.connect(nats.url, {});
    try {
      const [a, b] = [await shared.bus({ nodeId: 'c-a', dc: 'dc-a' }), await shared.bus({ nodeId: 'c-b', dc: 'dc-b' })];
      expect(shared.buses).toBe(2);
      const replies = await Promise.all([a.request('s1', 'ping', { nonce: 1 }), b.request('s1', 'ping', { nonce: 2 }), a.request('s1', 'ping', { nonce: 3 })]);
      expect(replies.map((r) => r.body)).toEqual([{ nonce: 1 }, { nonce: 2 }, { nonce: 3 }]);
      // One registry for the connection's buses.
      expect(a.metrics).toBe(shared.metrics);
      expect(b.metrics).toBe(shared.metrics);
      expect(seen).toEqual([
        { from: 'c-a', dc: 'dc-a' },
        { from: 'c-b', dc: 'dc-b' },
        { from: 'c-a', dc: 'dc-a' },
      ]);
      await a.close();
      // Closing one bus releases the connection, it does not close it under the other.
      expect(shared.natsWire.nc.isClosed()).toBe(false);
      expect((await b.request('s1', 'ping', { nonce: 4 })).body).toEqual({ nonce: 4 });
      await b.close();
      expect(shared.buses).toBe(0);
      expect(shared.natsWire.nc.isClosed()).toBe(true);
      await expect(shared.bus({ nodeId: 'c-c', dc: 'dc-c' })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    } finally {
      await shared.close();
      await server.close();
    }
  });
});
