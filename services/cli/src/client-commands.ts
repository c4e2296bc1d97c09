import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { SynodClient, type TransactionResult, type TxnStatus } from '@synod/client';
import { SynodError, type MessageBody } from '@synod/codec';
import { booleanFlag, loadConfig, nodeIdentity, parseFlags } from '@synod/config';
import type { Split } from '@synod/placement';
import { loadRangeMap } from '@synod/spanserver';
import { connectBus, type Bus } from '@synod/transport';
import type { ClusterFile } from './cluster-launch.js';

const CONNECT_OPTIONS = `Connection options:
  --data-dir <dir>     a cluster started by 'synod up' (reads <dir>/cluster.json), default .synod
  --nats-url <url>     or name the NATS server …
  --placement <file>   … and the range map file directly
  --dc <dc>            this client's DC (follower reads prefer it), default dc-a
  --cluster <name>     subject prefix, default synod`;

const COMMIT_OUTCOME = `A commit that gets no answer is resent with the same transaction id (commits are idempotent
per id), then its outcome is looked up at the split's leader for up to --outcome-wait-ms:
  resolvedBy "reply"   the commit was answered
  resolvedBy "retry"   a resend was answered   (stderr: commit timed out; resent with the same transaction id: committed at <ts>)
  resolvedBy "status"  a status lookup said so (stderr: commit timed out; resolved by status lookup: committed at <ts>)
An outcome still undecided exits 1 with TIMEOUT, naming the transaction id: look it up
later with 'synod txn status <txnId> --split <split>'.

Options:
  --outcome-wait-ms <ms>  how long to look up an unanswered commit's outcome, default 30000
  --json                  machine output only: the JSON line, no note on stderr`;

const TXN_STATUS_HELP = `synod txn status <txnId> (--key <key> | --split <id>) [--wait-ms <ms>] [--json]
  — the outcome of a transaction, asked of the leader of its split

Prints one of:
  committed at <ts>
  aborted: <reason>
  pending              (not decided yet: ask again)
With --json: {"txnId", "split", "state": "committed"|"aborted"|"pending", "ts"?, "reason"?}.
Exit 0 for any of the three; 1 (with the error code) when no leader answered.

  --key <key>      a key the transaction wrote or read: names its split
  --split <id>     or the split's id (what an unknown-outcome error names)
  --wait-ms <ms>   how long the leader may wait for an undecided transaction, 0..60000, default 1500

Outcomes are kept 10 minutes. The leader decides an id it does not know aborted, so that a
late commit with that id can never win: ask the split the transaction ran in, or the
answer is aborted (there).`;

export const CLIENT_HELP = {
  status: `synod status — groups, leaders, DCs, t_safe lag and ε of every spanserver, and per split the locks held and the prepared (2PC, undecided) transactions

Columns per node and split: applied log index, t_safe lag, locks (keys locked by transactions
at that replica: only a leader holds locks), prepared (transactions prepared in that split and
not yet decided by their coordinator: replicated, so every replica shows them).

${CONNECT_OPTIONS}`,
  put: `synod put <key> <value> [--json] — write one key in a read-write transaction; prints the commit timestamp and the transaction id\n\nValues are parsed as JSON when they parse (42, true, {"a":1}), else kept as strings.\nPrints {"ok":true, "ts":<commit µs>, "txnId":<id>, "resolvedBy":"reply"|"retry"|"status"}.\n\n${COMMIT_OUTCOME}\n\n${CONNECT_OPTIONS}`,
  get: `synod get <key>… [--stale-ms <ms> | --ts <µs>] — a lock-free read of one or more keys at one timestamp (strong by default)

Keys in different splits are read at the same timestamp: the first key's split picks it (a strong
read at its leader), the others are read at it, so the lines are one consistent snapshot.
Prints one line per key: {"key", "value", "found", "ts"}, every line with the same ts.

${CONNECT_OPTIONS}`,
  scan: `synod scan <start> <end> [--limit <n>] [--ts <µs>] — keys in [start, end) at one timestamp ('' = open end)\n\n${CONNECT_OPTIONS}`,
  txn: `synod txn <op>… [--json] — run one read-write transaction of several operations, atomically
${TXN_STATUS_HELP.split('\n')[0]}

Operations: get:<key>  put:<key>=<value>  del:<key>  add:<key>=<n> (read, add n, write)
Example:    synod txn add:bank/0000=-5 add:bank/0001=5
            synod txn put:a=1 put:z=2      (two splits: one atomic commit at one timestamp)
Keys may be in several splits: the transaction then commits by two-phase commit. Its
coordinator is the first split written (in split id order); the others prepare and vote to it,
and its outcome lives there ('synod txn status <txnId> --key <a key it wrote in that split>').
Prints {"ok":true, "reads", "ts", "attempts", "txnId", "resolvedBy"}.

${COMMIT_OUTCOME}

synod txn status: see 'synod txn status --help'.

${CONNECT_OPTIONS}`,
  txnStatus: `${TXN_STATUS_HELP}\n\n${CONNECT_OPTIONS}`,
};

