import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SynodClient } from '@synod/client';
import { decode, encode, type MessageInput, type MessageKind } from '@synod/codec';
import { launchCluster, waitForLeaders, type LaunchedCluster } from '@synod/cli';
import { connectBus, inboxPrefixFor, readCredsFile, subjects, type Bus } from '@synod/transport';

/**
 * docs/transport.md "Credentials" over a real cluster started like `synod up --nats-auth users`:
 * nats-server refuses a client's (and the gateway's) publishes on peer, clock and chaos subjects
 * and a node's publishes under another node's sender token; spanservers drop, count and log
 * what does get through with the wrong content (a peer kind on a client subject, an envelope
 * claiming another sender); and the cluster keeps committing transactions afterwards.
 */

const C = 'synod';
const s = subjects(C);
let dir: string;
let cluster: LaunchedCluster;
let operator: Bus;
const raws: NatsConnection[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'synod-security-'));
  cluster = await launchCluster({ dataDir: dir, dcs: 3, splitKeys: ['g', 'p'], cluster: C, natsAuth: 'users' });
  operator = await connectBus(cluster.info.natsUrl, { nodeId: 'test-operator', dc: 'control', cluster: C, natsCreds: join(dir, 'creds', 'operator.json') });
  await waitForLeaders(operator, cluster, 30_000);
}, 90_000);

