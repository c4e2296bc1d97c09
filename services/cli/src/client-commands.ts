import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { SynodClient, type TransactionResult, type TxnStatus } from '@synod/client';
import { SynodError, type MessageBody } from '@synod/codec';
import { booleanFlag, loadConfig, nodeIdentity, parseFlags } from '@synod/config';
import { RangeMap, type Split } from '@synod/placement';
import { connectBus, type Bus } from '@synod/transport';
import type { ClusterFile } from './cluster-launch.js';
import { locateDataDir, readJsonFile } from './cluster-context.js';
import { fieldInfo } from './command-line.js';
import { DataDirError } from './exit-codes.js';
import { checkKey, valueArg, valueType } from './value-input.js';

const COMMIT_OUTCOME = `A commit that gets no answer is resent with the same transaction id (commits are idempotent
per id), then its outcome is looked up at the split's leader for up to --outcome-wait-ms:
  resolvedBy "reply"   the commit was answered
  resolvedBy "retry"   a resend was answered   (note: commit timed out; resent with the same transaction id: committed at <ts>)
  resolvedBy "status"  a status lookup said so (note: commit timed out; resolved by status lookup: committed at <ts>)
An outcome still undecided exits 5 with TIMEOUT, naming the transaction id: look it up
later with 'synod txn status <txnId> --split <split>'.`;

const VALUES = `Values: a word is stored as JSON when it parses as JSON (42, true, {"a":1}, "quoted"), else as
a string; --json insists on JSON, --string stores the word as text. @<path> reads the value from a
file, - from stdin, @@… is a literal @…. A number JSON cannot hold exactly here (an integer beyond
2^53 − 1, 1e999) is refused, not rounded: store it with --string.`;

const FINDING = `The cluster: --data-dir (or SYNOD_DATA_DIR), else ./.synod, else the one the last 'synod up'
remembered ('synod up' prints it). Exit codes: see 'synod --help' and docs/cli.md.`;

const TXN_STATUS_DETAILS = `Prints one of:
  committed at <ts>
  aborted: <reason>
  pending              (not decided yet: ask again)
With -o json: {"txnId", "split", "state": "committed"|"aborted"|"pending", "ts"?, "reason"?}.
Exit 0 for any of the three; 4 (UNAVAILABLE) when no leader answered.

Outcomes are kept 10 minutes. The leader decides an id it does not know aborted, so that a
late commit with that id can never win: ask the split the transaction ran in, or the
answer is aborted (there).`;