export const connectOptions = z.object({
  dataDir: z.string().default('.synod'),
  natsUrl: z.string().optional(),
  placement: z.string().optional(),
  dc: nodeIdentity.dc.default('dc-a'),
  cluster: z.string().optional(),
  staleMs: z.coerce.number().nonnegative().optional(),
  ts: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().positive().max(10_000).default(100),
});

/** put and txn: they commit. */
const commitOptions = connectOptions.extend({
  json: booleanFlag.default(false),
  outcomeWaitMs: z.coerce.number().int().nonnegative().max(600_000).default(30_000),
});

const txnStatusOptions = connectOptions.extend({
  json: booleanFlag.default(false),
  key: z.string().optional(),
  split: z.string().optional(),
  waitMs: z.coerce.number().int().nonnegative().max(60_000).default(1_500),
});

export type ConnectOptions = z.infer<typeof connectOptions>;
/** Reads a command's options from its flags (and SYNOD_* env). */
export type LoadOptions<T extends ConnectOptions> = (argv: string[]) => T;
const loadWith =
  <S extends typeof connectOptions | typeof commitOptions | typeof txnStatusOptions>(schema: S): LoadOptions<z.infer<S>> =>
  (argv) =>
    loadConfig(schema, { argv: withoutJsonWord(argv) }) as z.infer<S>;

/**
 * A bare `--json` would take the next word as its value (`--json put:a=1`); it is a switch, so
 * it is read as `--json=true` wherever it stands.
 */
const withoutJsonWord = (argv: string[]) => argv.map((a) => (a === '--json' ? '--json=true' : a));

/**
 * Where the cluster is: explicit flags first, then the cluster file `synod up` wrote under
 * `dataDir`, then the defaults.
 */
export function resolveCluster(opts: { dataDir: string; natsUrl?: string | undefined; cluster?: string | undefined; placement?: string | undefined }): { natsUrl: string; cluster: string; placement?: string | undefined; placementService: boolean; creds?: string | undefined } {
  const file = join(opts.dataDir, 'cluster.json');
  const info: Partial<ClusterFile> = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as ClusterFile) : {};
  return {
    natsUrl: opts.natsUrl ?? info.natsUrl ?? 'nats://127.0.0.1:4222',
    cluster: opts.cluster ?? info.cluster ?? 'synod',
    placement: opts.placement ?? info.placement,
    placementService: (info.placementNodes?.length ?? 0) > 0,
    // Only for the cluster the file describes: explicit --nats-url names another.
    creds: opts.natsUrl === undefined ? info.creds : undefined,
  };
}

/**
 * The NATS credential a tool connects with to a cluster `synod up --nats-auth users` started:
 * `client` for reads, transactions and placement requests, `operator` for chaos
 * (docs/transport.md "Credentials"); none for a cluster without credentials.
 */
export function toolCredentials(where: { creds?: string | undefined }, user: 'client' | 'operator'): { natsCreds?: string } {
  return where.creds ? { natsCreds: join(where.creds, `${user}.json`) } : {};
}

/**
 * A tool's bus to the cluster `where` names, with the credential of `user`. A cluster that is not
 * there is one line for the user (UNAVAILABLE with the hint), not the NATS client's stack.
 */
export async function connectToolBus(where: { natsUrl: string; cluster: string; creds?: string | undefined }, nodeId: string, dc: string, user: 'client' | 'operator'): Promise<Bus> {
  try {
    return await connectBus(where.natsUrl, { nodeId, dc, cluster: where.cluster, ...toolCredentials(where, user) });
  } catch (err) {
    throw new SynodError('UNAVAILABLE', `cannot reach NATS at ${where.natsUrl} (${err instanceof Error ? err.message : String(err)}): is the cluster running ('synod up', or --nats-url)?`);
  }
}

