/**
 * Request/reply throughput and latency of the synod bus against raw nats.js, measured in the
 * same run against the same nats-server, alternating rounds so drift hits both sides alike.
 *
 *   npm run bench:transport -- [--seconds 5] [--concurrency 64] [--rounds 3]
 */
import os from 'node:os';
import { z } from 'zod';
import { connect } from 'nats';
import { encode } from '@synod/codec';
import { loadConfig } from '@synod/config';
import { startNatsServer } from '@synod/natsd';
import { Bus, NatsWire } from '@synod/transport';
import { closedLoop, formatRow, opsPerSec, type RunResult } from './stats.js';

const cfg = loadConfig(
  z.object({
    seconds: z.coerce.number().positive().max(120).default(5),
    concurrency: z.coerce.number().int().min(1).max(4096).default(64),
    rounds: z.coerce.number().int().min(1).max(20).default(3),
  }),
  { argv: process.argv.slice(2), env: {} },
);

const nats = await startNatsServer();
try {
  // Raw: the same payload size the bus puts on the wire, echoed by a plain subscriber.
  const payload = encode({ from: 'bench-client', dc: 'dc-a', kind: 'ping', group: '', body: { nonce: 123456 } });
  const rawServer = await connect({ servers: nats.url });
  const rawClient = await connect({ servers: nats.url });
  rawServer.subscribe('bench.raw', { callback: (_e, m) => m.respond(m.data) });
  await rawServer.flush();

  // Bus: full path — encode, zod-validate on both ends, fault layer consulted, handler dispatch.
  const server = new Bus(await NatsWire.connect(nats.url), { nodeId: 'bench-server', dc: 'dc-b' });
  server.on('ping', (env) => ({ kind: 'pong', body: { nonce: env.body.nonce } }));
  await server.start();
  const client = new Bus(await NatsWire.connect(nats.url), { nodeId: 'bench-client', dc: 'dc-a' });
  await client.start();

  let nonce = 0;
  const rawOp = () => rawClient.request('bench.raw', payload, { timeout: 5000 });
  const busOp = () => client.request('bench-server', 'ping', { nonce: ++nonce }, { timeoutMs: 5000 });

  // Warm up JIT and connections before measuring.
  await closedLoop('warmup raw', cfg.concurrency, 1, rawOp);
  await closedLoop('warmup bus', cfg.concurrency, 1, busOp);

  console.log(`transport bench: ${cfg.rounds} rounds × ${cfg.seconds}s each, ${cfg.concurrency} concurrent requests, ${payload.byteLength}-byte requests`);
  console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, nats-server at ${nats.url}`);
  const raw: RunResult[] = [];
  const bus: RunResult[] = [];
  for (let round = 1; round <= cfg.rounds; round++) {
    raw.push(await closedLoop(`raw nats.js   (round ${round})`, cfg.concurrency, cfg.seconds, rawOp));
    console.log(formatRow(raw.at(-1)!));
    bus.push(await closedLoop(`synod bus     (round ${round})`, cfg.concurrency, cfg.seconds, busOp));
    console.log(formatRow(bus.at(-1)!));
  }
  const total = (rs: RunResult[], label: string): RunResult => {
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    return { label, ops: rs.reduce((s, r) => s + r.ops, 0), seconds: rs.reduce((s, r) => s + r.seconds, 0), p50Ms: median(rs.map((r) => r.p50Ms)), p99Ms: median(rs.map((r) => r.p99Ms)) };
  };
  const rawAll = total(raw, 'raw nats.js   (all rounds)');
  const busAll = total(bus, 'synod bus     (all rounds)');
  console.log(formatRow(rawAll));
  console.log(formatRow(busAll));
  console.log(`ratio bus/raw throughput: ${(opsPerSec(busAll) / opsPerSec(rawAll)).toFixed(3)} (aim ≥ 0.80)`);

  await client.close();
  await server.close();
  await rawClient.close();
  await rawServer.close();
} finally {
  await nats.stop();
}