/** Summaries and details of the client commands (their options are generated from the schemas below). */
export const CLIENT_HELP = {
  status: {
    summary: 'groups, leaders, DCs, t_safe lag and ε of every spanserver; locks and prepared (2PC) transactions per split',
    details: `Columns per node and split: applied log index, t_safe lag, locks (keys locked by transactions
at that replica: only a leader holds locks), prepared (transactions prepared in that split and
not yet decided by their coordinator: replicated, so every replica shows them).
-o json: one line {"nodes": [{"node", "dc", "status": <node.status reply>} | {"node", "dc", "error"}]}.

${FINDING}`,
  },
  put: {
    summary: 'write one key in a read-write transaction',
    details: `Prints {"ok":true, "ts":<commit µs>, "txnId":<id>, "resolvedBy":"reply"|"retry"|"status"}
(-o table: committed at <ts> (txn <id>)).

${VALUES}

${COMMIT_OUTCOME}

Examples:  synod put user/1 '{"name":"ada"}'
           synod put big 12345678901234567890 --string
           synod put blob @./photo.json          cat v.json | synod put k - --json

${FINDING}`,
  },
  del: {
    summary: 'delete one or more keys in one read-write transaction',
    details: `Prints {"ok":true, "ts", "txnId", "resolvedBy", "deleted": <number of keys>}. Deleting a key that
does not exist is not an error. Keys in several splits are deleted atomically (two-phase commit).

${COMMIT_OUTCOME}

${FINDING}`,
  },
  get: {
    summary: 'a lock-free read of one or more keys at one timestamp (strong by default)',
    details: `Keys in different splits are read at the same timestamp: the first key's split picks it (a strong
read at its leader), the others are read at it, so the lines are one consistent snapshot.
-o json (default): one line per key {"key", "value", "found", "ts"}, every line with the same ts.
-o table: KEY and VALUE columns, "(not found)" for a missing key, then the timestamp.
--stale-ms <ms>: a bounded-staleness read any up-to-date replica serves; --ts <µs>: a snapshot read.

${FINDING}`,
  },
  scan: {
    summary: "keys in [start, end) at one timestamp ('' = open end)",
    details: `-o json (default): one line per row {"key", "value"}, then {"rows": <n>, "ts": <µs>, "more": <bool>}.
-o table: KEY and VALUE columns, then "<n> rows at <ts>".

${FINDING}`,
  },
  txn: {
    summary: 'run one read-write transaction of several operations, atomically (across splits too)',
    details: `Operations: get:<key>  put:<key>=<value>  del:<key>  add:<key>=<n> (read, add n, write)
Example:    synod txn add:bank/0000=-5 add:bank/0001=5
            synod txn put:a=1 put:z=2      (two splits: one atomic commit at one timestamp)
Keys may be in several splits: the transaction then commits by two-phase commit. Its
coordinator is the first split written (in split id order); the others prepare and vote to it,
and its outcome lives there ('synod txn status <txnId> --key <a key it wrote in that split>').
add needs the key absent (counts as 0) or a number, and a result JSON holds exactly; otherwise
the transaction aborts with INVALID_ARGUMENT and writes nothing.
Prints {"ok":true, "reads", "ts", "attempts", "txnId", "resolvedBy"}.

put values are typed as for 'synod put' (--json, --string, @file).

${COMMIT_OUTCOME}

'synod txn status <txnId>': the outcome of a transaction (see 'synod txn status --help').

${FINDING}`,
  },
  txnStatus: {
    summary: 'the outcome of a transaction, asked of the leader of its split',
    details: `${TXN_STATUS_DETAILS}

${FINDING}`,
  },
};

const output = (d: 'json' | 'table') => z.enum(['json', 'table']).default(d).describe('output format: json (one JSON document per line) or table');

/** The flags every command that talks to a cluster has. */
export const connectOptions = z.object({
  dataDir: z.string().optional().describe('the cluster started by synod up (reads <dir>/cluster.json)'),
  natsUrl: z.string().optional().describe('or name the NATS server (with --placement)'),
  placement: z.string().optional().describe('… and the range map file'),
  dc: nodeIdentity.dc.optional().describe("this client's DC: follower reads prefer it (default: the cluster's first DC)"),
  cluster: z.string().optional().describe('subject prefix (default: the cluster file\'s, else synod)'),
  output: output('json'),
});

export const statusOptions = connectOptions.extend({ output: output('table') });

export const getOptions = connectOptions.extend({
  staleMs: z.coerce.number().int().nonnegative().max(3_600_000).optional().describe('bounded staleness: read at most this old, at any up-to-date replica'),
  ts: z.coerce.number().int().positive().optional().describe('a snapshot read at this timestamp (µs)'),
});

export const scanOptions = connectOptions.extend({
  ts: z.coerce.number().int().positive().optional().describe('a snapshot read at this timestamp (µs)'),
  limit: z.coerce.number().int().positive().max(10_000).default(100).describe('at most this many rows, 1..10000'),
});

/** put, del and txn: they commit. */
export const commitOptions = connectOptions.extend({
  outcomeWaitMs: z.coerce.number().int().nonnegative().max(600_000).default(30_000).describe("how long to look up an unanswered commit's outcome"),
  json: booleanFlag.default(false).describe('values must be JSON'),
  string: booleanFlag.default(false).describe('values are stored as text, as given'),
});

