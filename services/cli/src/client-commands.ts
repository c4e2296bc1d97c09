import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { SynodClient } from '@synod/client';
import { SynodError, type MessageBody } from '@synod/codec';
import { loadConfig, nodeIdentity, parseFlags } from '@synod/config';
import { loadRangeMap } from '@synod/spanserver';
import { connectBus, type Bus } from '@synod/transport';
import type { ClusterFile } from './cluster-launch.js';

const CONNECT_OPTIONS = `Connection options:
  --data-dir <dir>     a cluster started by 'synod up' (reads <dir>/cluster.json), default .synod
  --nats-url <url>     or name the NATS server …
  --placement <file>   … and the range map file directly
  --dc <dc>            this client's DC (follower reads prefer it), default dc-a
  --cluster <name>     subject prefix, default synod`;

export const CLIENT_HELP = {
  status: `synod status — groups, leaders, DCs, t_safe lag and ε of every spanserver\n\n${CONNECT_OPTIONS}`,
  put: `synod put <key> <value> — write one key in a read-write transaction; prints the commit timestamp\n\nValues are parsed as JSON when they parse (42, true, {"a":1}), else kept as strings.\n\n${CONNECT_OPTIONS}`,
  get: `synod get <key> [--stale-ms <ms> | --ts <µs>] — a lock-free read (strong by default)\n\n${CONNECT_OPTIONS}`,
  scan: `synod scan <start> <end> [--limit <n>] [--ts <µs>] — keys in [start, end) at one timestamp ('' = open end)\n\n${CONNECT_OPTIONS}`,
  txn: `synod txn <op>… — run one read-write transaction of several operations, atomically

Operations: get:<key>  put:<key>=<value>  del:<key>  add:<key>=<n> (read, add n, write)
Example:    synod txn add:bank/0000=-5 add:bank/0001=5
All keys must be in one split (multi-split transactions are not built yet).

${CONNECT_OPTIONS}`,
};

const connectOptions = z.object({
  dataDir: z.string().default('.synod'),
  natsUrl: z.string().optional(),
  placement: z.string().optional(),
  dc: nodeIdentity.dc.default('dc-a'),
  cluster: z.string().optional(),
  staleMs: z.coerce.number().nonnegative().optional(),
  ts: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().positive().max(10_000).default(100),
});

/**
 * Where the cluster is: explicit flags first, then the cluster file `synod up` wrote under
 * `dataDir`, then the defaults.
 */
export function resolveCluster(opts: { dataDir: string; natsUrl?: string | undefined; cluster?: string | undefined; placement?: string | undefined }): { natsUrl: string; cluster: string; placement?: string | undefined } {
  const file = join(opts.dataDir, 'cluster.json');
  const info: Partial<ClusterFile> = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as ClusterFile) : {};
  return { natsUrl: opts.natsUrl ?? info.natsUrl ?? 'nats://127.0.0.1:4222', cluster: opts.cluster ?? info.cluster ?? 'synod', placement: opts.placement ?? info.placement };
}

async function connectClient(argv: string[]): Promise<{ client: SynodClient; bus: Bus; opts: z.infer<typeof connectOptions>; words: string[] }> {
  const opts = loadConfig(connectOptions, { argv });
  const { natsUrl, placement, cluster } = resolveCluster(opts);
  if (!placement) throw new SynodError('UNAVAILABLE', `no cluster found: start one with 'synod up' (looked for ${join(opts.dataDir, 'cluster.json')}) or pass --nats-url and --placement`);
  const bus = await connectBus(natsUrl, { nodeId: `cli-${process.pid}`, dc: opts.dc, cluster });
  return { client: new SynodClient(bus, loadRangeMap(placement), { timeoutMs: 3_000 }), bus, opts, words: parseFlags(argv).positional };
}

const parseValue = (s: string): unknown => {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
};
const print = (o: unknown) => process.stdout.write((typeof o === 'string' ? o : JSON.stringify(o)) + '\n');
const need = (s: string | undefined, what: string) => {
  if (s === undefined) throw new SynodError('INVALID_ARGUMENT', `missing ${what}`);
  return s;
};

const LIMIT_WHAT: Record<string, string> = { KEY_TOO_LARGE: 'key too large', VALUE_TOO_LARGE: 'value too large', TXN_TOO_LARGE: 'transaction too large' };
const human = (n: number) => {
  const [unit, div] = n >= 1 << 20 ? ['MiB', 1 << 20] : n >= 1024 ? ['KiB', 1024] : ['bytes', 1];
  const x = n / div;
  return `${Number.isInteger(x) ? x : x.toFixed(2)} ${unit}`;
};

/**
 * A request over a documented maximum (KEY_TOO_LARGE, VALUE_TOO_LARGE, TXN_TOO_LARGE, refused by
 * the client before sending or by the server) as a message that says what to change.
 */
export function explainLimitError(err: unknown): unknown {
  if (!(err instanceof SynodError) || !(err.code in LIMIT_WHAT)) return err;
  const limit = Number(err.hint?.limit);
  const max = Number.isFinite(limit) ? `, the maximum is ${/bytes/.test(err.message) ? human(limit) : limit}` : '';
  return new SynodError(err.code, `${LIMIT_WHAT[err.code]}${max} (${err.message}). Nothing was written; the maxima are in docs/limits.md`, err.hint);
}

