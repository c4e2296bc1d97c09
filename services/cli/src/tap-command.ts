import { z } from 'zod';
import { MESSAGE_KINDS, SynodError, decode, type Envelope } from '@synod/codec';
import { ConfigError, loadConfig, parseFlags } from '@synod/config';
import { NatsWire, decodeBatch, decodeTaggedBatch, inboxPrefixFor, isBatch, isTaggedBatch, readCredsFile, refusalFor, subjects, type RefusalReason, type Via } from '@synod/transport';
import { resolveCluster, toolCredentials } from './client-commands.js';

export const TAP_HELP = `synod tap — print the cluster's bus traffic, decoded, one line per message

Usage: synod tap [--kind <k,...>] [--group <g>] [--node <id>] [--count <n>] [--duration-ms <ms>] [-o table|json]

Every NATS message under <cluster>.> is decoded; a batch of coalesced peer messages prints
one line per message it carries, marked batch. Replies are shown when tap can see them (a
cluster without NATS credentials: see docs/tap.md). A payload that does not decode prints
'undecodable <subject> <n> bytes: <reason>' and is counted.

Options:
  --kind <k,...>      only these message kinds (e.g. paxos,split.2pc)
  --group <g>         only messages of this Paxos group
  --node <id>         only messages from or to this node
  --count <n>         stop after n printed lines, 1..1000000 (the table header does not count)
  --duration-ms <ms>  stop after this long, 1..604800000; default: until SIGINT/SIGTERM
  -o, --output <f>    table (default: aligned columns) or json (one object per line)
  --data-dir <dir>    a cluster started by 'synod up' (reads <dir>/cluster.json); default: as for 'synod get'
  --nats-url <url>    or the NATS server directly (env SYNOD_NATS_URL, default nats://127.0.0.1:4222)
  --cluster <name>    cluster subject prefix (env SYNOD_CLUSTER, default synod)

On exit a summary goes to stderr: messages, envelopes, bytes, undecodable, kinds (top 10).
Connects with the operator credential when the cluster has credentials.`;

const MAX_COUNT = 1_000_000;
/** A week: a timer must stay far below setTimeout's 2^31 ms. */
const MAX_DURATION_MS = 604_800_000;
/** Requests whose reply tap still waits for; a request never answered must not hold its entry forever. */
const PENDING_MAX = 4_096;
const PENDING_TTL_MS = 60_000;
/** Bytes queued on a slow stdout (a pipe nobody reads) before lines are dropped instead of buffered. */
const MAX_STDOUT_BACKLOG_BYTES = 1024 * 1024;
const MAX_REASON_CHARS = 200;
/** nats.js's reply inbox prefix for a connection without credentials (every process of such a cluster uses it). */
const DEFAULT_INBOX = '_INBOX';

const kindList = z
  .string()
  .transform((s) => s.split(',').filter(Boolean))
  .pipe(z.array(z.enum(MESSAGE_KINDS as [string, ...string[]]), { error: `known kinds: ${MESSAGE_KINDS.join(', ')}` }).min(1, 'name at least one kind').max(MESSAGE_KINDS.length));

const options = z.object({
  dataDir: z.string().optional(),
  natsUrl: z.string().optional(),
  cluster: z.string().optional(),
  kind: kindList.optional(),
  group: z.string().max(63).optional(),
  node: z.string().max(63).optional(),
  count: z.coerce.number().int().min(1).max(MAX_COUNT).optional(),
  durationMs: z.coerce.number().int().min(1).max(MAX_DURATION_MS).optional(),
  output: z.enum(['table', 'json']).default('table'),
});
type TapOptions = z.infer<typeof options>;

export interface TapIo {
  /** One output line (no newline). */
  write(line: string): void;
  /** The summary and notes (stderr by default). */
  note?(line: string): void;
  /** Stops the tap; without it SIGINT and SIGTERM do. */
  signal?: AbortSignal;
  /** Called once the subscriptions are in place: traffic from then on is seen. */
  ready?(): void;
}

/** One decoded message as printed. */
interface TapLine {
  time: string;
  subject: string;
  from: string;
  to: string;
  kind: string;
  group: string;
  bytes: number;
  batched: boolean;
  flow: 'send' | 'request' | 'reply';
  error?: string;
  refused?: RefusalReason;
}

interface Undecodable {
  time: string;
  subject: string;
  bytes: number;
  reason: string;
}

/** `-o json` is the one short flag; the config loader reads only `--name` words. */
function withLongFlags(argv: string[]): string[] {
  return argv.map((a) => (a === '-o' ? '--output' : a.startsWith('-o=') ? `--output=${a.slice(3)}` : a));
}