export const txnStatusOptions = connectOptions.extend({
  key: z.string().optional().describe('a key the transaction wrote or read: names its split'),
  split: z.string().optional().describe("or the split's id (what an unknown-outcome error names)"),
  waitMs: z.coerce.number().int().nonnegative().max(60_000).default(1_500).describe('how long the leader may wait for an undecided transaction, 0..60000'),
  output: output('table'),
});

export type ConnectOptions = z.infer<typeof connectOptions>;
/** Reads a command's options from its flags (and SYNOD_* env). */
export type LoadOptions<T extends ConnectOptions> = ((argv: string[]) => T) & { schema?: z.ZodObject };

/**
 * A bare boolean flag is a switch: `--json put:a=1` must not take `put:a=1` as its value. The
 * command line passes `--flag=true`; this keeps direct callers (tests, scripts) right too.
 */
export function switchesAsTrue(schema: z.ZodObject, argv: readonly string[]): string[] {
  const switches = new Set(Object.entries(schema.shape).filter(([, f]) => fieldInfo(f as z.ZodType).boolean).map(([k]) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`));
  return argv.map((a) => (switches.has(a) ? `${a}=true` : a));
}

export const loadWith = <S extends z.ZodObject>(schema: S): LoadOptions<z.infer<S> & ConnectOptions> =>
  Object.assign((argv: string[]) => loadConfig(schema, { argv: switchesAsTrue(schema, argv) }) as z.infer<S> & ConnectOptions, { schema });

/** A range map file, read for a client: an unreadable or corrupt one is a data-directory error. */
function readRangeMap(file: string): RangeMap {
  const text = readJsonFile(file, 'the placement file');
  try {
    return RangeMap.fromJson(JSON.stringify(text), `placement file ${file}`);
  } catch (err) {
    throw new DataDirError(`the placement file ${file} is not a valid range map: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }
}

const clusterFileSchema = z.object({
  natsUrl: z.string(),
  cluster: z.string(),
  placement: z.string(),
  placementNodes: z.array(z.object({ id: z.string(), dc: z.string() })).optional(),
  metrics: z.record(z.string(), z.string()).optional(),
  creds: z.string().optional(),
  natsUrls: z.record(z.string(), z.string()).optional(),
  /** A DcNetwork record (checked by DcNetwork.attach when used). */
  network: z.unknown().optional(),
});

/** The DCs and process names of the cluster a cluster file describes, for refusing names it does not have. */
export interface KnownNames {
  dcs: string[];
  nodes: string[];
}

function knownNames(info: z.infer<typeof clusterFileSchema>): KnownNames {
  const map = readRangeMap(info.placement);
  const dcs = new Set(map.nodes().map((n) => n.dc));
  const nodes = new Set([...map.nodes().map((n) => n.id), ...(info.placementNodes ?? []).map((n) => n.id), ...Object.keys(info.metrics ?? {})]);
  for (const p of info.placementNodes ?? []) dcs.add(p.dc);
  return { dcs: [...dcs].sort(), nodes: [...nodes].filter((n) => n !== 'nats-server').sort() };
}

/** Refuses a DC or node name the cluster does not have. */
export function checkName(kind: 'DC' | 'node', name: string, known: KnownNames | undefined, what: string): string {
  if (!known) return name;
  const list = kind === 'DC' ? known.dcs : known.nodes;
  if (!list.includes(name)) throw new SynodError('INVALID_ARGUMENT', `${what} ${JSON.stringify(name.slice(0, 64))} is not a ${kind} of this cluster (its ${kind}s: ${list.join(', ')})`);
  return name;
}

/**
 * Where the cluster is: explicit flags first, then the cluster file `synod up` wrote under
 * `dataDir`, then the defaults.
 */
export function resolveCluster(opts: { dataDir?: string | undefined; natsUrl?: string | undefined; cluster?: string | undefined; placement?: string | undefined }): {
  dataDir: string;
  natsUrl: string;
  cluster: string;
  placement?: string | undefined;
  placementService: boolean;
  creds?: string | undefined;
  /** With `synod up --netns`: each DC's nats-server. */
  natsUrls?: Record<string, string> | undefined;
  /** With `synod up --netns`: the network record, for `synod chaos --network`. */
  network?: unknown;
  /** The cluster's DCs and process names (read when asked); only for the cluster the file describes, not an explicit --nats-url. */
  known: () => KnownNames | undefined;
} {
  const dataDir = locateDataDir(opts.dataDir);
  const file = join(dataDir, 'cluster.json');
  let info: Partial<Omit<ClusterFile, 'network'>> & { network?: unknown } = {};
  let known: () => KnownNames | undefined = () => undefined;
  if (existsSync(file)) {
    const parsed = clusterFileSchema.safeParse(readJsonFile(file, 'the cluster file'));
    if (!parsed.success) throw new DataDirError(`the cluster file ${file} is not one 'synod up' wrote (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}): restart the cluster with 'synod up'`);
    info = parsed.data;
    const described = parsed.data;
    if (opts.natsUrl === undefined) known = () => knownNames(described);
  } else if (opts.dataDir !== undefined && opts.natsUrl === undefined) {
    throw new SynodError('UNAVAILABLE', `no cluster in ${dataDir} (no cluster.json): start one with 'synod up --data-dir ${dataDir}', or pass --nats-url and --placement`);
  }
  return {
    dataDir,
    natsUrl: opts.natsUrl ?? info.natsUrl ?? 'nats://127.0.0.1:4222',
    cluster: opts.cluster ?? info.cluster ?? 'synod',
    placement: opts.placement ?? info.placement,
    placementService: (info.placementNodes?.length ?? 0) > 0,
    // Only for the cluster the file describes: explicit --nats-url names another.
    creds: opts.natsUrl === undefined ? info.creds : undefined,
    natsUrls: opts.natsUrl === undefined ? info.natsUrls : undefined,
    network: info.network,
    known,
  };
}

/** The DCs and nodes of a range map, for refusing a name the cluster does not have. */
export function checkDc(dc: string, rangeMap: RangeMap, what = '--dc'): string {
  const dcs = [...new Set(rangeMap.nodes().map((n) => n.dc))];
  if (!dcs.includes(dc)) throw new SynodError('INVALID_ARGUMENT', `${what} ${JSON.stringify(dc)} is not a DC of this cluster (its DCs: ${dcs.join(', ')})`);
  return dc;
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
  const words = parseFlags(load.schema ? switchesAsTrue(load.schema, argv) : argv.map((a) => (a === '--json' ? '--json=true' : a))).positional;
  const where = resolveCluster(opts);
  const { placement, placementService } = where;
  if (!placement) throw new SynodError('UNAVAILABLE', `no cluster found: start one with 'synod up' (looked for ${join(where.dataDir, 'cluster.json')}) or pass --nats-url and --placement`);
  const rangeMap = readRangeMap(placement);
  const dc = opts.dc !== undefined ? checkDc(opts.dc, rangeMap) : (rangeMap.nodes()[0]?.dc ?? 'dc-a');
  // With one server per DC (up --netns) the client talks to its own DC's, as a process there would.
  const bus = await connectToolBus({ ...where, natsUrl: where.natsUrls?.[dc] ?? where.natsUrl }, `cli-${process.pid}`, dc, 'client');
  const outcomeLookupMs = 'outcomeWaitMs' in opts && typeof opts.outcomeWaitMs === 'number' ? opts.outcomeWaitMs : undefined;
  const client = new SynodClient(bus, rangeMap, { timeoutMs: 3_000, ...(outcomeLookupMs !== undefined ? { outcomeLookupMs } : {}) });
  // placement.json is the map the cluster started with; a running placement service has the
  // current one (a failed refresh keeps the file's, and stale routes refresh again anyway).
  if (placementService) await client.refreshMap();
  return { client, bus, opts, words };
}

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
  return new SynodError(err.code, `${err.message}; look it up with: synod txn status ${err.hint.txn}${where}`, err.hint);
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

/** Prints a committed transaction: its JSON line (-o json, the note inside), or a line and the note on stderr. */
function printCommitted(format: 'json' | 'table', out: Record<string, unknown>, r: TransactionResult<unknown>): void {
  const note = commitNote(r);
  if (format === 'json') {
    print({ ...out, ts: r.ts, txnId: r.txnId, resolvedBy: r.resolvedBy, ...(note ? { note } : {}) });
    return;
  }
  print(`committed at ${r.ts} (txn ${r.txnId})`);
  if (note) process.stderr.write(`${note}\n`);
}

/** Rows as aligned KEY / VALUE columns; values as JSON, at most 200 characters each. */
export function renderRows(rows: ReadonlyArray<{ key: string; value?: unknown; found?: boolean }>): string {
  const width = Math.min(40, Math.max(3, ...rows.map((r) => r.key.length)));
  const cell = (r: { value?: unknown; found?: boolean }) => {
    if (r.found === false) return '(not found)';
    const v = JSON.stringify(r.value) ?? 'null';
    return v.length > 200 ? `${v.slice(0, 200)}…` : v;
  };
  return [`${'KEY'.padEnd(width)}  VALUE`, ...rows.map((r) => `${r.key.padEnd(width)}  ${cell(r)}`)].join('\n');
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
      // A quiescent split's t_safe stands still until a request wakes it (docs/spanserver.md, "Quiescent splits").
      const lag = (g.tSafe > 0 ? ((nowUs - g.tSafe) / 1000).toFixed(0) : '—') + (g.quiet ? ' quiet' : '');
      lines.push(
        `${r.node.padEnd(5)} ${r.dc.padEnd(6)} ${(s.tt.epsilonUs / 1000).toFixed(2).padStart(5)}  ${String(s.tt.serving).padEnd(8)} ${g.id.padEnd(6)} ${(g.isLeader ? 'LEADER' : 'follower').padEnd(9)} ${(g.leader ?? '?').padEnd(7)} ${String(g.appliedUpTo).padStart(7)}  ${lag.padStart(14)}  ${String(g.locksHeld ?? '—').padStart(5)}  ${String(g.prepared ?? '—').padStart(8)}`,
      );
    }
  }
  return lines.join('\n');
}

