/**
 * Three nats-servers, one per DC namespace, joined by routes (docs/netns.md): a message crosses
 * DCs; across an iptables cut it does not; after heal the routes come back and interest made
 * during the cut propagates.
 */
import { connect as natsConnect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DcNetwork } from '@synod/netns';
import { natsConfigText, startNatsServer, type NatsServerHandle } from './nats-server.js';

const runRootTests = process.getuid?.() === 0 || process.env.CI === 'true';
if (!runRootTests) console.log('natsd: not root and not CI: skipping the routes-across-namespaces test (it needs root)');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('renders a cluster block with route credentials and a short ping, and nothing of it without one', () => {
  expect(natsConfigText({})).not.toMatch(/cluster|ping/);
  const text = natsConfigText({ cluster: { name: 'c', host: '10.0.0.1', port: 6222, routes: ['10.0.0.2:6222'], authorization: { user: 'route', password: 'p/w' } } });
  expect(text).toContain('ping_interval: "2s"');
  expect(text).toContain('"listen":"10.0.0.1:6222"');
  expect(text).toContain('"routes":["nats-route://route:p%2Fw@10.0.0.2:6222"]');
  expect(text).toContain('"no_advertise":true');
});

describe.runIf(runRootTests)('a cluster of nats-servers in three namespaces', () => {
  const dcs = ['dc-a', 'dc-b', 'dc-c'];
  let net: DcNetwork;
  const servers: NatsServerHandle[] = [];
  const conns: NatsConnection[] = [];
  beforeAll(async () => {
    net = await DcNetwork.create({ dcs, tag: 'syn' });
    const authorization = { user: 'route', password: 'route-secret-1234' };
    for (const dc of dcs) {
      servers.push(
        await startNatsServer({
          host: net.ipOf(dc),
          port: 4222,
          spawnPrefix: net.wrap(dc, []),
          cluster: { name: 'test', host: net.ipOf(dc), port: 6222, routes: dcs.filter((d) => d !== dc).map((d) => `${net.ipOf(d)}:6222`), authorization },
        }),
      );
    }
  }, 30_000);
  afterAll(async () => {
    // Every connection is closed, and a failed close fails the suite after the servers and the network are gone.
    const closed = await Promise.allSettled(conns.map((c) => c.close()));
    for (const s of servers) await s.stop();
    await net?.destroy();
    for (const r of closed) if (r.status === 'rejected') throw r.reason;
  });

  /** Publishes on `from`'s server until `to`'s subscriber gets one, or the time is up. */
  async function crosses(from: NatsConnection, to: NatsConnection, subject: string, timeoutMs: number): Promise<boolean> {
    let got = false;
    const sub = to.subscribe(subject, { callback: () => void (got = true) });
    await to.flush();
    const end = Date.now() + timeoutMs;
    while (!got && Date.now() < end) {
      from.publish(subject, new Uint8Array(1));
      await sleep(100);
    }
    sub.unsubscribe();
    return got;
  }

  it('carries a message across DCs, not across a cut, and again after heal (interest made during the cut included)', async () => {
    const [a, , c] = await Promise.all(servers.map((s) => natsConnect({ servers: s.url })));
    conns.push(a!, c!);
    expect(servers[0]!.url).toBe(`nats://${net.ipOf('dc-a')}:4222`);
    // Routes form within a few seconds of the last server's start.
    expect(await crosses(a!, c!, 'before', 10_000)).toBe(true);

    await net.partition(['dc-a']);
    expect(await crosses(a!, c!, 'during', 1_500)).toBe(false);
    // Interest made while cut: dc-a's server cannot learn it until the route is back.
    let late = 0;
    const lateSub = c!.subscribe('made-during-cut', { callback: () => void late++ });
    await c!.flush();
    // Longer than ping_interval × ping_max: the servers drop the cut routes, so heal has to
    // re-solicit them rather than resume the old TCP connections.
    await sleep(6_000);

    await net.heal();
    const t0 = Date.now();
    const end = t0 + 20_000;
    while (late === 0 && Date.now() < end) {
      a!.publish('made-during-cut', new Uint8Array(1));
      await sleep(200);
    }
    console.log(`natsd: routes carried interest made during the cut ${Date.now() - t0} ms after heal`);
    expect(late).toBeGreaterThan(0);
    lateSub.unsubscribe();
    expect(await crosses(a!, c!, 'after', 5_000)).toBe(true);
  }, 45_000);
});
