import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SynodError, encode } from '@synod/codec';
import { ConfigError } from '@synod/config';
import { startNatsServer, type NatsServerHandle } from '@synod/natsd';
import { BATCH_MAGIC, connectBus, permissionsFor, type Bus, type NatsRole } from '@synod/transport';
import { TABLE_HEADER, runTap } from './tap-command.js';

const CLUSTER = 'taptest';
const forward = (id: string) => ({ type: 'forward' as const, group: 'g1', from: 'n1', cmds: [{ id, payload: 'x' }] });

let nats: NatsServerHandle;
let a: Bus;
let b: Bus;

beforeAll(async () => {
  nats = await startNatsServer();
  a = await connectBus(nats.url, { nodeId: 'n1', dc: 'dc-a', cluster: CLUSTER });
  b = await connectBus(nats.url, { nodeId: 'n2', dc: 'dc-b', cluster: CLUSTER });
  b.on('ping', (env) => ({ kind: 'pong', body: { nonce: env.body.nonce } }));
  b.on('time.get', () => {
    throw new SynodError('NOT_LEADER', 'n2 serves no time');
  });
}, 30_000);

afterAll(async () => {
  await a?.close();
  await b?.close();
  await nats?.stop();
});

/**
 * Runs tap until it has printed `count` lines, with `traffic` sent once it is subscribed.
 * --duration-ms only bounds a broken run; every assertion is on the lines.
 */
async function tap(flags: string[], count: number, traffic: () => Promise<void>): Promise<{ lines: string[]; notes: string[] }> {
  const lines: string[] = [];
  const notes: string[] = [];
  let ready!: () => void;
  const subscribed = new Promise<void>((r) => (ready = r));
  const run = runTap(['--nats-url', nats.url, '--cluster', CLUSTER, '--count', String(count), '--duration-ms', '20000', ...flags], { write: (l) => lines.push(l), note: (l) => notes.push(l), ready });
  await Promise.race([subscribed, run]);
  await traffic();
  await run;
  return { lines, notes };
}

/** A one-way client message, a coalesced batch of three Paxos messages, a request answered, one answered with an error, garbage. */
async function mixedTraffic(): Promise<void> {
  a.send('n2', 'note', { token: 'one' });
  // Sent in one turn: the bus coalesces them into one batch frame.
  for (const id of ['c1', 'c2', 'c3']) a.send('n2', 'paxos', forward(id), 'g1');
  await a.request('n2', 'ping', { nonce: 7 });
  await expect(a.request('n2', 'time.get', {})).rejects.toMatchObject({ code: 'NOT_LEADER' });
  a.wire.publish(`${CLUSTER}.x`, new Uint8Array([0xff, 0x00, 0x13]));
}

const MIXED_LINES = 9;