const loadStatus = loadWith(statusOptions);
const loadGet = loadWith(getOptions);
const loadScan = loadWith(scanOptions);
const loadCommit = loadWith(commitOptions);
const loadTxnStatus = loadWith(txnStatusOptions);

export async function runStatus(argv: string[]): Promise<void> {
  await withClient(
    argv,
    async ({ client, bus, words, opts }) => {
      if (words.length > 0) throw new SynodError('INVALID_ARGUMENT', `synod status takes no arguments; unexpected ${JSON.stringify(words[0])}`);
      const rows = await collectStatus(bus, client.rangeMap.nodes());
      print(opts.output === 'json' ? { nodes: rows } : renderStatus(rows));
    },
    loadStatus,
  );
}

export async function runPut(argv: string[]): Promise<void> {
  await withClient(
    argv,
    async ({ client, words, opts }) => {
      const key = checkKey(need(words[0], '<key>'));
      if (words.length > 2) throw new SynodError('INVALID_ARGUMENT', `synod put takes <key> <value>; unexpected ${JSON.stringify(words[2]!.slice(0, 40))} (quote a value with spaces)`);
      const value = await valueArg(need(words[1], '<value> (or - for stdin, @<file> for a file)'), valueType(opts));
      const r = await client.transaction(async (tx) => tx.put(key, value));
      printCommitted(opts.output, { ok: true }, r);
    },
    loadCommit,
  );
}

