/**
 * The spanserver process: `synod spanserver --node-id n1 --dc dc-a --data-dir … --placement placement.json`.
 * Prints {"ready":true,…} on stdout once serving; answers {"op":"status"} lines on stdin; logs to stderr.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { SynodError, type MessageBody, type MessageInput } from '@synod/codec';
import { METRICS_FLAGS_HELP, booleanFlag, createLogger, loadConfig, maybeServeProbes, metricsFlags, nodeIdentity, serveStdioControl } from '@synod/config';
import { PaxosHost } from '@synod/paxos-host';
import { RangeMap } from '@synod/placement';
import { openStorage } from '@synod/storage';
import { connectBus, subjects, type Bus } from '@synod/transport';
import { SkewedClock, TimeSyncDaemon, TrueTime, handleClockFaults, syncConfigFrom, systemClock, monotonicClock, timeSyncFlags } from '@synod/truetime';
import { collectSpanserverGauges, spanserverReadiness, timePersists } from './metrics.js';
import { Spanserver } from './spanserver.js';
import { LocalTrueTime, type TimeSource } from './time-source.js';

export const SPANSERVER_HELP = `synod spanserver — one spanserver process (hosts replicas of its splits)

Options (also env SYNOD_<NAME>):
  --node-id <id>              required; must appear in the placement file
  --dc <dc>                   required
  --data-dir <path>           LMDB directory (required)
  --placement <file>          range map JSON: nodes, splits and replicas (required)
  --nats-url <url>            default nats://127.0.0.1:4222
  --nats-creds <file>         NATS credentials from synod up (<data-dir>/creds/<id>.json); default none
  --cluster <name>            default synod
  --truetime <daemon|local>   daemon (default): sync with the time masters (synod timemaster) and
                              stop serving while out of bounds; local: host clock ± --epsilon-ms
  --epsilon-ms <ms>           ε of the local TrueTime stand-in, default 1
  --master-dcs <a,b,c>        daemon: DCs whose time masters to poll, default dc-a,dc-b,dc-c
  --sync-interval-ms <ms>     daemon: default 30000 (Spanner); also --drift-bound-ppm, --max-liars,
                              --max-epsilon-ms, --initial-epsilon-ms, --request-timeout-ms,
                              --clock-skew-ms, --clock-drift-ppm (see synod clock-node --help)
  --heartbeat-ms <ms>         default 50
  --election-timeout-ms <ms>  default 500
  --closed-interval-ms <ms>   how often an idle leader advances t_safe, default 50
  --quiesce-after-ms <ms>     a split with no client request and no write for this long stops
                              heartbeating (and closing timestamps) until one comes, default 2000;
                              0: never (docs/spanserver.md, "Quiescent splits")
  --gc-retention-s <s>        keep versions this long (plus the newest older one), default 3600
  --snapshot-interval-entries <n>
                              compact each split's log every n applied entries, default 1000
                              (0: never); the on-disk log stays below 2n + 64 entries
  --fsync <bool>              default true
  --clock-evidence <bool>     daemon: stamp every message with this node's TrueTime interval and
                              resync at once when a peer's stamp proves a clock wrong, default
                              true (false only to measure what it prevents: docs/transport.md)
  --report-interval-ms <ms>   how often to send the placement service this node's per-split size
                              and load (placement.report), default 1000; 0: never
  --map-poll-ms <ms>          how often to ask the placement service for a newer range map (to
                              reach splits this node does not host), default 2000; 0: never
${METRICS_FLAGS_HELP}
                              (/readyz: clock within bounds, every split with a known leader and caught up)
  --control-stdin <bool>      read JSON-line commands on stdin and stop when it closes, default true
                              (a parent such as synod up steers it so); false under a supervisor
                              that gives no stdin (Kubernetes, systemd): serve until a signal
  --log-level <level>         default info (logs go to stderr)`;

const schema = z.object({
  ...nodeIdentity,
  ...timeSyncFlags,
  ...metricsFlags,
  truetime: z.enum(['daemon', 'local']).default('daemon'),
  /** docs/transport.md "Credentials". */
  natsCreds: z.string().min(1).optional(),
  dataDir: z.string().min(1),
  placement: z.string().min(1),
  epsilonMs: z.coerce.number().positive().max(10_000).default(1),
  heartbeatMs: z.coerce.number().positive().default(50),
  electionTimeoutMs: z.coerce.number().positive().default(500),
  closedIntervalMs: z.coerce.number().positive().default(50),
  quiesceAfterMs: z.coerce.number().int().nonnegative().max(3_600_000).default(2_000),
  gcRetentionS: z.coerce.number().positive().default(3600),
  snapshotIntervalEntries: z.coerce.number().int().nonnegative().default(1_000),
  fsync: booleanFlag.default(true),
  clockEvidence: booleanFlag.default(true),
  reportIntervalMs: z.coerce.number().int().nonnegative().max(3_600_000).default(1_000),
  mapPollMs: z.coerce.number().int().nonnegative().max(3_600_000).default(2_000),
  controlStdin: booleanFlag.default(true),
});

