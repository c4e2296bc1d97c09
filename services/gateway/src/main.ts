import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SynodClient } from '@synod/client';
import { SynodError } from '@synod/codec';
import { booleanFlag, createLogger, loadConfig, nodeIdentity } from '@synod/config';
import { RangeMap } from '@synod/placement';
import { connectBus } from '@synod/transport';
import { z } from 'zod';
import { loadTokens } from './auth.js';
import { addMetrics } from './metrics.js';
import { addPicture } from './picture/routes.js';
import { buildGateway, GATEWAY_DEFAULTS } from './server.js';

const D = GATEWAY_DEFAULTS;

export const GATEWAY_HELP = `synod gateway — the HTTP/JSON API of a synod cluster (docs/gateway.md); OpenAPI at /openapi.json

Options (also env SYNOD_<NAME>):
  --host <addr>              listen address, default 127.0.0.1
  --port <n>                 listen port, default 8080 (0: any free port; the line on stdout says which)
  --data-dir <dir>           a cluster started by 'synod up' (reads <dir>/cluster.json), default .synod
  --cluster-file <file>      or that cluster file directly
  --nats-url <url>           or name the NATS server …
  --placement <file>         … and the range map file
  --nats-creds <file>        NATS client credential when the cluster runs with them (synod up --nats-auth users:
                             <data-dir>/creds/gateway.json); default none
  --cluster <name>           subject prefix, default synod
  --dc <dc>                  the gateway's DC (bounded-staleness reads prefer it), default dc-a
  --token-file <file>        bearer tokens, one per line (# comments), each at least 16 characters
  --insecure                 serve without tokens (one of --token-file or --insecure is required)
  --picture-public           serve the live picture (/, /picture.json, /events; docs/picture.md) without a
                             token: it shows nodes, leaders, faults and commit rates, no keys or values
  --tls-cert <file>          serve HTTPS with this certificate (PEM) …
  --tls-key <file>           … and this key
  --rate-limit-per-sec <n>   sustained requests per second per client (token or address), default ${D.rateLimitPerSec}
  --rate-limit-burst <n>     requests a client may send at once, default ${D.rateLimitBurst}
  --max-in-flight <n>        requests served at once (past it 503 UNAVAILABLE), default ${D.maxInFlight}
  --body-limit-bytes <n>     largest request body, default ${D.bodyLimitBytes} (the largest transaction plus JSON)
  --ready-window-ms <ms>     /readyz is ready while the cluster answered within this, default ${D.readyWindowMs}
  --log-level <level>        default info (JSON lines on stderr)

The live picture of the cluster is at / (docs/picture.md), behind the token unless --insecure or
--picture-public. /healthz, /readyz and /openapi.json need no token and are not rate limited.
/metrics (Prometheus text, docs/metrics.md) is served on the same port and, like the probes,
needs no token.
SIGTERM or SIGINT: stop accepting, finish requests in flight, exit 0.`;

const options = z.object({
  host: z.string().default('127.0.0.1'),
  port: z.coerce.number().int().min(0).max(65_535).default(8080),
  dataDir: z.string().default('.synod'),
  clusterFile: z.string().optional(),
  natsUrl: z.string().optional(),
  /** A client-role credential (docs/transport.md "Credentials"), e.g. <data-dir>/creds/gateway.json. */
  natsCreds: z.string().min(1).optional(),
  placement: z.string().optional(),
  cluster: nodeIdentity.cluster.optional(),
  dc: nodeIdentity.dc.default('dc-a'),
  tokenFile: z.string().optional(),
  insecure: booleanFlag.default(false),
  picturePublic: booleanFlag.default(false),
  tlsCert: z.string().optional(),
  tlsKey: z.string().optional(),
  rateLimitPerSec: z.coerce.number().positive().max(1_000_000).default(D.rateLimitPerSec),
  rateLimitBurst: z.coerce.number().int().min(1).max(1_000_000).default(D.rateLimitBurst),
  maxInFlight: z.coerce.number().int().min(1).max(100_000).default(D.maxInFlight),
  bodyLimitBytes: z.coerce.number().int().min(1024).max(64 * 1024 * 1024).default(D.bodyLimitBytes),
  readyWindowMs: z.coerce.number().int().min(100).max(600_000).default(D.readyWindowMs),
  logLevel: nodeIdentity.logLevel,
});