/** `synod del <key>…`: deletes every key in one transaction. */
export async function runDel(argv: string[]): Promise<void> {
  await withClient(
    argv,
    async ({ client, words, opts }) => {
      need(words[0], '<key>');
      const keys = [...new Set(words.map((k) => checkKey(k)))];
      const r = await client.transaction(async (tx) => {
        for (const k of keys) tx.delete(k);
      });
      printCommitted(opts.output, { ok: true, deleted: keys.length }, r);
    },
    loadCommit,
  );
}

/**
 * `synod get <key>…`: one lock-free read of every key at one timestamp (across splits: the first
 * split picks it, the others read at it). One line per key, each with that timestamp.
 */
export async function runGet(argv: string[]): Promise<void> {
  await withClient(
    argv,
    async ({ client, words, opts }) => {
      need(words[0], '<key>');
      if (opts.staleMs !== undefined && opts.ts !== undefined) throw new SynodError('INVALID_ARGUMENT', 'give --stale-ms or --ts, not both');
      const keys = [...new Set(words.map((k) => checkKey(k)))];
      const r = await client.read(keys, { ...(opts.staleMs !== undefined ? { maxStalenessMs: opts.staleMs } : {}), ...(opts.ts ? { ts: opts.ts } : {}) });
      const lines = getLines(keys, r);
      if (opts.output === 'json') for (const line of lines) print(line);
      else print(`${renderRows(lines)}\nat ${r.ts}`);
    },
    loadGet,
  );
}