export function loadRangeMap(file: string): RangeMap {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SynodError('INVALID_ARGUMENT', `cannot read placement file ${file}: ${(err as Error).message}`);
  }
  return RangeMap.fromJson(text, `placement file ${file}`);
}

/**
 * The process's TrueTime: the sync daemon over a skewable host clock (clock faults arrive by
 * broadcast), or the fixed-ε stand-in. Until the daemon's first good sync the spanserver
 * refuses requests (`isServing()` is false).
 */
async function startTrueTime(cfg: z.infer<typeof schema>, bus: Bus, log: ReturnType<typeof createLogger>): Promise<{ tt: TimeSource; daemon?: TimeSyncDaemon; clockCheck?: () => Promise<unknown> | undefined }> {
  if (cfg.truetime === 'local') return { tt: new LocalTrueTime(cfg.epsilonMs * 1000) };
  const clock = new SkewedClock(systemClock, { skewUs: cfg.clockSkewMs * 1000, driftPpm: cfg.clockDriftPpm });
  handleClockFaults(bus, clock, log);
  const tt = new TrueTime(clock, syncConfigFrom(cfg), monotonicClock);
  const daemon = new TimeSyncDaemon({ bus, truetime: tt, masterDcs: cfg.masterDcs, masterNodes: cfg.masterNodes, syncIntervalMs: cfg.syncIntervalMs, requestTimeoutMs: cfg.requestTimeoutMs, logger: log });
  await daemon.start();
  if (!cfg.clockEvidence) return { tt, daemon };
  // Every message carries this node's interval while it serves; a peer's message stamped ahead
  // of it, or a peer's clock.suspect about ours, resyncs at once (docs/transport.md).
  let check: Promise<unknown> | undefined;
  bus.useClock({
    now: () => {
      const r = tt.nowServing();
      return r.serving ? r.tt : null;
    },
    onEvidence: (e) => {
      const p = daemon.resyncNow(`${e.side === 'receiver' ? 'message from' : 'clock.suspect from'} ${e.from} (${e.kind}) stamped ${e.senderEarliest - e.receiverLatest} µs ahead`).catch((err: unknown) => log.error({ err }, 'resync failed'));
      check = p;
      void p.finally(() => {
        if (check === p) check = undefined;
      });
    },
  });
  return { tt, daemon, clockCheck: () => check };
}

/**
 * Asks the placement service for a range map newer than the last one heard, every `everyMs`
 * (docs/placement.md). No answer (no placement service, as with a static map) changes nothing.
 */
function pollRangeMap(bus: Bus, cluster: string, everyMs: number, heard: (m: RangeMap) => void): NodeJS.Timeout {
  let generation = 0;
  let inFlight = false;
  return setInterval(() => {
    if (inFlight) return;
    inFlight = true;
    bus
      .requestSubject(subjects(cluster).placement, 'placement.get', { minGeneration: generation }, { timeoutMs: Math.min(everyMs, 2_000) })
      .then((env) => {
        if (env.kind !== 'placement.map') return;
        const parsed = RangeMap.safeParse((env.body as MessageBody<'placement.map'>).map);
        if (parsed.ok && parsed.map.generation > generation) {
          generation = parsed.map.generation;
          heard(parsed.map);
        }
      })
      // No answer is the normal case without a placement service (a static map); the next poll asks again.
      .catch(() => undefined)
      .finally(() => (inFlight = false));
  }, everyMs);
}