export interface Connected<T extends ConnectOptions> {
  client: SynodClient;
  bus: Bus;
  opts: T;
  words: string[];
}

async function connectClient<T extends ConnectOptions>(argv: string[], load: LoadOptions<T>): Promise<Connected<T>> {
  const opts = load(argv);
  const where = resolveCluster(opts);
  const { natsUrl, placement, cluster, placementService } = where;
  if (!placement) throw new SynodError('UNAVAILABLE', `no cluster found: start one with 'synod up' (looked for ${join(opts.dataDir, 'cluster.json')}) or pass --nats-url and --placement`);
  const rangeMap = loadRangeMap(placement);
  const bus = await connectToolBus(where, `cli-${process.pid}`, opts.dc, 'client');
  const outcomeLookupMs = 'outcomeWaitMs' in opts && typeof opts.outcomeWaitMs === 'number' ? opts.outcomeWaitMs : undefined;
  const client = new SynodClient(bus, rangeMap, { timeoutMs: 3_000, ...(outcomeLookupMs !== undefined ? { outcomeLookupMs } : {}) });
  // placement.json is the map the cluster started with; a running placement service has the
  // current one (a failed refresh keeps the file's, and stale routes refresh again anyway).
  if (placementService) await client.refreshMap();
  return { client, bus, opts, words: parseFlags(withoutJsonWord(argv)).positional };
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

/**
 * A commit whose outcome stayed unknown (TIMEOUT with hint `txn`) as a message that says how to
 * learn it later.
 */
export function explainUnknownOutcome(err: unknown): unknown {
  if (!(err instanceof SynodError) || err.code !== 'TIMEOUT' || typeof err.hint?.txn !== 'string') return err;
  const where = typeof err.hint.split === 'string' ? ` --split ${err.hint.split}` : ' --key <a key it wrote>';
  return new SynodError(err.code, `${err.message}\nlook it up with: synod txn status ${err.hint.txn}${where}`, err.hint);
}

export async function withClient<T extends ConnectOptions>(argv: string[], fn: (c: Connected<T>) => Promise<void>, load: LoadOptions<T>): Promise<void> {
  const c = await connectClient(argv, load);
  try {
    await fn(c);
  } catch (err) {
    throw explainUnknownOutcome(explainLimitError(err));
  } finally {
    await c.bus.close();
  }
}

/**
 * How a commit's outcome was learned, when it took more than one answer: the note printed to
 * stderr (and carried as `note` in the JSON line). Undefined for a commit answered at once.
 */
export function commitNote(r: Pick<TransactionResult<unknown>, 'ts' | 'resolvedBy'>): string | undefined {
  if (r.resolvedBy === 'status') return `commit timed out; resolved by status lookup: committed at ${r.ts}`;
  if (r.resolvedBy === 'retry') return `commit timed out; resent with the same transaction id: committed at ${r.ts}`;
  return undefined;
}

/** Prints a committed transaction's JSON line, and its note on stderr unless --json. */
function printCommitted(json: boolean, out: Record<string, unknown>, r: TransactionResult<unknown>): void {
  const note = commitNote(r);
  print({ ...out, ts: r.ts, txnId: r.txnId, resolvedBy: r.resolvedBy, ...(note ? { note } : {}) });
  if (note && !json) process.stderr.write(`${note}\n`);
}

/** One line per outcome, as `synod txn status` prints it without --json. */
export function renderTxnStatus(s: TxnStatus): string {
  if (s.state === 'committed') return `committed at ${s.ts}`;
  if (s.state === 'aborted') return s.reason ? `aborted: ${s.reason}` : 'aborted';
  return 'pending';
}

/** The split `synod txn status` asks: the one holding --key, or the one named by --split. */
export function statusSplit(splits: readonly Split[], splitFor: (key: string) => Split, opts: { key?: string | undefined; split?: string | undefined }): Split {
  if (opts.key !== undefined && opts.split !== undefined) throw new SynodError('INVALID_ARGUMENT', 'give --key or --split, not both');
  if (opts.key !== undefined) return splitFor(opts.key);
  if (opts.split === undefined) throw new SynodError('INVALID_ARGUMENT', 'missing --key <key> or --split <id>: the transaction\'s split (see synod txn status --help)');
  const s = splits.find((x) => x.id === opts.split);
  if (!s) throw new SynodError('INVALID_ARGUMENT', `no split ${JSON.stringify(opts.split)} (splits: ${splits.map((x) => x.id).join(', ')})`);
  return s;
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
  const lines = ['node  dc     ε(ms)  serving  split  role      leader  applied  t_safe lag(ms)  locks  prepared'];
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
        `${r.node.padEnd(5)} ${r.dc.padEnd(6)} ${(s.tt.epsilonUs / 1000).toFixed(2).padStart(5)}  ${String(s.tt.serving).padEnd(8)} ${g.id.padEnd(6)} ${(g.isLeader ? 'LEADER' : 'follower').padEnd(9)} ${(g.leader ?? '?').padEnd(7)} ${String(g.appliedUpTo).padStart(7)}  ${lag.padStart(14)}  ${String(g.locksHeld ?? '—').padStart(5)}  ${String(g.prepared ?? '—').padStart(8)}`,
      );
    }
  }
  return lines.join('\n');
}