async function withClient(argv: string[], fn: (c: Awaited<ReturnType<typeof connectClient>>) => Promise<void>): Promise<void> {
  const c = await connectClient(argv);
  try {
    await fn(c);
  } catch (err) {
    throw explainLimitError(err);
  } finally {
    await c.bus.close();
  }
}

/** Asks every spanserver for its status; unreachable ones are reported as such. */
export async function collectStatus(bus: Bus, nodes: Array<{ id: string; dc: string }>): Promise<Array<{ node: string; dc: string; status?: MessageBody<'node.status.reply'>; error?: string }>> {
  return Promise.all(
    nodes.map(async (n) => {
      try {
        const r = await bus.request(n.id, 'node.status', {}, { timeoutMs: 1_000 });
        return { node: n.id, dc: n.dc, status: r.body as MessageBody<'node.status.reply'> };
      } catch (err) {
        return { node: n.id, dc: n.dc, error: err instanceof SynodError ? err.code : String(err) };
      }
    }),
  );
}

export function renderStatus(rows: Awaited<ReturnType<typeof collectStatus>>): string {
  const lines = ['node  dc     ε(ms)  serving  split  role      leader  applied  t_safe lag(ms)'];
  const nowUs = Math.round((performance.timeOrigin + performance.now()) * 1000);
  for (const r of rows) {
    if (!r.status) {
      lines.push(`${r.node.padEnd(5)} ${r.dc.padEnd(6)} ${'—'.padStart(5)}  ${('DOWN ' + r.error).padEnd(8)}`);
      continue;
    }
    const s = r.status;
    for (const g of s.groups) {
      const lag = g.tSafe > 0 ? ((nowUs - g.tSafe) / 1000).toFixed(0) : '—';
      lines.push(
        `${r.node.padEnd(5)} ${r.dc.padEnd(6)} ${(s.tt.epsilonUs / 1000).toFixed(2).padStart(5)}  ${String(s.tt.serving).padEnd(8)} ${g.id.padEnd(6)} ${(g.isLeader ? 'LEADER' : 'follower').padEnd(9)} ${(g.leader ?? '?').padEnd(7)} ${String(g.appliedUpTo).padStart(7)}  ${lag.padStart(8)}`,
      );
    }
  }
  return lines.join('\n');
}

export async function runStatus(argv: string[]): Promise<void> {
  await withClient(argv, async ({ client, bus }) => void print(renderStatus(await collectStatus(bus, client.rangeMap.nodes()))));
}

export async function runPut(argv: string[]): Promise<void> {
  await withClient(argv, async ({ client, words }) => {
    const ts = await client.put(need(words[0], '<key>'), parseValue(need(words[1], '<value>')));
    print({ ok: true, ts });
  });
}

export async function runGet(argv: string[]): Promise<void> {
  await withClient(argv, async ({ client, words, opts }) => {
    const key = need(words[0], '<key>');
    const r = await client.read([key], { ...(opts.staleMs !== undefined ? { maxStalenessMs: opts.staleMs } : {}), ...(opts.ts ? { ts: opts.ts } : {}) });
    print({ key, value: r.values.get(key) ?? null, found: r.values.has(key), ts: r.ts });
  });
}

export async function runScan(argv: string[]): Promise<void> {
  await withClient(argv, async ({ client, words, opts }) => {
    const r = await client.scan(words[0] ?? '', words[1] ?? '', { limit: opts.limit, ...(opts.ts ? { ts: opts.ts } : {}) });
    for (const row of r.rows) print(row);
    print({ rows: r.rows.length, ts: r.ts });
  });
}

export async function runTxn(argv: string[]): Promise<void> {
  await withClient(argv, async ({ client, words }) => {
    if (words.length === 0) throw new SynodError('INVALID_ARGUMENT', 'no operations given (see synod txn --help)');
    const ops = words.map((w) => {
      const m = /^(get|put|del|add):([^=]+)(?:=(.*))?$/.exec(w);
      if (!m) throw new SynodError('INVALID_ARGUMENT', `bad operation ${JSON.stringify(w)} (see synod txn --help)`);
      const [, op, key, arg] = m;
      if ((op === 'put' || op === 'add') && arg === undefined) throw new SynodError('INVALID_ARGUMENT', `${op}:${key} needs =<value>`);
      if (op === 'add' && !Number.isFinite(Number(arg))) throw new SynodError('INVALID_ARGUMENT', `add:${key} needs a number`);
      return { op: op!, key: key!, arg };
    });
    const r = await client.transaction(async (tx) => {
      const reads: Record<string, unknown> = {};
      for (const { op, key, arg } of ops) {
        if (op === 'get') reads[key] = (await tx.get(key)) ?? null;
        else if (op === 'put') tx.put(key, parseValue(arg!));
        else if (op === 'del') tx.delete(key);
        else tx.put(key, Number((await tx.get(key)) ?? 0) + Number(arg));
      }
      return reads;
    });
    print({ ok: true, reads: r.result, ts: r.ts, attempts: r.attempts });
  });
}