export async function runSpanserver(argv: string[]): Promise<void> {
  const cfg = loadConfig(schema, { argv });
  const rangeMap = loadRangeMap(cfg.placement);
  if (!rangeMap.dc(cfg.nodeId)) throw new SynodError('INVALID_ARGUMENT', `node ${cfg.nodeId} is not in ${cfg.placement}`);
  const log = createLogger({ service: 'spanserver', nodeId: cfg.nodeId, dc: cfg.dc, level: cfg.logLevel });
  const storage = openStorage({ path: cfg.dataDir, fsync: cfg.fsync });
  const bus = await connectBus(cfg.natsUrl, { nodeId: cfg.nodeId, dc: cfg.dc, cluster: cfg.cluster, logger: log, natsCreds: cfg.natsCreds });
  // Before anything asks storage for a group's store: every persist is timed (docs/metrics.md).
  timePersists(storage, bus.metrics);
  const { tt, daemon, clockCheck } = await startTrueTime(cfg, bus, log);
  // A node whose clock is out of bounds must not lead (Spanner evicts it): it stops ticking, so
  // its leases lapse and the other replicas elect a leader whose clock can be trusted.
  // Quiescent splits (docs/spanserver.md): node beats every heartbeat interval keep this node live
  // to its peers, and a peer silent for an election timeout is down to the quiet followers here.
  const host = new PaxosHost({
    bus,
    storage,
    logger: log,
    paused: () => !tt.isServing(),
    quiesceAfterUs: cfg.quiesceAfterMs * 1000,
    beatIntervalMs: cfg.heartbeatMs,
    livenessTimeoutMs: cfg.electionTimeoutMs,
  });
  const server = new Spanserver({
    nodeId: cfg.nodeId,
    dc: cfg.dc,
    bus,
    storage,
    host,
    tt,
    rangeMap,
    heartbeatMs: cfg.heartbeatMs,
    electionTimeoutMs: cfg.electionTimeoutMs,
    closedIntervalMs: cfg.closedIntervalMs,
    gcRetentionMs: cfg.gcRetentionS * 1000,
    snapshotIntervalEntries: cfg.snapshotIntervalEntries,
    logger: log,
    ...(clockCheck ? { clockCheck } : {}),
    ...(cfg.reportIntervalMs > 0
      ? { reportIntervalMs: cfg.reportIntervalMs, publishReport: (r: MessageInput<'placement.report'>) => void bus.publish(subjects(cfg.cluster).placement, 'placement.report', r) }
      : {}),
  });
  await server.start();
  const mapPoll = cfg.mapPollMs > 0 ? pollRangeMap(bus, cfg.cluster, cfg.mapPollMs, (m) => server.mapHeard(m)) : undefined;
  bus.metrics.collectProcessMetrics();
  collectSpanserverGauges(bus.metrics, server, tt);
  const probes = await maybeServeProbes(cfg, bus.metrics, spanserverReadiness(server, tt));
  const stop = async () => {
    if (mapPoll) clearInterval(mapPoll);
    await probes?.close();
    daemon?.stop();
    await server.close();
    await host.close();
    await bus.close();
    await storage.close();
    process.exit(0);
  };
  // A parent that goes away closes stdin: stop rather than run on as an orphan. Without a
  // controlling parent (--control-stdin false) serve until a signal.
  const reply = cfg.controlStdin ? serveStdioControl(() => ({ ok: true, ...server.status() }), () => void stop()).reply : (o: object) => void process.stdout.write(JSON.stringify(o) + '\n');
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  log.info({ splits: rangeMap.splitsOf(cfg.nodeId).map((s) => s.id) }, 'spanserver serving');
  reply({ ready: true, nodeId: cfg.nodeId, dc: cfg.dc, splits: rangeMap.splitsOf(cfg.nodeId).map((s) => s.id), ...(probes ? { metricsUrl: probes.url } : {}) });
}
