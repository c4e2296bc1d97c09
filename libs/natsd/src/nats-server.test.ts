import { connect } from 'node:net';
import { connect as natsConnect } from 'nats';
import { describe, expect, it } from 'vitest';
import { NATS_MAX_PAYLOAD_BYTES } from '@synod/limits';
import { NatsServerMissingError, findNatsServer } from './find-binary.js';
import { NatsServerStartError, startNatsServer } from './nats-server.js';
import { processAlive } from './process-alive.js';

const alive = processAlive;

describe('nats-server harness', () => {
  it('starts on a free loopback port, accepts connections, and stops leaving no process', async () => {
    const srv = await startNatsServer();
    expect(srv.url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
    await new Promise<void>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: srv.port }, () => {
        s.destroy();
        resolve();
      });
      s.once('error', reject);
    });
    expect(alive(srv.pid)).toBe(true);
    await srv.stop();
    expect(alive(srv.pid)).toBe(false);
  });

  it('two servers get different ports', async () => {
    const [a, b] = await Promise.all([startNatsServer(), startNatsServer()]);
    expect(a.port).not.toBe(b.port);
    await Promise.all([a.stop(), b.stop()]);
  });

  it('configures max_payload to NATS_MAX_PAYLOAD_BYTES (not the 1 MiB default of nats-server), as the server reports it to clients', async () => {
    const srv = await startNatsServer();
    try {
      const nc = await natsConnect({ servers: srv.url });
      expect(nc.info?.max_payload).toBe(NATS_MAX_PAYLOAD_BYTES);
      await nc.close();
    } finally {
      await srv.stop();
    }
  });

  it('takes another max_payload when asked', async () => {
    const srv = await startNatsServer({ maxPayloadBytes: 64 * 1024 });
    try {
      const nc = await natsConnect({ servers: srv.url });
      expect(nc.info?.max_payload).toBe(64 * 1024);
      await nc.close();
    } finally {
      await srv.stop();
    }
  });

  it('rejects a second server on a port already in use, naming the port, instead of reporting the first one as started', async () => {
    const first = await startNatsServer();
    try {
      const t0 = Date.now();
      const second = startNatsServer({ port: first.port, startTimeoutMs: 5_000 });
      await expect(second).rejects.toThrow(NatsServerStartError);
      await expect(second).rejects.toThrow(new RegExp(`port ${first.port} is already in use`));
      console.log(`natsd: bind failure reported after ${Date.now() - t0} ms`);
      // The first server is untouched and still accepts clients.
      expect(alive(first.pid)).toBe(true);
      const nc = await natsConnect({ servers: first.url });
      await nc.close();
    } finally {
      await first.stop();
    }
  });

  it('names the Debian package when the binary is missing', () => {
    expect(() => findNatsServer({ PATH: '/nonexistent', SYNOD_NATS_SERVER: '/nonexistent/nats-server' })).toThrow(NatsServerMissingError);
    expect(() => findNatsServer({ PATH: '/nonexistent', SYNOD_NATS_SERVER: '/nonexistent/nats-server' })).toThrow(/apt-get install -y nats-server/);
  });

  it('with authorization, admits only its users and enforces their publish permissions', async () => {
    const srv = await startNatsServer({
      authorization: { users: [{ user: 'u1', password: 'p'.repeat(20), permissions: { publish: { allow: ['ok.*'] }, subscribe: { allow: ['ok.>', '_INBOX.>'] } } }] },
    });
    try {
      await expect(natsConnect({ servers: srv.url })).rejects.toMatchObject({ code: 'AUTHORIZATION_VIOLATION' });
      await expect(natsConnect({ servers: srv.url, user: 'u1', pass: 'wrong-password' })).rejects.toMatchObject({ code: 'AUTHORIZATION_VIOLATION' });
      const nc = await natsConnect({ servers: srv.url, user: 'u1', pass: 'p'.repeat(20) });
      const got: string[] = [];
      const sub = nc.subscribe('ok.>', { callback: (_e, m) => void got.push(m.subject) });
      const refused: string[] = [];
      void (async () => {
        for await (const st of nc.status()) if (st.type === 'error') refused.push(String((st as { permissionContext?: { subject: string } }).permissionContext?.subject));
      })();
      nc.publish('ok.a', new Uint8Array(1));
      nc.publish('no.a', new Uint8Array(1));
      await nc.flush();
      await new Promise((r) => setTimeout(r, 100));
      expect(got).toEqual(['ok.a']);
      expect(refused).toEqual(['no.a']);
      sub.unsubscribe();
      await nc.close();
    } finally {
      await srv.stop();
    }
  });
});