/** What `synod get` prints for a read of `keys`: one line per key, all at the read's timestamp. */
export function getLines(keys: readonly string[], r: { values: ReadonlyMap<string, unknown>; ts: number }): Array<{ key: string; value: unknown; found: boolean; ts: number }> {
  return keys.map((key) => ({ key, value: r.values.get(key) ?? null, found: r.values.has(key), ts: r.ts }));
}

export async function runScan(argv: string[]): Promise<void> {
  await withClient(
    argv,
    async ({ client, words, opts }) => {
      if (words.length > 2) throw new SynodError('INVALID_ARGUMENT', `synod scan takes <start> <end>; unexpected ${JSON.stringify(words[2]!.slice(0, 40))}`);
      const [start, end] = [words[0] ?? '', words[1] ?? ''];
      if (start !== '') checkKey(start, '<start>');
      if (end !== '') checkKey(end, '<end>');
      if (end !== '' && end <= start) throw new SynodError('INVALID_ARGUMENT', `<end> ${JSON.stringify(end.slice(0, 40))} is not after <start> ${JSON.stringify(start.slice(0, 40))}: the range [start, end) is empty`);
      const r = await client.scan(start, end, { limit: opts.limit, ...(opts.ts ? { ts: opts.ts } : {}) });
      const more = r.rows.length >= opts.limit;
      if (opts.output === 'json') {
        for (const row of r.rows) print(row);
        print({ rows: r.rows.length, ts: r.ts, more });
      } else print(`${renderRows(r.rows)}\n${r.rows.length} rows at ${r.ts}${more ? ` (--limit ${opts.limit} reached: there may be more)` : ''}`);
    },
    loadScan,
  );
}

/** One operation of `synod txn`. */
interface TxnOp {
  op: 'get' | 'put' | 'del' | 'add';
  key: string;
  value?: unknown;
  delta?: number;
}

