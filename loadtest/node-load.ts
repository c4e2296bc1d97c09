/**
 * What a spanserver process costs over a window: two readings of its `node.status` (CPU, fsyncs,
 * event-loop delay since the last reset, bus messages received) and of its /metrics (wire
 * messages, when the transport counts them), and the rates between them (docs/metrics.md,
 * "Event-loop delay"; docs/benchmarks.md, "Many splits per process").
 */
import { readFileSync } from 'node:fs';
import type { MessageBody } from '@synod/codec';
import type { Bus } from '@synod/transport';
import { cpuSecondsFromStat } from './vs-etcd/report.js';

type NodeStatus = MessageBody<'node.status.reply'>;

export interface NodeReading {
  node: string;
  atMs: number;
  status: NodeStatus;
  /** Counter totals from /metrics by `name{labels}` (empty when the node serves no metrics). */
  counters: Map<string, number>;
}

/** Most bytes of a /metrics page read: a spanserver with 512 splits exports a few hundred KiB. */
const MAX_METRICS_BYTES = 16 * 1024 * 1024;

/** `name{labels} value` lines of a Prometheus text page whose name is in `names` (any labels). */
export function parseCounters(text: string, names: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? ([^ ]+)/.exec(line);
    if (!m || !names.includes(m[1]!)) continue;
    const v = Number(m[3]);
    if (Number.isFinite(v)) out.set(`${m[1]}${m[2] ?? ''}`, v);
  }
  return out;
}

/** Counters the bench reads from /metrics: messages the bus received, and NATS messages it received and published (a batch counts once). */
export const SCRAPED_COUNTERS = ['synod_bus_received_total', 'synod_bus_wire_received_total', 'synod_bus_wire_published_total'] as const;

export async function scrapeCounters(baseUrl: string | undefined): Promise<Map<string, number>> {
  if (!baseUrl) return new Map();
  const res = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
  const text = await res.text();
  if (text.length > MAX_METRICS_BYTES) throw new Error(`${baseUrl}/metrics is over ${MAX_METRICS_BYTES} bytes`);
  return parseCounters(text, SCRAPED_COUNTERS);
}

/**
 * Reads `node` now; `resetEventLoop` starts its next event-loop window after this reading, so a
 * window is measured by a reading with the flag at its start and one at its end.
 */
export async function readNode(bus: Bus, node: string, metricsUrl: string | undefined, resetEventLoop: boolean): Promise<NodeReading> {
  const [env, counters] = await Promise.all([bus.request(node, 'node.status', { resetEventLoop }, { timeoutMs: 10_000 }), scrapeCounters(metricsUrl)]);
  return { node, atMs: performance.now(), status: env.body as NodeStatus, counters };
}

export interface NodeRates {
  node: string;
  seconds: number;
  /** CPU used over the window as a percentage of one core. */
  cpuPct: number;
  fsyncsPerSec: number;
  /** Messages the bus received per second (synod_bus_received_total). */
  busInPerSec: number;
  /** NATS messages per second the bus received and published (synod_bus_wire_received_total, synod_bus_wire_published_total). */
  wire?: { inPerSec: number; outPerSec: number };
  /** Event-loop delay over the window (node.status eventLoop.sinceReset). */
  loop?: { p99Ms: number; maxMs: number; samples: number };
  /** The window's delay split into run-queue wait and own stalls (node.status eventLoop.stalls, Linux). */
  stalls?: { maxDelayMs: number; maxOwnMs: number; maxWaitMs: number; waitPct: number; worstOwn?: { gapMs: number; runMs: number; waitMs: number; asleepMs: number } };
  splits: number;
  leads: number;
  /** Quiescent groups (node.status quietGroups) at the window's start and end; undefined from a node that does not report them. */
  quiet?: { start: number; end: number };
}

const sumOf = (m: Map<string, number>, pred: (k: string) => boolean) => [...m].filter(([k]) => pred(k)).reduce((a, [, v]) => a + v, 0);

export function ratesBetween(a: NodeReading, b: NodeReading): NodeRates {
  const seconds = (b.atMs - a.atMs) / 1000;
  if (!(seconds > 0)) throw new Error(`readings of ${a.node} are not in order`);
  const cpu = (r: NodeReading) => (r.status.cpuUs ? r.status.cpuUs.user + r.status.cpuUs.system : NaN);
  const wireName = { in: 'synod_bus_wire_received_total', out: 'synod_bus_wire_published_total' };
  const wire = (r: NodeReading, dir: 'in' | 'out') => sumOf(r.counters, (k) => k.startsWith(wireName[dir]));
  const hasWire = [...b.counters.keys()].some((k) => k.startsWith(wireName.in));
  const received = (r: NodeReading) => r.status.busReceived ?? sumOf(r.counters, (k) => k.startsWith('synod_bus_received_total'));
  const loop = b.status.eventLoop?.sinceReset;
  const stalls = b.status.eventLoop?.stalls;
  return {
    node: a.node,
    seconds,
    cpuPct: ((cpu(b) - cpu(a)) / (seconds * 1e6)) * 100,
    fsyncsPerSec: ((b.status.fsyncs ?? 0) - (a.status.fsyncs ?? 0)) / seconds,
    busInPerSec: (received(b) - received(a)) / seconds,
    ...(hasWire ? { wire: { inPerSec: (wire(b, 'in') - wire(a, 'in')) / seconds, outPerSec: (wire(b, 'out') - wire(a, 'out')) / seconds } } : {}),
    ...(loop ? { loop: { p99Ms: loop.p99Ms, maxMs: loop.maxMs, samples: loop.samples } } : {}),
    ...(stalls && stalls.windowMs > 0
      ? {
          stalls: {
            maxDelayMs: stalls.maxDelayMs,
            maxOwnMs: stalls.maxOwnMs,
            maxWaitMs: stalls.maxWaitMs,
            waitPct: (stalls.waitMs / stalls.windowMs) * 100,
            ...(stalls.worstOwn ? { worstOwn: stalls.worstOwn } : {}),
          },
        }
      : {}),
    splits: b.status.groups.length,
    leads: b.status.groups.filter((g) => g.isLeader).length,
    ...(a.status.quietGroups !== undefined && b.status.quietGroups !== undefined ? { quiet: { start: a.status.quietGroups, end: b.status.quietGroups } } : {}),
  };
}

/** CPU seconds (user + system) a local process has used, from /proc (Linux), or undefined. */
export function procCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    return cpuSecondsFromStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}
