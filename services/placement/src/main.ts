/**
 * The placement process: `synod placement --node-id p-a --dc dc-a --peers p-a,p-b,p-c --data-dir …
 * --initial-map placement.json`, one replica per DC (docs/placement.md). Prints {"ready":true,…}
 * on stdout once serving; answers {"op":"status"} lines on stdin; logs to stderr.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { SynodError } from '@synod/codec';
import { ConfigError, METRICS_FLAGS_HELP, booleanFlag, createLogger, loadConfig, maybeServeProbes, metricsFlags, nodeIdentity, serveStdioControl } from '@synod/config';
import { PaxosHost } from '@synod/paxos-host';
import { DEFAULT_EXECUTOR_LIMITS, DEFAULT_THRESHOLDS, RangeMap } from '@synod/placement';
import { openStorage } from '@synod/storage';
import { connectBus } from '@synod/transport';
import { PLACEMENT_ELECTION_TIMEOUT_MS, PLACEMENT_GROUP, PLACEMENT_HEARTBEAT_MS, PlacementService } from './placement-service.js';

const T = DEFAULT_THRESHOLDS;

export const PLACEMENT_HELP = `synod placement — one replica of the placement service (the range map's Paxos group)

Options (also env SYNOD_<NAME>):
  --node-id <id>                 required; one of --peers
  --dc <dc>                      required
  --peers <p-a,p-b,p-c>          every placement replica, one per DC (required)
  --data-dir <path>              LMDB directory (required)
  --initial-map <file>           range map JSON (the placement.json of synod up) that seeds the
                                 group when its log is empty; ignored once a map exists
  --nats-url <url>               default nats://127.0.0.1:4222
  --nats-creds <file>            NATS credentials from synod up (<data-dir>/creds/<id>.json); default none
  --cluster <name>               default synod
  --plan-interval-ms <ms>        how often the leader runs the planner, default 1000
  --dead-after-ms <ms>           a node silent this long is dead, default 10000
  --request-timeout-ms <ms>      one request to a split replica or node, default 2000
  --max-split-writes-per-sec <n> cut a split over this load, default ${T.maxSplitWritesPerSec}
  --max-split-bytes <n>          cut a split over this size, default ${T.maxSplitBytes}
  --consecutive-reports <n>      …in this many consecutive leader reports, default ${T.consecutiveReports}
  --cooldown-ms <ms>             no new op on a split this soon after its last, default ${T.cooldownUs / 1000}
  --max-splits <n>               never cut beyond this many splits, default ${T.maxSplits}
  --balance-slack <n>            move a replica when two nodes of a DC differ by this many, default ${T.balanceSlack}
  --max-step-attempts <n>        attempts of one op step before the op fails, default ${DEFAULT_EXECUTOR_LIMITS.maxAttempts}
  --catch-up-attempts <n>        attempts of the swap while a learner catches up, default ${DEFAULT_EXECUTOR_LIMITS.catchUpAttempts}
  --heartbeat-ms <ms>            the placement group's heartbeat, default ${PLACEMENT_HEARTBEAT_MS}
  --election-timeout-ms <ms>     default ${PLACEMENT_ELECTION_TIMEOUT_MS}: a follower that hears no leader
                                 this long campaigns (docs/placement.md, "Timing")
  --snapshot-interval-entries <n> compact the group's log every n entries, default 1000
  --fsync <bool>                 default true
${METRICS_FLAGS_HELP}
                                 (/readyz: the placement group has a known leader)
  --control-stdin <bool>         read JSON-line commands on stdin and stop when it closes, default
                                 true (a parent such as synod up steers it so); false under a
                                 supervisor that gives no stdin (Kubernetes, systemd)
  --log-level <level>            default info (logs go to stderr)

Thresholds and why they are what they are: docs/placement.md.`;

const positive = z.coerce.number().positive();
const count = z.coerce.number().int().min(1);
const schema = z.object({
  ...nodeIdentity,
  ...metricsFlags,
  peers: z.string().transform((s) => s.split(',').filter(Boolean)).pipe(z.array(nodeIdentity.nodeId).min(1).max(9)),
  dataDir: z.string().min(1),
  /** docs/transport.md "Credentials". */
  natsCreds: z.string().min(1).optional(),
  initialMap: z.string().min(1).optional(),
  planIntervalMs: positive.max(3_600_000).default(1_000),
  deadAfterMs: positive.max(86_400_000).default(10_000),
  requestTimeoutMs: positive.max(600_000).default(2_000),
  maxSplitWritesPerSec: positive.max(1e9).default(T.maxSplitWritesPerSec),
  maxSplitBytes: count.max(2 ** 50).default(T.maxSplitBytes),
  consecutiveReports: count.max(16).default(T.consecutiveReports),
  cooldownMs: z.coerce.number().nonnegative().max(86_400_000).default(T.cooldownUs / 1000),
  maxSplits: count.max(100_000).default(T.maxSplits),
  balanceSlack: count.max(100_000).default(T.balanceSlack),
  maxStepAttempts: count.max(1_000).default(DEFAULT_EXECUTOR_LIMITS.maxAttempts),
  catchUpAttempts: count.max(100_000).default(DEFAULT_EXECUTOR_LIMITS.catchUpAttempts),
  heartbeatMs: positive.max(60_000).default(PLACEMENT_HEARTBEAT_MS),
  electionTimeoutMs: positive.max(600_000).default(PLACEMENT_ELECTION_TIMEOUT_MS),
  snapshotIntervalEntries: z.coerce.number().int().nonnegative().default(1_000),
  fsync: booleanFlag.default(true),
  controlStdin: booleanFlag.default(true),
});