const loadConnect = loadWith(connectOptions);
const loadCommit = loadWith(commitOptions);
const loadTxnStatus = loadWith(txnStatusOptions);

export async function runStatus(argv: string[]): Promise<void> {
  await withClient(argv, async ({ client, bus }) => void print(renderStatus(await collectStatus(bus, client.rangeMap.nodes()))), loadConnect);
}

export async function runPut(argv: string[]): Promise<void> {
  await withClient(
    argv,
    async ({ client, words, opts }) => {
      const key = need(words[0], '<key>');
      const value = parseValue(need(words[1], '<value>'));
      const r = await client.transaction(async (tx) => tx.put(key, value));
      printCommitted(opts.json, { ok: true }, r);
    },
    loadCommit,
  );
}

/**
 * `synod get <key>…`: one lock-free read of every key at one timestamp (across splits: the first
 * split picks it, the others read at it). One line per key, each with that timestamp.
 */
export async function runGet(argv: string[]): Promise<void> {
  await withClient(argv, async ({ client, words, opts }) => {
    need(words[0], '<key>');
    const keys = [...new Set(words)];
    const r = await client.read(keys, { ...(opts.staleMs !== undefined ? { maxStalenessMs: opts.staleMs } : {}), ...(opts.ts ? { ts: opts.ts } : {}) });
    for (const line of getLines(keys, r)) print(line);
  }, loadConnect);
}

/** What `synod get` prints for a read of `keys`: one line per key, all at the read's timestamp. */
export function getLines(keys: readonly string[], r: { values: ReadonlyMap<string, unknown>; ts: number }): Array<{ key: string; value: unknown; found: boolean; ts: number }> {
  return keys.map((key) => ({ key, value: r.values.get(key) ?? null, found: r.values.has(key), ts: r.ts }));
}

export async function runScan(argv: string[]): Promise<void> {
  await withClient(argv, async ({ client, words, opts }) => {
    const r = await client.scan(words[0] ?? '', words[1] ?? '', { limit: opts.limit, ...(opts.ts ? { ts: opts.ts } : {}) });
    for (const row of r.rows) print(row);
    print({ rows: r.rows.length, ts: r.ts });
  }, loadConnect);
}

/** `synod txn status …` or `synod txn <op>…`. */
export async function runTxn(argv: string[]): Promise<void> {
  if (parseFlags(withoutJsonWord(argv)).positional[0] === 'status') return runTxnStatus(argv);
  await withClient(argv, async ({ client, words, opts }) => {
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
    printCommitted(opts.json, { ok: true, reads: r.result, attempts: r.attempts }, r);
  }, loadCommit);
}

export async function runTxnStatus(argv: string[]): Promise<void> {
  await withClient(
    argv,
    async ({ client, words, opts }) => {
      const txnId = need(words[1], '<txnId> (see synod txn status --help)');
      if (words[2] !== undefined) throw new SynodError('INVALID_ARGUMENT', `unexpected ${JSON.stringify(words[2])}: synod txn status takes one <txnId>`);
      const split = statusSplit(client.rangeMap.all(), (k) => client.rangeMap.splitFor(k), opts);
      const s = await client.txnStatus(split, txnId, { waitMs: opts.waitMs });
      print(opts.json ? { txnId, split: split.id, ...s } : renderTxnStatus(s));
    },
    loadTxnStatus,
  );
}
