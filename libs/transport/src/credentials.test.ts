import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode, SynodError } from '@synod/codec';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Bus } from './bus.js';
import { permissionsFor, readCredsFile } from './credentials.js';
import { MemoryHub, subjectMatches } from './memory-wire.js';
import { subjects } from './subjects.js';

// The bus half of docs/transport.md "Credentials": what a message may carry depends on the
// subject it arrived on. The server half (permissions) is in test/security/credentials.test.ts.

const buses: Bus[] = [];
afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.close()));
});
const settle = () => new Promise((r) => setTimeout(r, 5));
const s = subjects('synod');
const prepare = (from: string) => ({ type: 'prepare' as const, group: 'g1', from, ballot: { round: 3, node: from }, fromSlot: 0 });

async function node(hub: MemoryHub, nodeId: string, role: 'node' | 'client' = 'node'): Promise<{ bus: Bus; seen: string[] }> {
  const bus = new Bus(hub.wire(), { nodeId, dc: `dc-${nodeId}`, role });
  const seen: string[] = [];
  bus.on('paxos', (env) => void seen.push(`paxos from ${env.from}`));
  bus.on('ping', (env) => ({ kind: 'pong', body: { nonce: env.body.nonce } }));
  await bus.start();
  buses.push(bus);
  return { bus, seen };
}

describe('peer subjects bind the sender', () => {
  it('a peer kind from one bus to another travels on the peer subject and is delivered', async () => {
    const hub = new MemoryHub();
    const n1 = await node(hub, 'n1');
    const n2 = await node(hub, 'n2');
    const tap: string[] = [];
    hub.wire().subscribe('synod.>', (_d, _r, subject) => void tap.push(subject));
    expect(n2.bus.send('n1', 'paxos', prepare('n2'), 'g1')).toBe(true);
    await settle();
    expect(n1.seen).toEqual(['paxos from n2']);
    expect(tap).toEqual([s.peer('n1', 'n2')]);
  });

  it('an envelope whose from differs from the sender token is dropped, counted and answered', async () => {
    const hub = new MemoryHub();
    const n1 = await node(hub, 'n1');
    const raw = hub.wire();
    // n2's connection (sender token n2) claiming to be n3.
    raw.publish(s.peer('n1', 'n2'), encode({ from: 'n3', dc: 'dc-c', kind: 'paxos', group: 'g1', body: prepare('n3') }));
    const reply = await raw.request(s.peer('n1', 'n2'), encode({ from: 'n3', dc: 'dc-c', kind: 'ping', group: '', body: { nonce: 1 } }), 500);
    await settle();
    expect(n1.seen).toEqual([]);
    expect(n1.bus.metrics.get('synod_bus_dropped_total', { reason: 'spoofed_sender' })).toBe(2);
    expect(Buffer.from(reply).toString('latin1')).toContain('spoofed_sender');
    // The same bytes with the matching token are handled: only the mismatch was refused.
    raw.publish(s.peer('n1', 'n3'), encode({ from: 'n3', dc: 'dc-c', kind: 'paxos', group: 'g1', body: prepare('n3') }));
    await settle();
    expect(n1.seen).toEqual(['paxos from n3']);
  });
});