export function parseTapOptions(argv: string[]): TapOptions {
  const words = withLongFlags(argv);
  const { positional } = parseFlags(words);
  if (positional.length > 0) throw new ConfigError([{ field: '<args>', message: `synod tap takes no arguments, got '${positional[0]!.slice(0, 80)}' (see synod tap --help)` }]);
  return loadConfig(options, { argv: words });
}

/** Where a message on a cluster subject goes, and what the receiving bus would accept on it (refusalFor). */
function route(cluster: string, subject: string): { to: string; via: Via | undefined } {
  const s = subjects(cluster);
  const rest = subject.slice(cluster.length + 1);
  const tokens = rest.split('.');
  if (tokens[0] === 'peer' && tokens.length === 3) return { to: tokens[1]!, via: { on: 'peer', sender: tokens[2]! } };
  if (tokens[0] === 'node' && tokens.length === 2) return { to: tokens[1]!, via: { on: 'client' } };
  if (subject === s.chaos) return { to: '[chaos]', via: { on: 'chaos' } };
  // chaos.get is answered without the bus's checks; anything else is judged as a client subject.
  return { to: `[${rest}]`, via: subject === s.chaosGet ? undefined : { on: 'client' } };
}

/** Requests seen, by reply subject, so that a reply can name who it goes to. Bounded in count and age. */
class PendingReplies {
  private readonly byReply = new Map<string, { requester: string; atMs: number }>();

  add(reply: string, requester: string, nowMs: number): void {
    for (const [k, v] of this.byReply) {
      if (this.byReply.size < PENDING_MAX && nowMs - v.atMs < PENDING_TTL_MS) break;
      this.byReply.delete(k);
    }
    this.byReply.set(reply, { requester, atMs: nowMs });
  }

  /** A batch of requests may be answered in several messages (docs/transport.md "Request batching"): `keep` leaves it for the next. */
  take(reply: string, keep = false): string | undefined {
    const p = this.byReply.get(reply);
    if (!keep) this.byReply.delete(reply);
    return p?.requester;
  }
}

class Summary {
  messages = 0;
  batches = 0;
  envelopes = 0;
  bytes = 0;
  undecodable = 0;
  printed = 0;
  dropped = 0;
  unmatchedReplies = 0;
  readonly kinds = new Map<string, number>();

  text(): string {
    const top = [...this.kinds].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 10);
    const kinds = top.length ? top.map(([k, n]) => `${k} ${n}`).join(', ') : 'none';
    const extra = [this.dropped ? `${this.dropped} lines dropped (stdout too slow)` : '', this.unmatchedReplies ? `${this.unmatchedReplies} replies to requests not seen` : ''].filter(Boolean);
    return `tap: ${this.messages} messages (${this.batches} batches), ${this.envelopes} envelopes, ${this.bytes} bytes, ${this.undecodable} undecodable, ${this.printed} lines printed${extra.length ? `, ${extra.join(', ')}` : ''}; kinds: ${kinds}`;
  }
}

const clockTime = (d: Date) => `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}:${String(d.getSeconds()).padStart(2, '0')}.${String(d.getMilliseconds()).padStart(3, '0')}`;
const cap = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

export const TABLE_HEADER = `${'TIME'.padEnd(12)}  ${'SUBJECT'.padEnd(32)}  ${'FROM → TO'.padEnd(21)}  ${'KIND'.padEnd(22)}  ${'GROUP'.padEnd(12)}  ${'BYTES'.padStart(7)}  FLAGS`;

function tableLine(l: TapLine): string {
  const flags = [l.batched ? 'batch' : '', l.flow === 'send' ? '' : l.flow, l.error ? `error=${l.error}` : '', l.refused ? `refused=${l.refused}` : ''].filter(Boolean).join(' ');
  return `${l.time.padEnd(12)}  ${cap(l.subject, 32).padEnd(32)}  ${`${l.from} → ${l.to}`.padEnd(21)}  ${l.kind.padEnd(22)}  ${(l.group || '-').padEnd(12)}  ${String(l.bytes).padStart(7)}  ${flags}`.trimEnd();
}

/** Turns NATS messages into printed lines: filters, counts, stops after --count. */
class Tap {
  readonly summary = new Summary();
  private readonly pending = new PendingReplies();
  private readonly kinds: ReadonlySet<string> | undefined;

  constructor(
    private readonly cluster: string,
    private readonly opts: TapOptions,
    private readonly out: (line: string) => boolean,
  ) {
    this.kinds = opts.kind ? new Set(opts.kind) : undefined;
  }

  private reachCount: () => void = () => undefined;
  /** Resolves after the last line --count allows. */
  readonly countReached = new Promise<void>((resolve) => (this.reachCount = resolve));
  /** Set at the end: messages still delivered while the connection drains are not printed. */
  private done = false;

