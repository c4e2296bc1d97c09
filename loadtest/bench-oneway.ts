/**
 * One-way peer traffic through the synod bus over a real nats-server, coalescing off and on
 * (docs/transport.md "Coalescing"), in alternating rounds so drift hits both alike.
 *
 *  - heartbeats: one leader hosting `--splits` splits ticks every `--interval-ms`, sending each of
 *    `--followers` followers a Paxos heartbeat and a closed timestamp per split in one synchronous
 *    loop (the idle load of a process with many splits). Reports messages/s, NATS messages/s and
 *    CPU of this process (both buses) and of nats-server.
 *  - flood: one sender sends small one-way messages to one receiver as fast as it can (at most
 *    `--window` undelivered), reporting delivered messages/s and NATS messages/s.
 *
 *   npx tsx loadtest/bench-oneway.ts -- [--seconds 5] [--rounds 2] [--splits 512] [--followers 2] [--interval-ms 50]
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { z } from 'zod';
import { loadConfig } from '@synod/config';
import { startNatsServer } from '@synod/natsd';
import { Bus, NatsWire } from '@synod/transport';

const cfg = loadConfig(
  z.object({
    seconds: z.coerce.number().positive().max(120).default(5),
    rounds: z.coerce.number().int().min(1).max(20).default(2),
    splits: z.coerce.number().int().min(1).max(100_000).default(512),
    followers: z.coerce.number().int().min(1).max(16).default(2),
    intervalMs: z.coerce.number().int().min(1).max(10_000).default(50),
    window: z.coerce.number().int().min(1).max(1_000_000).default(20_000),
  }),
  { argv: process.argv.slice(2).filter((a) => a !== '--'), env: {} },
);

const nats = await startNatsServer();
const CLK_TCK = 100;
/** nats-server's CPU seconds so far (utime + stime from /proc), or NaN off Linux. */
function serverCpuS(): number {
  try {
    const fields = readFileSync(`/proc/${nats.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}
const processCpuS = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const wireOut = (b: Bus) => b.metrics.get('synod_bus_wire_published_total');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function buses(n: number, coalesce: boolean): Promise<Bus[]> {
  const out: Bus[] = [];
  for (let i = 1; i <= n; i++) {
    const bus = new Bus(await NatsWire.connect(nats.url), { nodeId: `n${i}`, dc: `dc-${i}`, coalesce });
    await bus.start();
    out.push(bus);
  }
  return out;
}

interface Row {
  mode: string;
  coalesce: boolean;
  sentPerS: number;
  deliveredPerS: number;
  wireOutPerS: number;
  cpuPct: number;
  natsCpuPct: number;
}

function print(r: Row): void {
  const f = (x: number) => Math.round(x).toString().padStart(8);
  console.log(
    `${r.mode.padEnd(10)} coalesce ${r.coalesce ? 'on ' : 'off'}  sent ${f(r.sentPerS)} msg/s  delivered ${f(r.deliveredPerS)} msg/s  NATS out ${f(r.wireOutPerS)} msg/s  CPU ${r.cpuPct.toFixed(0).padStart(3)}% (buses)  ${r.natsCpuPct.toFixed(0).padStart(3)}% (nats-server)  ${((r.cpuPct * 1e4) / r.deliveredPerS).toFixed(1)} µs CPU/msg`,
  );
}

async function heartbeats(coalesce: boolean): Promise<Row> {
  const [leader, ...followers] = await buses(1 + cfg.followers, coalesce);
  let delivered = 0;
  for (const f of followers) {
    f!.on('paxos', () => void delivered++);
    f!.on('split.closed', () => void delivered++);
  }
  let sent = 0;
  let ticks = 0;
  const tick = () => {
    ticks++;
    for (let s = 0; s < cfg.splits; s++) {
      const group = `s${s}`;
      for (const f of followers) {
        leader!.send(f!.nodeId, 'paxos', { type: 'heartbeat', group, from: leader!.nodeId, ballot: { round: 3, node: leader!.nodeId }, chosenUpTo: 1_000 + ticks, sentAtUs: 0 }, group);
        leader!.send(f!.nodeId, 'split.closed', { ballot: { round: 3, node: leader!.nodeId }, ts: 1_700_000_000_000_000 + ticks, appliedIndex: 1_000 + ticks }, group);
        sent += 2;
      }
    }
  };
  const [wire0, cpu0, nats0, t0] = [wireOut(leader!), processCpuS(), serverCpuS(), performance.now()];
  const timer = setInterval(tick, cfg.intervalMs);
  await sleep(cfg.seconds * 1000);
  clearInterval(timer);
  const [wire1, cpu1, nats1, t1] = [wireOut(leader!), processCpuS(), serverCpuS(), performance.now()];
  // Let the last ticks arrive (bounded) before judging delivery.
  for (let i = 0; i < 100 && delivered < sent; i++) await sleep(20);
  const s = (t1 - t0) / 1000;
  if (delivered !== sent) console.log(`  (heartbeats: ${sent - delivered} of ${sent} not delivered)`);
  if (ticks < 0.9 * ((t1 - t0) / cfg.intervalMs)) console.log(`  (heartbeats: only ${ticks} ticks of ${Math.floor((t1 - t0) / cfg.intervalMs)}: the sender fell behind)`);
  for (const b of [leader, ...followers]) await b!.close();
  return { mode: 'heartbeats', coalesce, sentPerS: sent / s, deliveredPerS: delivered / s, wireOutPerS: (wire1 - wire0) / s, cpuPct: ((cpu1 - cpu0) / s) * 100, natsCpuPct: ((nats1 - nats0) / s) * 100 };
}

async function flood(coalesce: boolean): Promise<Row> {
  const [sender, receiver] = await buses(2, coalesce);
  let delivered = 0;
  receiver!.on('paxos', () => void delivered++);
  let sent = 0;
  const [wire0, cpu0, nats0, t0] = [wireOut(sender!), processCpuS(), serverCpuS(), performance.now()];
  const end = t0 + cfg.seconds * 1000;
  while (performance.now() < end) {
    // Each turn sends up to 256 messages, never more than `window` ahead of delivery.
    for (let i = 0; i < 256 && sent - delivered < cfg.window; i++) {
      sender!.send(receiver!.nodeId, 'paxos', { type: 'heartbeat', group: 'g1', from: sender!.nodeId, ballot: { round: 3, node: sender!.nodeId }, chosenUpTo: sent, sentAtUs: 0 }, 'g1');
      sent++;
    }
    await new Promise((r) => setImmediate(r));
  }
  const [wire1, cpu1, nats1, t1] = [wireOut(sender!), processCpuS(), serverCpuS(), performance.now()];
  const s = (t1 - t0) / 1000;
  for (let i = 0; i < 100 && delivered < sent; i++) await sleep(20);
  await sender!.close();
  await receiver!.close();
  return { mode: 'flood', coalesce, sentPerS: sent / s, deliveredPerS: delivered / s, wireOutPerS: (wire1 - wire0) / s, cpuPct: ((cpu1 - cpu0) / s) * 100, natsCpuPct: ((nats1 - nats0) / s) * 100 };
}

try {
  console.log(`one-way bench: ${cfg.rounds} rounds × ${cfg.seconds}s per mode; heartbeats: ${cfg.splits} splits × ${cfg.followers} followers × (heartbeat + closed) every ${cfg.intervalMs} ms`);
  console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, nats-server at ${nats.url}`);
  for (let round = 1; round <= cfg.rounds; round++) {
    for (const coalesce of [false, true]) print(await heartbeats(coalesce));
    for (const coalesce of [false, true]) print(await flood(coalesce));
  }
} finally {
  await nats.stop();
}