describe('client subjects never carry peer or chaos kinds', () => {
  it('a peer kind on a node inbox is dropped and counted; a client kind there is served', async () => {
    const hub = new MemoryHub();
    const n1 = await node(hub, 'n1');
    const raw = hub.wire();
    raw.publish(s.node('n1'), encode({ from: 'n2', dc: 'dc-b', kind: 'paxos', group: 'g1', body: prepare('n2') }));
    await settle();
    expect(n1.seen).toEqual([]);
    expect(n1.bus.metrics.get('synod_bus_dropped_total', { reason: 'peer_kind_off_peer_subject' })).toBe(1);
    const pong = await raw.request(s.node('n1'), encode({ from: 'c1', dc: 'x', kind: 'ping', group: '', body: { nonce: 2 } }), 500);
    expect(Buffer.from(pong).toString('latin1')).toContain('pong');
  });

  it('a fault picture on a node inbox or a served subject is refused; on the chaos subject it applies', async () => {
    const hub = new MemoryHub();
    const n1 = await node(hub, 'n1');
    await n1.bus.serve(s.placement);
    const raw = hub.wire();
    const picture = (version: number) => encode({ from: 'c1', dc: 'x', kind: 'chaos.state', group: '', body: { version, links: [], isolated: ['n1'] } });
    raw.publish(s.node('n1'), picture(5));
    raw.publish(s.placement, picture(6));
    await settle();
    expect(n1.bus.chaos.version).toBe(0);
    expect(n1.bus.metrics.get('synod_bus_dropped_total', { reason: 'chaos_kind_off_chaos_subject' })).toBe(2);
    raw.publish(s.chaos, picture(7));
    await settle();
    expect(n1.bus.chaos.version).toBe(7);
  });

  it('a client-role bus subscribes nothing but the fault picture, and still requests', async () => {
    const hub = new MemoryHub();
    await node(hub, 'n1');
    const c = await node(hub, 'c1', 'client');
    const raw = hub.wire();
    // Nobody listens on the client's inboxes: its credential may not subscribe them.
    await expect(raw.request(s.node('c1'), encode({ from: 'x', dc: 'x', kind: 'ping', group: '', body: { nonce: 1 } }), 200)).rejects.toThrow(/no process is listening/);
    await expect(raw.request(s.peer('c1', 'x'), encode({ from: 'x', dc: 'x', kind: 'ping', group: '', body: { nonce: 1 } }), 200)).rejects.toThrow(/no process is listening/);
    expect((await c.bus.request('n1', 'ping', { nonce: 9 })).kind).toBe('pong');
  });

  it('a node id that is not one subject token is refused with INVALID_ARGUMENT', () => {
    for (const bad of ['n1.n2', 'n*', 'a>', '', 'a b'])
      expect(() => new Bus(new MemoryHub().wire(), { nodeId: bad, dc: 'd' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('subject matching of the memory hub', () => {
  it('follows NATS: * is one token, a final > one or more', () => {
    expect(subjectMatches('a.peer.n1.*', 'a.peer.n1.n2')).toBe(true);
    expect(subjectMatches('a.peer.n1.*', 'a.peer.n1.n2.x')).toBe(false);
    expect(subjectMatches('a.peer.n1.*', 'a.peer.n2.n1')).toBe(false);
    expect(subjectMatches('a.>', 'a.b.c')).toBe(true);
    expect(subjectMatches('a.>', 'a')).toBe(false);
  });
});

describe('credentials files and permissions', () => {
  const dir = mkdtempSync(join(tmpdir(), 'synod-creds-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string, mode = 0o600) => {
    const p = join(dir, name);
    writeFileSync(p, text, { mode });
    chmodSync(p, mode);
    return p;
  };
  const good = { user: 'n1', password: 'a'.repeat(32), role: 'node', cluster: 'synod', nodeId: 'n1' };

  it('reads a well-formed file', () => {
    expect(readCredsFile(write('ok.json', JSON.stringify(good)))).toEqual(good);
  });

  it('refuses a readable-by-others, malformed, unknown-field or missing file with INVALID_ARGUMENT naming the problem', () => {
    const cases: Array<[string, RegExp]> = [
      [write('open.json', JSON.stringify(good), 0o644), /readable by group or others/],
      [write('bad.json', '{'), /not JSON/],
      [write('extra.json', JSON.stringify({ ...good, admin: true })), /admin/],
      [write('nonode.json', JSON.stringify({ ...good, nodeId: undefined })), /names its nodeId/],
      [join(dir, 'missing.json'), /cannot read/],
    ];
    for (const [path, why] of cases) {
      let err: unknown;
      try {
        readCredsFile(path);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SynodError);
      expect((err as SynodError).code).toBe('INVALID_ARGUMENT');
      expect((err as Error).message).toMatch(why);
    }
  });

  it('a node may publish peer traffic only with its own sender token; a client on no peer, clock or chaos subject', () => {
    const node = permissionsFor('synod', 'node', 'n2');
    expect(node.subscribe.allow.some((p) => subjectMatches(p, '_INBOX.x.1') || subjectMatches(p, '_INBOX.n1.x.1'))).toBe(false);
    const pub = (subject: string, allow: string[]) => allow.some((p) => subjectMatches(p, subject));
    expect(pub(s.peer('n1', 'n2'), node.publish.allow)).toBe(true);
    expect(pub(s.peer('n3', 'n1'), node.publish.allow)).toBe(false);
    expect(node.subscribe.allow.some((p) => subjectMatches(p, s.peer('n1', 'n2')))).toBe(false);
    const client = permissionsFor('synod', 'client', 'client');
    for (const denied of [s.peer('n1', 'n2'), s.chaos, s.timemaster('dc-a'), s.all]) expect(pub(denied, client.publish.allow)).toBe(false);
    for (const allowed of [s.node('n1'), s.placement, s.chaosGet]) expect(pub(allowed, client.publish.allow)).toBe(true);
    // A client answers nobody; a node answers anyone, and tracks nothing per request (docs/transport.md "Credentials").
    for (const inbox of ['_INBOX.n1.x.1', '_INBOX.gateway.x.B1', '_INBOX.x.1']) {
      expect(pub(inbox, client.publish.allow)).toBe(false);
      expect(pub(inbox, node.publish.allow)).toBe(true);
    }
    expect(client.allow_responses).toBeUndefined();
    expect(node.allow_responses).toBeUndefined();
  });
});
