import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { NatsServerMissingError, findNatsServer } from './find-binary.js';
import { startNatsServer } from './nats-server.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

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

  it('names the Debian package when the binary is missing', () => {
    expect(() => findNatsServer({ PATH: '/nonexistent', SYNOD_NATS_SERVER: '/nonexistent/nats-server' })).toThrow(NatsServerMissingError);
    expect(() => findNatsServer({ PATH: '/nonexistent', SYNOD_NATS_SERVER: '/nonexistent/nats-server' })).toThrow(/apt-get install -y nats-server/);
  });
});
