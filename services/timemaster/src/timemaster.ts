/**
 * One time master process (DESIGN §5). Answers `time.get` on `<cluster>.timemaster.<dc>` and on
 * its inbox with an interval true time is inside:
 *   --kind reference   GPS stand-in: the host clock ± --uncertainty-us (default 100 µs; processes
 *                      on one host agree to within tens of µs)
 *   --kind drifting    atomic-clock stand-in: its own clock (--clock-drift-ppm), set from the host
 *                      clock ± --uncertainty-us at start, re-synced from the reference masters of
 *                      --reference-dcs every --sync-interval-ms; it advertises its TrueTime
 *                      interval, whose ε grows at --drift-bound-ppm since its last reference sync.
 * Its clock takes `synod chaos skew|drift` faults like any process: a skewed master is a liar.
 *
 * Steered by JSON lines on stdin (unless --control-stdin false), stopping when stdin closes:
 *   → {"id":1,"op":"status"}   ← {"id":1,"ok":true,"kind":"reference","earliest":..,"latest":..,"serving":true,..}
 *   → {"id":2,"op":"metrics"}  ← {"id":2,"ok":true,"text":"synod_… 1\n…"}
 * With --metrics-port: /metrics, /healthz and /readyz over HTTP (docs/metrics.md).
 */
import { z } from 'zod';
import { METRICS_FLAGS_HELP, booleanFlag, createLogger, loadConfig, maybeServeProbes, metricsFlags, nodeIdentity, serveStdioControl } from '@synod/config';
import { connectBus } from '@synod/transport';
import { SkewedClock, TimeSyncDaemon, TrueTime, handleClockFaults, referenceAnswer, serveTimeMaster, systemClock, monotonicClock, type TTInterval } from '@synod/truetime';

export const TIMEMASTER_HELP = `synod timemaster — a time master for the TrueTime daemons of a DC

Options (also env SYNOD_<NAME>):
  --node-id <id>               required
  --dc <dc>                    required; answers on <cluster>.timemaster.<dc> and its inbox
  --kind <reference|drifting>  default reference
  --uncertainty-us <µs>        reference: stated uncertainty; drifting: uncertainty when set at start (default 100)
  --reference-dcs <a,b>        drifting: DCs whose reference masters it syncs from (default none)
  --sync-interval-ms <ms>      drifting: default 30000
  --request-timeout-ms <ms>    drifting: default 1000
  --drift-bound-ppm <ppm>      drifting: its clock's worst-case drift, default 10
  --max-liars <n>              drifting: lying references tolerated per sync, default 0
  --clock-drift-ppm <ppm>      the clock's actual rate error (fault injection), default 0
  --clock-skew-ms <ms>         the clock's step offset (fault injection), default 0
  --control-stdin <bool>       read JSON-line commands on stdin and stop when it closes (default true)
  --nats-url <url>             default nats://127.0.0.1:4222
  --nats-creds <file>          NATS credentials from synod up (<data-dir>/creds/<id>.json); default none
  --cluster <name>             default synod
${METRICS_FLAGS_HELP}
                               (/readyz: this master answers time.get, i.e. its clock source serves)
  --log-level <level>          default info (logs go to stderr)`;

const list = z.string().transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));

export const timemasterConfig = z.object({
  ...nodeIdentity,
  ...metricsFlags,
  kind: z.enum(['reference', 'drifting']).default('reference'),
  /** docs/transport.md "Credentials". */
  natsCreds: z.string().min(1).optional(),
  uncertaintyUs: z.coerce.number().int().min(0).max(10_000_000).default(100),
  referenceDcs: list.default([]),
  syncIntervalMs: z.coerce.number().int().positive().default(30_000),
  requestTimeoutMs: z.coerce.number().int().positive().default(1_000),
  driftBoundPpm: z.coerce.number().min(0).max(100_000).default(10),
  maxLiars: z.coerce.number().int().min(0).max(10).default(0),
  clockDriftPpm: z.coerce.number().min(-500_000).max(500_000).default(0),
  clockSkewMs: z.coerce.number().default(0),
  controlStdin: booleanFlag.default(true),
});

export async function runTimemaster(argv: string[]): Promise<void> {
  const cfg = loadConfig(timemasterConfig, { argv });
  const log = createLogger({ service: 'timemaster', nodeId: cfg.nodeId, dc: cfg.dc, level: cfg.logLevel });
  const bus = await connectBus(cfg.natsUrl, { nodeId: cfg.nodeId, dc: cfg.dc, cluster: cfg.cluster, logger: log, natsCreds: cfg.natsCreds });
  const clock = new SkewedClock(systemClock, { skewUs: cfg.clockSkewMs * 1000, driftPpm: cfg.clockDriftPpm });
  handleClockFaults(bus, clock, log, undefined, { timeMaster: true });

  let answer: () => TTInterval | undefined;
  let daemon: TimeSyncDaemon | undefined;
  let tt: TrueTime | undefined;
  if (cfg.kind === 'reference') {
    answer = referenceAnswer(clock, cfg.uncertaintyUs);
  } else {
    const t = new TrueTime(clock, {
      driftBoundPpm: cfg.driftBoundPpm,
      maxLiars: cfg.maxLiars,
      maxRttUs: Math.ceil(cfg.requestTimeoutMs * 1000 * (1 + cfg.driftBoundPpm / 1e6)),
      // A master keeps answering as its ε grows; the daemons weigh its width.
      maxEpsilonUs: Number.MAX_SAFE_INTEGER,
    }, monotonicClock);
    // Set when installed: from the host clock with the stated uncertainty.
    const now = clock.nowUs();
    t.anchorNow({ earliest: now - cfg.uncertaintyUs, latest: now + cfg.uncertaintyUs });
    tt = t;
    if (cfg.referenceDcs.length > 0) {
      daemon = new TimeSyncDaemon({ bus, truetime: t, masterDcs: cfg.referenceDcs, syncIntervalMs: cfg.syncIntervalMs, requestTimeoutMs: cfg.requestTimeoutMs, logger: log });
      await daemon.start();
    }
    // A master whose own clock disagrees with the references stops answering rather than lie.
    answer = () => (t.status().serving ? t.now() : undefined);
  }
  await serveTimeMaster(bus, cfg.kind, answer);
  log.info({ kind: cfg.kind, referenceDcs: cfg.referenceDcs }, 'time master serving');
  bus.metrics.collectProcessMetrics();
  bus.metrics.onCollect(() => bus.metrics.set('synod_timemaster_answering', answer() ? 1 : 0));
  // Ready while it answers time.get: a drifting master whose clock left the references' bounds does not.
  const probes = await maybeServeProbes(cfg, bus.metrics, () => (answer() ? { ready: true, reasons: [] } : { ready: false, reasons: [`clock not serving (${tt?.status().reason ?? 'no answer'})`] }));

  const out = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
  const stop = async () => {
    daemon?.stop();
    await probes?.close();
    await bus.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  if (cfg.controlStdin)
    serveStdioControl((cmd) => {
      if (cmd.op === 'metrics') return bus.metrics.render().then((text) => ({ ok: true, text }));
      const iv = answer();
      const status = tt?.status();
      return { ok: true, kind: cfg.kind, ...(iv ?? {}), serving: iv !== undefined, reason: status?.reason, syncs: daemon?.syncs ?? 0, skewUs: clock.skewUs, driftPpm: clock.driftPpm };
    }, () => void stop());
  out({ ready: true, nodeId: cfg.nodeId, dc: cfg.dc, kind: cfg.kind, ...(probes ? { metricsUrl: probes.url } : {}) });
}