afterAll(async () => {
  for (const nc of raws) await nc.close().catch(() => undefined);
  await operator?.close();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

const creds = (user: string) => join(dir, 'creds', `${user}.json`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A bare nats.js connection holding `user`'s credentials, recording what the server refuses. */
async function rawAs(user: string): Promise<{ nc: NatsConnection; refused: string[] }> {
  const c = readCredsFile(creds(user));
  const nc = await connect({ servers: cluster.info.natsUrl, user: c.user, pass: c.password, inboxPrefix: inboxPrefixFor(c.user) });
  raws.push(nc);
  const refused: string[] = [];
  void (async () => {
    for await (const st of nc.status()) {
      const ctx = (st as { permissionContext?: { operation: string; subject: string } }).permissionContext;
      if (st.type === 'error' && ctx) refused.push(`${ctx.operation} ${ctx.subject}`);
    }
  })();
  return { nc, refused };
}

/**
 * The subjects on which the operator (who may subscribe to everything) sees any of `forged`
 * (byte for byte) on `pattern`; the cluster's own traffic on the same subjects is ignored.
 */
async function tap(pattern: string, forged: Uint8Array[]): Promise<{ seen: string[]; stop: () => void }> {
  const c = readCredsFile(creds('operator'));
  const nc = await connect({ servers: cluster.info.natsUrl, user: c.user, pass: c.password });
  raws.push(nc);
  const seen: string[] = [];
  const sub = nc.subscribe(pattern, { callback: (_e, m) => {
      if (forged.some((f) => Buffer.from(f).equals(Buffer.from(m.data)))) seen.push(m.subject);
    },
  });
  await nc.flush();
  return { seen, stop: () => sub.unsubscribe() };
}

const env = <K extends MessageKind>(from: string, kind: K, body: MessageInput<K>, group = '') => encode({ from, dc: 'dc-z', kind, group, body });
/** The spoofed prepare of the incident: a ballot that would out-rank every real leader. */
const prepare = (from: string) => env(from, 'paxos', { type: 'prepare', group: 's1', from, ballot: { round: 1_000_000, node: from }, fromSlot: 0 }, 's1');
const nodeProc = (id: string) => cluster.nodes[cluster.rangeMap.nodes().findIndex((n) => n.id === id)]!;

describe('synod up --nats-auth users', () => {
  it('writes one credential per process and for the tools, mode 0600 in a 0700 directory, and admits nobody without one', async () => {
    const ids = ['n1', 'n2', 'n3', 'tm-dc-a', 'tm-dc-b', 'tm-dc-c', 'operator', 'client', 'gateway'];
    const passwords = new Set<string>();
    for (const id of ids) {
      expect(statSync(creds(id)).mode & 0o777).toBe(0o600);
      passwords.add(readCredsFile(creds(id)).password);
    }
    expect(passwords.size).toBe(ids.length);
    expect(statSync(join(dir, 'creds')).mode & 0o777).toBe(0o700);
    await expect(connectBus(cluster.info.natsUrl, { nodeId: 'anon', dc: 'x', cluster: C })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/requires credentials/) });
    // A node credential is bound to its node id before any message is sent.
    await expect(connectBus(cluster.info.natsUrl, { nodeId: 'n1', dc: 'dc-a', cluster: C, natsCreds: creds('n2') })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/n2's credential/) });
  });

  for (const user of ['client', 'gateway'])
    it(`the ${user} credential cannot publish on Paxos, 2PC, clock or chaos subjects: nats-server refuses, nothing is delivered`, async () => {
      const { nc, refused } = await rawAs(user);
      const forbidden: Array<[string, Uint8Array]> = [
        [s.peer('n1', 'n2'), prepare('n2')],
        [s.peer('n1', user), prepare(user)],
        [s.peer('n2', 'n1'), env('n1', 'split.2pc', { fromSplit: 's1', msg: { kind: 'decision', txn: 't1', committed: false } }, 's2')],
        [s.timemaster('dc-a'), env(user, 'time.get', {})],
        [s.chaos, env(user, 'clock.fault', { node: '*', skewMs: 86_400_000 })],
        [s.all, env(user, 'chaos.state', { version: 1_000_000, links: [], isolated: ['n1', 'n2', 'n3'] })],
      ];
      const t = await tap(`${C}.>`, forbidden.map(([, bytes]) => bytes));
      for (const [subject, bytes] of forbidden) nc.publish(subject, bytes);
      await nc.flush();
      await sleep(200);
      t.stop();
      expect(refused.sort()).toEqual(forbidden.map(([subject]) => `publish ${subject}`).sort());
      expect(t.seen).toEqual([]);
    });

  it("a client credential cannot subscribe to a node's inbox (to steal its requests) or to anyone else's replies", async () => {
    const { nc, refused } = await rawAs('client');
    const stolen = [s.node('n1'), s.peerInbox('n1'), '_INBOX.>', `${inboxPrefixFor('operator')}.>`, `${inboxPrefixFor('n1')}.>`];
    for (const subject of stolen) nc.subscribe(subject, { callback: () => undefined });
    await nc.flush();
    await sleep(200);
    expect(refused.sort()).toEqual(stolen.map((subject) => `subscription ${subject}`).sort());
  });

  it('a client bus sending a peer kind: the bus routes it to the peer subject, nats-server refuses it, the bus counts the refusal', async () => {
    const bus = await connectBus(cluster.info.natsUrl, { nodeId: 'mallory', dc: 'dc-a', cluster: C, natsCreds: creds('client') });
    try {
      expect(bus.role).toBe('client');
      bus.send('n1', 'paxos', { type: 'prepare', group: 's1', from: 'mallory', ballot: { round: 1_000_000, node: 'mallory' }, fromSlot: 0 }, 's1');
      await bus.wire.flush();
      await sleep(200);
      expect(bus.metrics.get('synod_bus_server_refused_total', { operation: 'publish' })).toBe(1);
    } finally {
      await bus.close();
    }
  });

  it('a peer kind a client sends on a client subject (which it may publish on) is dropped by the spanserver, counted and answered', async () => {
    const n1 = nodeProc('n1');
    const logged = n1.watchStderr('"reason":"peer_kind_off_peer_subject"');
    const loggedChaos = n1.watchStderr('"reason":"chaos_kind_off_chaos_subject"');
    const { nc, refused } = await rawAs('client');
    const reply = decode((await nc.request(s.node('n1'), prepare('n2'), { timeout: 2_000 })).data);
    expect(reply.ok && reply.envelope.kind === 'error' && reply.envelope.body).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/peer_kind_off_peer_subject/) });
    const reply2 = decode((await nc.request(s.node('n1'), env('client', 'chaos.state', { version: 1_000_000, links: [], isolated: ['n1'] }), { timeout: 2_000 })).data);
    expect(reply2.ok && reply2.envelope.kind === 'error' && reply2.envelope.body).toMatchObject({ message: expect.stringMatching(/chaos_kind_off_chaos_subject/) });
    expect(refused).toEqual([]);
    await sleep(200);
    expect(logged()).toBe(true);
    expect(loggedChaos()).toBe(true);
  });

  it("a process holding n2's credential cannot send as n1: its publish under n1's sender token is refused, an envelope claiming n1 on n2's subject is dropped", async () => {
    const n3 = nodeProc('n3');
    const logged = n3.watchStderr('"reason":"spoofed_sender"');
    const t = await tap(s.peerInbox('n3'), [prepare('n1')]);
    const { nc, refused } = await rawAs('n2');
    nc.publish(s.peer('n3', 'n1'), prepare('n1'));
    await nc.flush();
    await sleep(200);
    expect(refused).toEqual([`publish ${s.peer('n3', 'n1')}`]);
    expect(t.seen).toEqual([]);
    // n2's own sender token is allowed; the envelope's from must match it.
    const reply = decode((await nc.request(s.peer('n3', 'n2'), prepare('n1'), { timeout: 2_000 })).data);
    expect(reply.ok && reply.envelope.kind === 'error' && reply.envelope.body).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/spoofed_sender/) });
    t.stop();
    expect(t.seen).toEqual([s.peer('n3', 'n2')]);
    await sleep(200);
    expect(logged()).toBe(true);
  });

  it('after the attempts every process is up and a cross-split transaction commits through a client credential', async () => {
    const down = [...cluster.nodes, ...cluster.masters].filter((c) => c.proc.exitCode !== null || c.proc.signalCode !== null).map((c) => c.name);
    expect(down).toEqual([]);
    const bus = await connectBus(cluster.info.natsUrl, { nodeId: 'alice', dc: 'dc-a', cluster: C, natsCreds: creds('client') });
    try {
      const client = new SynodClient(bus, cluster.rangeMap, { timeoutMs: 3_000 });
      const r = await client.transaction(async (tx) => (tx.put('apple', 'a1'), tx.put('zebra', 'z1')));
      expect(r.ts).toBeGreaterThan(0);
      const read = (await client.read(['apple', 'zebra'])).values;
      expect([read.get('apple'), read.get('zebra')]).toEqual(['a1', 'z1']);
      expect(bus.metrics.get('synod_bus_server_refused_total', { operation: 'publish' })).toBe(0);
      expect(bus.metrics.get('synod_bus_server_refused_total', { operation: 'subscription' })).toBe(0);
    } finally {
      await bus.close();
    }
  });
});