function readInitialMap(file: string): RangeMap {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SynodError('INVALID_ARGUMENT', `cannot read initial map ${file}: ${(err as Error).message}`);
  }
  return RangeMap.fromJson(text, `initial map ${file}`);
}

/** Starts a placement replica; resolves 0 once it serves (it runs until SIGTERM/SIGINT or stdin closes), else an exit code. */
export async function runPlacement(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(PLACEMENT_HELP + '\n');
    return 0;
  }
  try {
    await start(argv);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) process.stderr.write(`synod placement: INVALID_ARGUMENT\n${err.message}\n`);
    else if (err instanceof SynodError) process.stderr.write(`synod placement: ${err.code}: ${err.message}\n`);
    else throw err;
    return err instanceof ConfigError ? 2 : 1;
  }
}

async function start(argv: string[]): Promise<void> {
  const cfg = loadConfig(schema, { argv });
  if (!cfg.peers.includes(cfg.nodeId)) throw new SynodError('INVALID_ARGUMENT', `--peers ${cfg.peers.join(',')} must include --node-id ${cfg.nodeId}`);
  const initialMap = cfg.initialMap !== undefined ? readInitialMap(cfg.initialMap) : undefined;
  const log = createLogger({ service: 'placement', nodeId: cfg.nodeId, dc: cfg.dc, level: cfg.logLevel });
  const storage = openStorage({ path: cfg.dataDir, fsync: cfg.fsync });
  const bus = await connectBus(cfg.natsUrl, { nodeId: cfg.nodeId, dc: cfg.dc, cluster: cfg.cluster, logger: log, natsCreds: cfg.natsCreds });
  const host = new PaxosHost({ bus, storage, logger: log });
  const service = new PlacementService({
    bus,
    host,
    peers: cfg.peers,
    ...(initialMap ? { initialMap: initialMap.config } : {}),
    thresholds: {
      maxSplitWritesPerSec: cfg.maxSplitWritesPerSec,
      maxSplitBytes: cfg.maxSplitBytes,
      consecutiveReports: cfg.consecutiveReports,
      cooldownUs: cfg.cooldownMs * 1000,
      maxSplits: cfg.maxSplits,
      balanceSlack: cfg.balanceSlack,
    },
    executorLimits: { ...DEFAULT_EXECUTOR_LIMITS, maxAttempts: cfg.maxStepAttempts, catchUpAttempts: cfg.catchUpAttempts },
    planIntervalMs: cfg.planIntervalMs,
    deadAfterMs: cfg.deadAfterMs,
    requestTimeoutMs: cfg.requestTimeoutMs,
    heartbeatMs: cfg.heartbeatMs,
    electionTimeoutMs: cfg.electionTimeoutMs,
    snapshotIntervalEntries: cfg.snapshotIntervalEntries,
    logger: log,
  });
  await service.start();
  const leaderKnown = () => Boolean(host.replica(PLACEMENT_GROUP)?.leaderHint());
  bus.metrics.collectProcessMetrics();
  bus.metrics.onCollect(() => {
    bus.metrics.set('synod_placement_leader', service.isLeader() ? 1 : 0);
    bus.metrics.set('synod_placement_leader_known', leaderKnown() ? 1 : 0);
  });
  const probes = await maybeServeProbes(cfg, bus.metrics, () => (leaderKnown() ? { ready: true, reasons: [] } : { ready: false, reasons: ['the placement group has no known leader'] }));
  const stop = async () => {
    await probes?.close();
    await service.close();
    await host.close();
    await bus.close();
    await storage.close();
    process.exit(0);
  };
  const status = () => ({ ok: true, nodeId: cfg.nodeId, isLeader: service.isLeader(), generation: service.log.map()?.generation ?? null, splits: service.log.map()?.all().length ?? 0, op: service.log.current()?.opId ?? null });
  // A parent that goes away closes stdin: stop rather than run on as an orphan (--control-stdin false: until a signal).
  const reply = cfg.controlStdin ? serveStdioControl(status, () => void stop()).reply : (o: object) => void process.stdout.write(JSON.stringify(o) + '\n');
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  log.info({ peers: cfg.peers }, 'placement serving');
  reply({ ready: true, nodeId: cfg.nodeId, dc: cfg.dc, ...(probes ? { metricsUrl: probes.url } : {}) });
}