/** The operations of `synod txn <op>…`, checked before anything is sent. */
export async function parseTxnOps(words: readonly string[], type: ReturnType<typeof valueType>): Promise<TxnOp[]> {
  if (words.length === 0) throw new SynodError('INVALID_ARGUMENT', 'no operations given (see synod txn --help)');
  const ops: TxnOp[] = [];
  for (const w of words) {
    const m = /^(get|put|del|add):([^=]+)(?:=([\s\S]*))?$/.exec(w);
    if (!m) throw new SynodError('INVALID_ARGUMENT', `bad operation ${JSON.stringify(w.slice(0, 60))}: expected get:<key>, put:<key>=<value>, del:<key> or add:<key>=<n>`);
    const [, op, rawKey, arg] = m as unknown as [string, TxnOp['op'], string, string | undefined];
    const key = checkKey(rawKey);
    if ((op === 'get' || op === 'del') && arg !== undefined) throw new SynodError('INVALID_ARGUMENT', `${op}:${key} takes no =<value>`);
    if ((op === 'put' || op === 'add') && arg === undefined) throw new SynodError('INVALID_ARGUMENT', `${op}:${key} needs =<value>`);
    if (op === 'add') {
      const delta = Number(arg);
      if (arg!.trim() === '' || !Number.isFinite(delta) || !Number.isSafeInteger(Math.trunc(delta)) || Math.abs(delta) > Number.MAX_SAFE_INTEGER) throw new SynodError('INVALID_ARGUMENT', `add:${key} needs a finite number within ±(2^53 − 1), got ${JSON.stringify(arg!.slice(0, 40))}`);
      ops.push({ op, key, delta });
    } else if (op === 'put') ops.push({ op, key, value: await valueArg(arg!, type, undefined, `put:${key}`) });
    else ops.push({ op, key });
  }
  return ops;
}

/** `add`'s new value, or INVALID_ARGUMENT (the transaction then aborts, writing nothing). */
export function addTo(key: string, current: unknown, delta: number): number {
  if (current !== undefined && current !== null && typeof current !== 'number') throw new SynodError('INVALID_ARGUMENT', `add:${key}: the value is ${Array.isArray(current) ? 'an array' : typeof current} ${JSON.stringify(current)?.slice(0, 40)}, not a number; nothing was written`);
  const next = (typeof current === 'number' ? current : 0) + delta;
  if (!Number.isFinite(next) || (Number.isInteger(next) && !Number.isSafeInteger(next))) throw new SynodError('INVALID_ARGUMENT', `add:${key}: ${String(current)} + ${delta} is beyond what a JSON number holds exactly; nothing was written`);
  return next;
}

/** `synod txn status …` or `synod txn <op>…`. */
export async function runTxn(argv: string[]): Promise<void> {
  if (positionalOf(commitOptions, argv)[0] === 'status') return runTxnStatus(argv);
  await withClient(
    argv,
    async ({ client, words, opts }) => {
      const ops = await parseTxnOps(words, valueType(opts));
      const r = await client.transaction(async (tx) => {
        const reads: Record<string, unknown> = {};
        for (const o of ops) {
          if (o.op === 'get') reads[o.key] = (await tx.get(o.key)) ?? null;
          else if (o.op === 'put') tx.put(o.key, o.value);
          else if (o.op === 'del') tx.delete(o.key);
          else tx.put(o.key, addTo(o.key, await tx.get(o.key), o.delta!));
        }
        return reads;
      });
      printCommitted(opts.output, { ok: true, reads: r.result, attempts: r.attempts }, r);
    },
    loadCommit,
  );
}

const positionalOf = (schema: z.ZodObject, argv: string[]) => parseFlags(switchesAsTrue(schema, argv)).positional;

export async function runTxnStatus(argv: string[]): Promise<void> {
  // From the command line, `txn status` arrives as its own command: its words do not start with "status".
  const words0 = positionalOf(txnStatusOptions, argv);
  const skip = words0[0] === 'status' ? 1 : 0;
  await withClient(
    argv,
    async ({ client, words, opts }) => {
      const txnId = need(words[skip], '<txnId> (see synod txn status --help)');
      if (words[skip + 1] !== undefined) throw new SynodError('INVALID_ARGUMENT', `unexpected ${JSON.stringify(words[skip + 1])}: synod txn status takes one <txnId>`);
      const split = statusSplit(client.rangeMap.all(), (k) => client.rangeMap.splitFor(k), opts);
      const s = await client.txnStatus(split, txnId, { waitMs: opts.waitMs });
      print(opts.output === 'json' ? { txnId, split: split.id, ...s } : renderTxnStatus(s));
    },
    loadTxnStatus,
  );
}