/** A bare `--insecure` (or `--picture-public`) would take the next word as its value; it is a switch wherever it stands. */
const switches = (argv: string[]) => argv.map((a) => (a === '--insecure' || a === '--picture-public' ? `${a}=true` : a));

const clusterFileSchema = z.object({ natsUrl: z.string(), cluster: z.string(), placement: z.string(), creds: z.string().optional() });

/** Where the cluster is: explicit flags first, then the cluster file (`synod up` writes <data-dir>/cluster.json). */
function resolveCluster(o: z.infer<typeof options>): { natsUrl: string; cluster: string; placement: string; natsCreds?: string } {
  const file = o.clusterFile ?? join(o.dataDir, 'cluster.json');
  let info: Partial<z.infer<typeof clusterFileSchema>> = {};
  if (existsSync(file)) {
    const parsed = clusterFileSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!parsed.success) throw new SynodError('INVALID_ARGUMENT', `cluster file ${file}: ${parsed.error.message}`);
    info = parsed.data;
  } else if (o.clusterFile) throw new SynodError('INVALID_ARGUMENT', `no cluster file ${file}`);
  const placement = o.placement ?? info.placement;
  if (!placement) throw new SynodError('UNAVAILABLE', `no cluster found: start one with 'synod up' (looked for ${file}) or pass --nats-url and --placement`);
  // A cluster started with credentials (synod up --nats-auth users) wrote one for a gateway.
  const natsCreds = o.natsCreds ?? (o.natsUrl === undefined && info.creds ? join(info.creds, 'gateway.json') : undefined);
  return { natsUrl: o.natsUrl ?? info.natsUrl ?? 'nats://127.0.0.1:4222', cluster: o.cluster ?? info.cluster ?? 'synod', placement, ...(natsCreds ? { natsCreds } : {}) };
}

function loadRangeMap(file: string): RangeMap {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SynodError('INVALID_ARGUMENT', `cannot read placement file ${file}: ${(err as Error).message}`);
  }
  return RangeMap.fromJson(text, `placement file ${file}`);
}

/** `synod gateway`: serves until SIGTERM/SIGINT, then drains and returns. */
export async function runGateway(argv: string[]): Promise<void> {
  const o = loadConfig(options, { argv: switches(argv) });
  if (!o.tokenFile && !o.insecure) throw new SynodError('INVALID_ARGUMENT', 'give --token-file <file> (bearer tokens) or --insecure (no authentication)');
  if (o.tokenFile && o.insecure) throw new SynodError('INVALID_ARGUMENT', 'give --token-file or --insecure, not both');
  if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw new SynodError('INVALID_ARGUMENT', '--tls-cert and --tls-key go together');
  const tokens = o.tokenFile ? loadTokens(o.tokenFile) : undefined;
  const https = o.tlsCert && o.tlsKey ? { cert: readFileSync(o.tlsCert), key: readFileSync(o.tlsKey) } : undefined;
  const where = resolveCluster(o);
  const rangeMap = loadRangeMap(where.placement);
  const nodeId = `gateway-${process.pid}`;
  const logger = createLogger({ service: 'gateway', nodeId, dc: o.dc, level: o.logLevel });
  const bus = await connectBus(where.natsUrl, { nodeId, dc: o.dc, cluster: where.cluster, natsCreds: where.natsCreds });
  const client = new SynodClient(bus, rangeMap, { timeoutMs: 3_000, outcomeLookupMs: 10_000 });
  const gw = buildGateway({
    client,
    tokens,
    insecure: o.insecure,
    picturePublic: o.picturePublic,
    bodyLimitBytes: o.bodyLimitBytes,
    rateLimitPerSec: o.rateLimitPerSec,
    rateLimitBurst: o.rateLimitBurst,
    maxInFlight: o.maxInFlight,
    readyWindowMs: o.readyWindowMs,
    logger,
    ...(https ? { https } : {}),
  });
  addMetrics(gw, bus.metrics);
  addPicture(gw, client);
  const address = await gw.app.listen({ host: o.host, port: o.port });
  // The one stdout line: launchers and tests read the address from it.
  process.stdout.write(`${JSON.stringify({ listening: address, tls: https !== undefined, auth: tokens ? 'bearer' : 'none' })}\n`);
  // Resolves once stopped, so `synod gateway` ends (exit 0) only after the drain.
  await new Promise<void>((resolve, reject) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'stopping: draining requests in flight');
      gw.close()
        .then(() => bus.close())
        .then(resolve, reject);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