describe('synod tap', () => {
  it('prints every envelope as JSON: batched frames one by one, requests, replies, error codes, undecodable payloads', async () => {
    const { lines, notes } = await tap(['-o', 'json'], MIXED_LINES, mixedTraffic);
    const got = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const pick = (o: Record<string, unknown>) => ({ subject: o.subject, from: o.from, to: o.to, kind: o.kind, group: o.group, batched: o.batched, flow: o.flow, error: o.error });
    expect(got.slice(0, 8).map(pick)).toEqual([
      { subject: `${CLUSTER}.node.n2`, from: 'n1', to: 'n2', kind: 'note', group: '', batched: false, flow: 'send', error: undefined },
      { subject: `${CLUSTER}.peer.n2.n1`, from: 'n1', to: 'n2', kind: 'paxos', group: 'g1', batched: true, flow: 'send', error: undefined },
      { subject: `${CLUSTER}.peer.n2.n1`, from: 'n1', to: 'n2', kind: 'paxos', group: 'g1', batched: true, flow: 'send', error: undefined },
      { subject: `${CLUSTER}.peer.n2.n1`, from: 'n1', to: 'n2', kind: 'paxos', group: 'g1', batched: true, flow: 'send', error: undefined },
      { subject: `${CLUSTER}.node.n2`, from: 'n1', to: 'n2', kind: 'ping', group: '', batched: false, flow: 'request', error: undefined },
      { subject: expect.stringMatching(/^_INBOX\./), from: 'n2', to: 'n1', kind: 'pong', group: '', batched: false, flow: 'reply', error: undefined },
      { subject: `${CLUSTER}.node.n2`, from: 'n1', to: 'n2', kind: 'time.get', group: '', batched: false, flow: 'request', error: undefined },
      { subject: expect.stringMatching(/^_INBOX\./), from: 'n2', to: 'n1', kind: 'error', group: '', batched: false, flow: 'reply', error: 'NOT_LEADER' },
    ]);
    for (const o of got.slice(0, 8)) {
      expect(o.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(o.bytes).toEqual(expect.any(Number));
    }
    expect(got[8]).toMatchObject({ undecodable: true, subject: `${CLUSTER}.x`, bytes: 3, reason: expect.stringMatching(/^malformed: /) });
    expect(notes.at(-1)).toMatch(/^tap: 7 messages \(1 batches\), 8 envelopes, \d+ bytes, 1 undecodable, 9 lines printed; kinds: paxos 3, /);
  }, 30_000);

  it('a batch of requests and the replies to it, answered in two messages, give one line per frame, each reply to its requester', async () => {
    b.on('note', async (env) => {
      if (env.body.token === 'slow') await new Promise((r) => setTimeout(r, 30));
      return { kind: 'note', body: { token: `re-${env.body.token}` } };
    });
    const { lines } = await tap(['-o', 'json'], 4, async () => {
      // Asked in one turn over one connection: one tagged batch (docs/transport.md "Request batching").
      await Promise.all([a.request('n2', 'note', { token: 'fast' }), a.request('n2', 'note', { token: 'slow' })]);
    });
    const got = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(got.map((o) => [o.from, o.to, o.kind, o.batched, o.flow])).toEqual([
      ['n1', 'n2', 'note', true, 'request'],
      ['n1', 'n2', 'note', true, 'request'],
      ['n2', 'n1', 'note', true, 'reply'],
      ['n2', 'n1', 'note', true, 'reply'],
    ]);
    // The two replies left in two messages on the batch's one reply subject.
    expect(got[2]!.subject).toBe(got[3]!.subject);
  }, 30_000);

  it('prints aligned table rows with a header, flags for batch, request, reply and error', async () => {
    const { lines } = await tap([], MIXED_LINES, mixedTraffic);
    expect(lines[0]).toBe(TABLE_HEADER);
    const rows = lines.slice(1);
    expect(rows).toHaveLength(MIXED_LINES);
    const time = /^\d\d:\d\d:\d\d\.\d{3}  /;
    for (const r of rows.slice(0, 8)) expect(r).toMatch(time);
    // Every column starts where the header's does.
    const kindAt = TABLE_HEADER.indexOf('KIND');
    for (const r of rows.slice(0, 8)) expect(r.slice(kindAt - 2, kindAt)).toBe('  ');
    const cols = (r: string) => r.replace(time, '').split(/\s{2,}/);
    expect(cols(rows[0]!)).toEqual([`${CLUSTER}.node.n2`, 'n1 → n2', 'note', '-', expect.stringMatching(/^\d+$/)]);
    expect(cols(rows[1]!)).toEqual([`${CLUSTER}.peer.n2.n1`, 'n1 → n2', 'paxos', 'g1', expect.stringMatching(/^\d+$/), 'batch']);
    expect(cols(rows[3]!).at(-1)).toBe('batch');
    expect(cols(rows[4]!).slice(1, 3)).toEqual(['n1 → n2', 'ping']);
    expect(cols(rows[4]!).at(-1)).toBe('request');
    expect(cols(rows[5]!).slice(1, 3)).toEqual(['n2 → n1', 'pong']);
    expect(cols(rows[5]!).at(-1)).toBe('reply');
    expect(cols(rows[7]!).slice(1, 3)).toEqual(['n2 → n1', 'error']);
    expect(cols(rows[7]!).at(-1)).toBe('reply error=NOT_LEADER');
    expect(rows[8]).toMatch(new RegExp(`^undecodable ${CLUSTER}\\.x 3 bytes: malformed: `));
  }, 30_000);

  it('filters by kind and node; a broken batch frame is one undecodable line, not a crash; a spoofed sender is flagged', async () => {
    const { lines } = await tap(['--kind', 'pong,paxos', '--node', 'n1', '-o', 'json'], 4, async () => {
      a.send('n2', 'note', { token: 'filtered out' });
      await a.request('n2', 'ping', { nonce: 8 });
      // Broken framing: a count of 2 and one frame.
      a.wire.publish(`${CLUSTER}.peer.n2.n1`, new Uint8Array([BATCH_MAGIC, 1, 0, 2, 0, 0, 0, 1, 0x90]));
      // b's connection must not overtake a's publish on its way to the server.
      await a.wire.flush();
      b.send('n1', 'paxos', forward('c9'), 'g1');
      // The outbox publishes at setImmediate; then the flush orders it before a's next publish.
      await new Promise((r) => setImmediate(r));
      await b.wire.flush();
      // n1's envelope on n3's sender token: the receiving bus drops it as spoofed_sender.
      a.wire.publish(`${CLUSTER}.peer.n2.n3`, encode({ from: 'n1', dc: 'dc-a', kind: 'paxos', group: 'g1', body: forward('c10') }));
    });
    const got = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(got[0]).toMatchObject({ kind: 'pong', from: 'n2', to: 'n1', flow: 'reply' });
    expect(got[1]).toMatchObject({ undecodable: true, subject: `${CLUSTER}.peer.n2.n1`, bytes: 9, reason: expect.stringMatching(/^bad_batch: /) });
    // Alone in its turn: a single message, not a batch.
    expect(got[2]).toMatchObject({ kind: 'paxos', from: 'n2', to: 'n1', group: 'g1', batched: false });
    expect(got[2]!.refused).toBeUndefined();
    expect(got[3]).toMatchObject({ kind: 'paxos', from: 'n1', to: 'n2', subject: `${CLUSTER}.peer.n2.n3`, refused: 'spoofed_sender' });
  }, 30_000);

  it('stops on its signal and still prints the summary', async () => {
    const notes: string[] = [];
    const stop = new AbortController();
    await runTap(['--nats-url', nats.url, '--cluster', CLUSTER], { write: () => undefined, note: (l) => notes.push(l), signal: stop.signal, ready: () => stop.abort() });
    expect(notes).toEqual([expect.stringMatching(/^tap: 0 messages .* 0 undecodable, 0 lines printed; kinds: none$/)]);
  }, 30_000);

  it('refuses unknown flags, arguments and bad values before connecting', async () => {
    const io = { write: () => undefined, note: () => undefined };
    for (const argv of [['--bogus', '1'], ['stray'], ['--count', '0'], ['--count', '1000001'], ['--kind', 'paxos,nope'], ['-o', 'yaml'], ['--duration-ms', '-5']]) {
      const err = await runTap(['--nats-url', 'nats://127.0.0.1:1', ...argv], io).catch((e: unknown) => e);
      expect(err, argv.join(' ')).toBeInstanceOf(ConfigError);
      expect(err).toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
  });

  it('a NATS server that is not there is UNAVAILABLE', async () => {
    const err = await runTap(['--nats-url', 'nats://127.0.0.1:1', '--count', '1'], { write: () => undefined, note: () => undefined }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SynodError);
    expect(err).toMatchObject({ code: 'UNAVAILABLE' });
  });
});

/** A cluster as `synod up --nats-auth users` leaves it: a server with per-role users, creds files, cluster.json. */
describe('synod tap against a cluster with NATS credentials', () => {
  const cluster = 'tapauth';
  let server: NatsServerHandle;
  let dir: string;
  const buses: Bus[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'synod-tap-'));
    const users: Array<[string, NatsRole]> = [['operator', 'operator'], ['n1', 'node'], ['n2', 'node']];
    const creds = users.map(([user, role]) => ({ user, password: `${user}-password-0123456789`, role, cluster, ...(role === 'node' ? { nodeId: user } : {}) }));
    for (const c of creds) writeFileSync(join(dir, `${c.user}.json`), JSON.stringify(c), { mode: 0o600 });
    server = await startNatsServer({ authorization: { users: creds.map((c) => ({ user: c.user, password: c.password, permissions: permissionsFor(cluster, c.role, c.user) })) } });
    writeFileSync(join(dir, 'cluster.json'), JSON.stringify({ natsUrl: server.url, cluster, placement: join(dir, 'placement.json'), creds: dir }));
    for (const [id, dc] of [['n1', 'dc-a'], ['n2', 'dc-b']] as const) buses.push(await connectBus(server.url, { nodeId: id, dc, cluster, natsCreds: join(dir, `${id}.json`) }));
    buses[1]!.on('ping', (env) => ({ kind: 'pong', body: { nonce: env.body.nonce } }));
  }, 30_000);

  afterAll(async () => {
    for (const bus of buses) await bus.close();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("connects as operator from --data-dir and sees every cluster subject, but not other users' replies", async () => {
    const [n1] = buses;
    const lines: string[] = [];
    const notes: string[] = [];
    let ready!: () => void;
    const subscribed = new Promise<void>((r) => (ready = r));
    const run = runTap(['--data-dir', dir, '--count', '3', '--duration-ms', '20000', '-o', 'json'], { write: (l) => lines.push(l), note: (l) => notes.push(l), ready });
    await Promise.race([subscribed, run]);
    n1!.send('n2', 'note', { token: 'hello' });
    await n1!.request('n2', 'ping', { nonce: 1 });
    n1!.send('n2', 'paxos', forward('c1'), 'g1');
    await run;
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>).map((o) => `${o.kind} ${o.flow} ${o.from}→${o.to}`)).toEqual(['note send n1→n2', 'ping request n1→n2', 'paxos send n1→n2']);
    expect(notes[0]).toMatch(/replies are not shown/);
  }, 30_000);

  it('a credential that may not subscribe <cluster>.> ends tap with INVALID_ARGUMENT instead of a silent tap', async () => {
    const weak = mkdtempSync(join(tmpdir(), 'synod-tap-weak-'));
    const op = { user: 'operator', password: 'operator-password-0123456789', role: 'operator', cluster };
    writeFileSync(join(weak, 'operator.json'), JSON.stringify(op), { mode: 0o600 });
    // The operator user with only a client's permissions.
    const limited = await startNatsServer({ authorization: { users: [{ user: op.user, password: op.password, permissions: permissionsFor(cluster, 'client', op.user) }] } });
    try {
      writeFileSync(join(weak, 'cluster.json'), JSON.stringify({ natsUrl: limited.url, cluster, placement: '', creds: weak }));
      const err = await runTap(['--data-dir', weak, '--duration-ms', '20000'], { write: () => undefined, note: () => undefined }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SynodError);
      expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(`subscription to ${cluster}.>`) });
    } finally {
      await limited.stop();
      rmSync(weak, { recursive: true, force: true });
    }
  }, 30_000);
});
