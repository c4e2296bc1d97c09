/**
 * Fuzzing the transport boundary of a live process: 10,000+ invalid messages (random bytes,
 * mutated valid envelopes, unknown kinds, wrong field types, oversize bodies) sent straight to
 * a probe node's inbox. Each must be dropped and counted; the node must keep serving.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ChildNode } from '@synod/cli';
import { MAX_MESSAGE_BYTES, decode, encode } from '@synod/codec';
import { startNatsServer, type NatsServerHandle } from '@synod/natsd';
import { Prng } from '@synod/prng';
import { subjects } from '@synod/transport';

const SEED = Number(process.env.FUZZ_SEED ?? 20261125);
const TOTAL = 10_000;

let nats: NatsServerHandle;
let nc: NatsConnection;
let target: ChildNode;
let peer: ChildNode;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'synod-fuzz-'));
  // Allow payloads past synod's own limit so the oversize check is exercised in synod, not NATS.
  writeFileSync(join(dir, 'nats.conf'), `max_payload: ${4 * MAX_MESSAGE_BYTES}\n`);
  nats = await startNatsServer({ args: ['-c', join(dir, 'nats.conf')] });
  target = ChildNode.spawn('n1', ['probe-node', '--node-id', 'n1', '--dc', 'dc-a', '--nats-url', nats.url, '--log-level', 'warn']);
  peer = ChildNode.spawn('n2', ['probe-node', '--node-id', 'n2', '--dc', 'dc-b', '--nats-url', nats.url, '--log-level', 'warn']);
  await Promise.all([target.waitReady(), peer.waitReady()]);
  nc = await connect({ servers: nats.url });
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await Promise.all([target?.stop(), peer?.stop()]);
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function generator(rand: () => number) {
  const raw = new Packr({ useRecords: false });
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]) => xs[int(xs.length)]!;
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
  const valid = () =>
    pick([
      encode({ from: 'n9', dc: 'dc-z', kind: 'ping', group: '', body: { nonce: int(1e6) } }),
      encode({ from: 'n9', dc: 'dc-z', kind: 'note', group: 'g7', body: { token: 'x'.repeat(int(200)) } }),
      encode({ from: 'n9', dc: 'dc-z', kind: 'error', group: '', body: { code: 'NOT_LEADER', message: 'm' } }),
    ]);
  const junkValues = [null, true, -1, 1.5, 'str', [], {}, { nonce: 'x' }, new Uint8Array(3), 2 ** 60];
  const strategies: Record<string, () => Uint8Array> = {
    randomBytes: () => bytes(int(300)),
    mutated: () => {
      const b = valid().slice();
      for (let i = 0, n = 1 + int(4); i < n; i++) b[int(b.length)] = int(256);
      return rand() < 0.2 ? b.slice(0, int(b.length)) : b;
    },
    wrongKind: () => raw.pack([1, 'n9', 'dc-z', pick(['pong!', 'prepare', '', 'constructor', 'x'.repeat(40)]), '', { nonce: 1 }]),
    wrongFieldTypes: () => {
      const fields: unknown[] = [1, 'n9', 'dc-z', 'ping', '', { nonce: 1 }];
      fields[int(fields.length)] = pick(junkValues);
      return raw.pack(rand() < 0.1 ? fields.slice(0, int(6)) : fields);
    },
    wrongBody: () => raw.pack([1, 'n9', 'dc-z', pick(['ping', 'note', 'chaos.state', 'error']), '', pick(junkValues)]),
    oversizeField: () => raw.pack([1, 'n9', 'dc-z', 'note', '', { token: 'y'.repeat(257 + int(5000)) }]),
  };
  // Over a MiB each, so sent sparingly.
  const oversizeMessage = () => raw.pack([1, 'n9', 'dc-z', 'note', '', { token: 'z'.repeat(MAX_MESSAGE_BYTES + int(1000)) }]);
  return { strategies, pick, names: Object.keys(strategies), oversizeMessage };
}

it(`drops and counts ${TOTAL} invalid messages while still serving (seed ${SEED})`, async () => {
  const p = new Prng(SEED);
  const rand = () => p.next();
  const { strategies, names, pick, oversizeMessage } = generator(rand);
  const inbox = subjects('synod').node('n1');
  const sentBy: Record<string, number> = {};
  let sent = 0;
  let skippedValid = 0;
  let pingsOk = 0;
  while (sent < TOTAL) {
    const name = sent % 500 === 0 ? 'oversizeMessage' : pick(names);
    const msg = name === 'oversizeMessage' ? oversizeMessage() : strategies[name]!();
    // A mutation can land on another valid message; those are not fuzz, so they are not sent.
    if (decode(msg).ok) {
      skippedValid++;
      continue;
    }
    nc.publish(inbox, msg);
    sent++;
    sentBy[name] = (sentBy[name] ?? 0) + 1;
    if (sent % 1000 === 0) {
      await nc.flush();
      const r = await peer.call({ op: 'ping', to: 'n1', timeoutMs: 2000 });
      if (r.ok) pingsOk++;
    }
  }
  await nc.flush();
  let stats = { dropped: 0, received: 0 };
  for (let i = 0; i < 200 && stats.dropped < TOTAL; i++) {
    stats = await target.call<{ dropped: number; received: number }>({ op: 'stats' });
    if (stats.dropped < TOTAL) await new Promise((r) => setTimeout(r, 25));
  }
  expect(stats.dropped).toBe(TOTAL);
  expect(pingsOk).toBe(TOTAL / 1000);
  const after = await peer.call<{ rttMs?: number }>({ op: 'ping', to: 'n1', timeoutMs: 2000 });
  expect(after.ok).toBe(true);
  expect(target.proc.exitCode).toBeNull();
  for (const name of [...names, 'oversizeMessage']) expect(sentBy[name] ?? 0, name).toBeGreaterThan(0);
  console.log(`fuzz seed ${SEED}: sent ${sent} invalid (${JSON.stringify(sentBy)}), skipped ${skippedValid} mutations that stayed valid`);
}, 120_000);