  stop(): void {
    this.done = true;
  }

  /** A message on a cluster subject. */
  onCluster(subject: string, reply: string | undefined, data: Uint8Array): void {
    if (this.done) return;
    this.summary.messages++;
    this.summary.bytes += data.byteLength;
    const { to, via } = route(this.cluster, subject);
    const flow = reply ? 'request' : 'send';
    const envs = this.envelopes(subject, data);
    if (reply) this.pending.add(reply, envs[0]?.env.from ?? '?', performance.now());
    for (const e of envs) this.print(subject, e, { to, flow, refused: via ? refusalFor(e.env, via) : undefined });
  }

  /** A message on a reply inbox: only replies to requests seen on this cluster's subjects are ours. */
  onReply(subject: string, data: Uint8Array): void {
    if (this.done) return;
    const requester = this.pending.take(subject, isTaggedBatch(data));
    if (requester === undefined) {
      this.summary.unmatchedReplies++;
      return;
    }
    this.summary.messages++;
    this.summary.bytes += data.byteLength;
    for (const e of this.envelopes(subject, data)) this.print(subject, e, { to: requester, flow: 'reply', refused: undefined });
  }

  /** Every envelope the payload carries; whatever does not decode is printed and counted here. */
  private envelopes(subject: string, data: Uint8Array): Array<{ env: Envelope; bytes: number; batched: boolean }> {
    if (isTaggedBatch(data)) return this.frames(subject, data, decodeTaggedBatch(data), (f) => f.bytes);
    if (!isBatch(data)) {
      const r = decode(data);
      if (r.ok) return [{ env: r.envelope, bytes: data.byteLength, batched: false }];
      this.undecodable(subject, data.byteLength, `${r.reason}: ${r.detail}`);
      return [];
    }
    return this.frames(subject, data, decodeBatch(data), (f) => f);
  }

  /** A peer batch's frames, or a tagged batch's (requests, or replies to them). */
  private frames<F>(subject: string, data: Uint8Array, b: { ok: true; frames: F[] } | { ok: false; detail: string }, bytesOf: (f: F) => Uint8Array): Array<{ env: Envelope; bytes: number; batched: boolean }> {
    if (!b.ok) {
      this.undecodable(subject, data.byteLength, `bad_batch: ${b.detail}`);
      return [];
    }
    this.summary.batches++;
    const out: Array<{ env: Envelope; bytes: number; batched: boolean }> = [];
    b.frames.forEach((frame, i) => {
      const f = bytesOf(frame);
      const r = decode(f);
      if (r.ok) out.push({ env: r.envelope, bytes: f.byteLength, batched: true });
      else this.undecodable(subject, f.byteLength, `batch frame ${i}: ${r.reason}: ${r.detail}`);
    });
    return out;
  }

  private print(subject: string, e: { env: Envelope; bytes: number; batched: boolean }, where: { to: string; flow: TapLine['flow']; refused: RefusalReason | undefined }): void {
    const env = e.env;
    this.summary.envelopes++;
    this.summary.kinds.set(env.kind, (this.summary.kinds.get(env.kind) ?? 0) + 1);
    if (this.done) return;
    if (this.kinds && !this.kinds.has(env.kind)) return;
    if (this.opts.group !== undefined && env.group !== this.opts.group) return;
    if (this.opts.node !== undefined && env.from !== this.opts.node && where.to !== this.opts.node) return;
    const now = new Date();
    const line: TapLine = { time: this.opts.output === 'json' ? now.toISOString() : clockTime(now), subject, from: env.from, to: where.to, kind: env.kind, group: env.group, bytes: e.bytes, batched: e.batched, flow: where.flow };
    if (env.kind === 'error') line.error = (env.body as { code: string }).code;
    if (where.refused) line.refused = where.refused;
    this.emit(this.opts.output === 'json' ? JSON.stringify(line) : tableLine(line));
  }

  private undecodable(subject: string, bytes: number, reason: string): void {
    this.summary.undecodable++;
    if (this.done) return;
    const r = cap(reason.replace(/\s+/g, ' '), MAX_REASON_CHARS);
    const u: Undecodable = { time: new Date().toISOString(), subject, bytes, reason: r };
    this.emit(this.opts.output === 'json' ? JSON.stringify({ undecodable: true, ...u }) : `undecodable ${subject} ${bytes} bytes: ${r}`);
  }

  private emit(line: string): void {
    if (this.out(line)) this.summary.printed++;
    else this.summary.dropped++;
    if (this.opts.count !== undefined && this.summary.printed >= this.opts.count) {
      this.done = true;
      this.reachCount();
    }
  }
}

