/**
 * A process running only the TrueTime sync daemon, on a skewable host clock: what every synod
 * process will run, on its own, so tests and operators can watch ε, offsets and serving state.
 * Clock faults arrive by broadcast (`synod chaos skew|drift`). Steered by JSON lines on stdin:
 *   → {"id":1,"op":"status"}   ← {"id":1,"ok":true,"serving":true,"epsilonUs":812,"earliest":..,"latest":..,"syncs":4,...}
 *   → {"id":2,"op":"sync"}     ← the outcome of a sync round run now
 *   → {"id":3,"op":"wait","t":1764…}  ← {"id":3,"ok":true,"earliest":..} once TT.after(t) (commit wait)
 *   → {"id":4,"op":"metrics"}  ← {"id":4,"ok":true,"text":"…"}
 */
import { z } from 'zod';
import { createLogger, loadConfig, nodeIdentity, serveStdioControl } from '@synod/config';
import { connectBus } from '@synod/transport';
import { SkewedClock, TimeSyncDaemon, TrueTime, handleClockFaults, syncConfigFrom, systemClock, monotonicClock, timeSyncFlags } from '@synod/truetime';

export const CLOCK_NODE_HELP = `synod clock-node — one process running the TrueTime sync daemon

Options (also env SYNOD_<NAME>):
  --node-id <id>              required
  --dc <dc>                   required
  --master-dcs <a,b,c>        DCs whose time masters to poll (default dc-a,dc-b,dc-c)
  --master-nodes <ids>        extra masters to poll by node id (default none)
  --sync-interval-ms <ms>     default 30000 (Spanner)
  --request-timeout-ms <ms>   default 1000
  --drift-bound-ppm <ppm>     worst-case local clock drift, default 200 (Spanner)
  --max-liars <n>             lying masters tolerated per sync, default 1
  --initial-epsilon-ms <ms>   uncertainty assumed before the first sync, default 1000
  --max-epsilon-ms <ms>       stop serving above this ε, default 50
  --clock-skew-ms <ms>        start with the clock stepped (fault injection), default 0
  --clock-drift-ppm <ppm>     start with the clock drifting (fault injection), default 0
  --nats-url <url>            default nats://127.0.0.1:4222
  --cluster <name>            default synod
  --log-level <level>         default info (logs go to stderr)

Reads JSON-line commands on stdin: status, sync, wait, metrics (see clock-node.ts).`;

const schema = z.object({ ...nodeIdentity, ...timeSyncFlags });

export async function runClockNode(argv: string[]): Promise<void> {
  const cfg = loadConfig(schema, { argv });
  const log = createLogger({ service: 'clock-node', nodeId: cfg.nodeId, dc: cfg.dc, level: cfg.logLevel });
  const bus = await connectBus(cfg.natsUrl, { nodeId: cfg.nodeId, dc: cfg.dc, cluster: cfg.cluster, logger: log });
  const clock = new SkewedClock(systemClock, { skewUs: cfg.clockSkewMs * 1000, driftPpm: cfg.clockDriftPpm });
  let faults = 0;
  handleClockFaults(bus, clock, log, () => faults++);
  const tt = new TrueTime(clock, syncConfigFrom(cfg), monotonicClock);
  const daemon = new TimeSyncDaemon({
    bus,
    truetime: tt,
    masterDcs: cfg.masterDcs,
    masterNodes: cfg.masterNodes,
    syncIntervalMs: cfg.syncIntervalMs,
    requestTimeoutMs: cfg.requestTimeoutMs,
    logger: log,
  });
  await daemon.start();

  const status = () => {
    const s = daemon.status();
    const iv = tt.now();
    const last = daemon.last;
    return {
      ...s,
      ...iv,
      syncs: daemon.syncs,
      lastSync: last && { ok: last.ok, failure: last.failure, offsetUs: last.offsetUs, rttUs: last.rttUs, rejected: last.rejected, agreeing: last.agreeing, epsilonAfterUs: last.epsilonAfterUs },
      skewUs: clock.skewUs,
      driftPpm: clock.driftPpm,
      faults,
    };
  };
  const handle = async (cmd: { op?: unknown; t?: unknown }): Promise<object> => {
    switch (cmd.op) {
      case 'status':
        return { ok: true, ...status() };
      case 'sync': {
        const o = await daemon.syncNow();
        return { ok: true, outcome: o, ...status() };
      }
      case 'wait': {
        if (typeof cmd.t !== 'number') return { ok: false, code: 'INVALID_ARGUMENT' };
        const iv = await tt.waitUntilAfter(cmd.t);
        return { ok: true, ...iv };
      }
      case 'metrics':
        return { ok: true, text: await bus.metrics.render() };
      default:
        return { ok: false, code: 'INVALID_ARGUMENT', message: `unknown op ${String(cmd.op)}` };
    }
  };
  const stop = async () => {
    daemon.stop();
    await bus.close();
    process.exit(0);
  };
  const { reply } = serveStdioControl(handle, () => void stop());
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  reply({ ready: true, nodeId: cfg.nodeId, dc: cfg.dc, serving: tt.isServing() });
}
