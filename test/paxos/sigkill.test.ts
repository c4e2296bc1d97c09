/**
 * A replica in its own process with real LMDB files, driven by this test acting as a proposer
 * over real NATS, is killed with SIGKILL mid-stream. After restart it must keep every promise
 * and every accepted value it had replied about (DESIGN §3.2: persist before you speak).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ChildNode } from '@synod/cli';
import { compareBallot, type Ballot, type PaxosMessage, type Value } from '@synod/paxos';
import { startNatsServer, type NatsServerHandle } from '@synod/natsd';
import { connectBus, type Bus } from '@synod/transport';

let nats: NatsServerHandle;
let bus: Bus;
let dir: string;
const children: ChildNode[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  dir = mkdtempSync(join(tmpdir(), 'synod-sigkill-'));
  // The test speaks for n2, one of n1's peers; n1's own elections are pushed far out.
  bus = await connectBus(nats.url, { nodeId: 'n2', dc: 'dc-b' });
}, 30_000);

afterAll(async () => {
  await bus?.close();
  await Promise.all(children.map((c) => c.stop()));
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function startReplica(): Promise<ChildNode> {
  const n = ChildNode.spawn('n1', ['paxos-node', '--node-id', 'n1', '--dc', 'dc-a', '--peers', 'n1,n2,n3', '--data-dir', dir, '--nats-url', nats.url, '--election-timeout-ms', '600000', '--log-level', 'warn']);
  children.push(n);
  await n.waitReady();
  return n;
}

type Reply = Extract<PaxosMessage, { type: 'promise' | 'nack' | 'accepted' }>;
const listeners = new Set<(m: Reply) => void>();
const replies = () => {
  bus.on('paxos', (env) => {
    const m = env.body as PaxosMessage;
    if (m.type === 'promise' || m.type === 'nack' || m.type === 'accepted') for (const l of listeners) l(m);
  });
};

function awaitReply(match: (m: Reply) => boolean, ms: number): Promise<Reply | undefined> {
  return new Promise((resolve) => {
    const l = (m: Reply) => {
      if (!match(m)) return;
      listeners.delete(l);
      clearTimeout(t);
      resolve(m);
    };
    const t = setTimeout(() => {
      listeners.delete(l);
      resolve(undefined);
    }, ms);
    listeners.add(l);
  });
}

const send = (msg: Record<string, unknown>) => bus.send('n1', 'paxos', { group: 'g1', from: 'n2', ...msg } as never, 'g1');
const same = (a: Ballot, b: Ballot) => compareBallot(a, b) === 0;

it('keeps every promise and accepted value it replied about across SIGKILL', async () => {
  replies();
  const first = await startReplica();
  const acked = new Map<number, { ballot: Ballot; value: Value }>();
  let promisedAck: Ballot = { round: 0, node: '' };
  let round = 100;
  let nextSlot = 0;
  let killed = false;
  const killAfterMs = 150 + Math.floor(Math.random() * 250);
  const killer = setTimeout(() => {
    killed = true;
    first.proc.kill('SIGKILL');
  }, killAfterMs);

  while (!killed) {
    const ballot = { round: ++round, node: 'n2' };
    const pending = awaitReply((m) => same(m.ballot, ballot) && m.type !== 'accepted', 1000);
    send({ type: 'prepare', ballot, fromSlot: nextSlot });
    const r = await pending;
    if (!r) continue;
    if (r.type === 'nack') {
      round = r.promised.round;
      continue;
    }
    if (compareBallot(ballot, promisedAck) > 0) promisedAck = ballot;
    // Several Accepts in flight at once, so the kill lands between persist and reply for some.
    const inFlight: Promise<unknown>[] = [];
    for (let k = 0; k < 8; k++) {
      const entries = [0, 1, 2].map((i) => ({ slot: nextSlot + i, value: { kind: 'batch', cmds: [{ id: `r${round}s${nextSlot + i}`, payload: { n: nextSlot + i } }] } as Value }));
      nextSlot += 3;
      const sent = new Map(entries.map((e) => [e.slot, e.value]));
      inFlight.push(
        awaitReply((m) => m.type === 'accepted' && same(m.ballot, ballot) && m.slots.some((s) => sent.has(s)), 1000).then((m) => {
          if (m?.type === 'accepted') for (const s of m.slots) if (sent.has(s)) acked.set(s, { ballot, value: sent.get(s)! });
        }),
      );
      send({ type: 'accept', ballot, entries, chosenUpTo: 0 });
    }
    await Promise.all(inFlight);
  }
  clearTimeout(killer);
  await first.exited;
  expect(first.proc.signalCode).toBe('SIGKILL');
  expect(acked.size).toBeGreaterThan(0);
  expect(promisedAck.round).toBeGreaterThan(100);

  await startReplica();
  // A ballot just below the highest promise it acknowledged must be refused.
  const below = { round: promisedAck.round, node: 'a' };
  const nackWait = awaitReply((m) => same(m.ballot, below), 5000);
  send({ type: 'prepare', ballot: below, fromSlot: 0 });
  const nack = await nackWait;
  expect(nack?.type).toBe('nack');
  expect(compareBallot((nack as Extract<Reply, { type: 'nack' }>).promised, promisedAck)).toBeGreaterThanOrEqual(0);

  // A higher ballot sees every value it acknowledged accepting, with the same ballot.
  const above = { round: promisedAck.round + 1_000_000, node: 'n2' };
  const promiseWait = awaitReply((m) => same(m.ballot, above), 5000);
  // A restarted acceptor may have forgotten lease votes, so it promises nothing for one lease
  // duration after it starts: ask again until it answers.
  const asking = setInterval(() => send({ type: 'prepare', ballot: above, fromSlot: 0 }), 100);
  send({ type: 'prepare', ballot: above, fromSlot: 0 });
  let promise = await promiseWait.finally(() => clearInterval(asking));
  expect(promise?.type).toBe('promise');
  // A long suffix comes in parts (docs/paxos.md, "Message budgets"): ask for each next one.
  const held = new Map<number, Extract<Reply, { type: 'promise' }>['accepted'][number]>();
  for (let parts = 0; parts < 1_000; parts++) {
    const p = promise as Extract<Reply, { type: 'promise' }>;
    for (const e of p.accepted) held.set(e.slot, e);
    if (p.continueFrom === undefined) break;
    const next = awaitReply((m) => m.type === 'promise' && same(m.ballot, above) && m.fromSlot === p.continueFrom, 5000);
    send({ type: 'prepare', ballot: above, fromSlot: p.continueFrom });
    promise = await next;
    expect(promise?.type, 'the next part of the promise').toBe('promise');
  }
  for (const [slot, want] of acked) {
    const got = held.get(slot);
    expect(got, `slot ${slot} was acknowledged but is gone`).toBeDefined();
    expect(got!.ballot).toEqual(want.ballot);
    expect(got!.value).toEqual(want.value);
  }
  console.log(`killed after ${killAfterMs} ms: ${acked.size} acknowledged slots and promise ${promisedAck.round}.n2 all survived (${held.size} slots on disk)`);
}, 60_000);