/** stdout, dropping lines rather than buffering without bound when the reader falls behind. */
function stdoutWriter(): (line: string) => boolean {
  return (line) => {
    if (process.stdout.writableLength > MAX_STDOUT_BACKLOG_BYTES) return false;
    process.stdout.write(line + '\n');
    return true;
  };
}

async function connectTap(where: ReturnType<typeof resolveCluster>): Promise<{ wire: NatsWire; credentialed: boolean }> {
  const { natsCreds } = toolCredentials(where, 'operator');
  const creds = natsCreds ? readCredsFile(natsCreds) : undefined;
  if (creds && creds.cluster !== where.cluster) throw new SynodError('INVALID_ARGUMENT', `${natsCreds} is a credential of cluster ${creds.cluster}, not ${where.cluster}`);
  try {
    const wire = await NatsWire.connect(where.natsUrl, { name: `${where.cluster}/tap-${process.pid}`, ...(creds ? { user: creds.user, pass: creds.password, inboxPrefix: inboxPrefixFor(creds.user) } : {}) });
    return { wire, credentialed: creds !== undefined };
  } catch (err) {
    if ((err as { code?: string })?.code === 'AUTHORIZATION_VIOLATION')
      throw new SynodError('INVALID_ARGUMENT', creds ? `nats-server at ${where.natsUrl} refused the credentials of ${creds.user} (${natsCreds})` : `nats-server at ${where.natsUrl} requires credentials: pass --data-dir of the cluster 'synod up' started`);
    throw new SynodError('UNAVAILABLE', `cannot reach NATS at ${where.natsUrl} (${err instanceof Error ? err.message : String(err)}): is the cluster running ('synod up', or --nats-url)?`);
  }
}

/**
 * `synod tap`: subscribes `<cluster>.>` (and, without credentials, the shared reply inbox) and
 * prints each message until --count, --duration-ms, the signal, or the connection ends.
 */
export async function runTap(argv: string[], io?: TapIo): Promise<void> {
  const opts = parseTapOptions(argv);
  const where = resolveCluster(opts);
  const note = io?.note ?? ((l: string) => void process.stderr.write(l + '\n'));
  const out = io ? (l: string) => (io.write(l), true) : stdoutWriter();
  const { wire, credentialed } = await connectTap(where);
  const nc = wire.nc;
  const cleanups: Array<() => void> = [];
  let failure: unknown;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const tap = new Tap(where.cluster, opts, out);
  const fail = (err: unknown) => {
    failure ??= err;
    finish();
  };
  tap.countReached.then(() => finish(), fail);
  try {
    type Msg = { subject: string; reply?: string; data: Uint8Array };
    const subscribe = (subject: string, handle: (m: Msg) => void) =>
      nc.subscribe(subject, {
        // nats.js hands a subscription the server refused its error once, then closes it: tap would go silent.
        callback: (err, msg) => (err ? fail(new SynodError('INVALID_ARGUMENT', `nats-server refused tap's subscription to ${subject}: ${err.message}`.slice(0, 1000))) : handle(msg)),
      });
    subscribe(`${where.cluster}.>`, (m) => tap.onCluster(m.subject, m.reply || undefined, m.data));
    // With credentials every user has its own inbox, which the operator may not read (docs/transport.md "Credentials").
    if (!credentialed) subscribe(`${DEFAULT_INBOX}.>`, (m) => tap.onReply(m.subject, m.data));
    else note(`tap: replies are not shown: the operator credential may not subscribe other users' reply inboxes (_INBOX.<user>.>)`);
    nc.closed().then(
      (err) => (err ? fail(new SynodError('UNAVAILABLE', `NATS connection closed: ${err.message}`)) : finish()),
      fail,
    );
    await nc.flush();
    if (opts.durationMs !== undefined) {
      const t = setTimeout(finish, opts.durationMs);
      cleanups.push(() => clearTimeout(t));
    }
    const signal = io?.signal;
    if (signal) {
      if (signal.aborted) finish();
      signal.addEventListener('abort', finish, { once: true });
      cleanups.push(() => signal.removeEventListener('abort', finish));
    } else {
      for (const sig of ['SIGINT', 'SIGTERM'] as const) {
        process.on(sig, finish);
        cleanups.push(() => process.off(sig, finish));
      }
    }
    if (!io) {
      // A reader that went away (`synod tap | head`) ends the tap instead of crashing it with EPIPE.
      process.stdout.on('error', finish);
      cleanups.push(() => process.stdout.off('error', finish));
    }
    if (opts.output === 'table') out(TABLE_HEADER);
    io?.ready?.();
    await finished;
  } finally {
    tap.stop();
    for (const c of cleanups) c();
    // A close that fails after the tap ended is still the command's failure, not lost.
    await wire.close().catch((err: unknown) => void (failure ??= err));
    note(tap.summary.text());
  }
  if (failure) throw failure;
}
