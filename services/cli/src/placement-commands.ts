import { z } from 'zod';
import { nodeName, SynodError, type MessageBody, type MessageInput } from '@synod/codec';
import { loadConfig, nodeIdentity, parseFlags } from '@synod/config';
import { subjects, type Bus } from '@synod/transport';
import { connectToolBus, resolveCluster } from './client-commands.js';

/**
 * The operator's view of the placement service (docs/cli.md): `synod splits` reads the range map
 * with its load and size ('placement.get' → 'placement.map'); `synod split/move/drain/lead` ask
 * for an operation ('placement.admin' → 'placement.admin-ok'), answered once it is logged.
 */

const ADMIN_NOTE = `Prints 'op <opId>: <description>' (-o json: the 'placement.admin-ok' body) once the placement
service has logged the operation; it is carried out in the background, one operation at a time
(watch it with 'synod splits'). Exit 0 accepted; 4 with UNAVAILABLE when no placement service
answered, or the exit code of the error the service refused with (2 for INVALID_ARGUMENT: an
unknown split, node or DC, …); 2 bad arguments.`;

export const PLACEMENT_ADMIN_HELP = {
  splits: {
    summary: 'the range map from the placement service: ranges, replicas, leaders, size, load',
    details: `Columns: split, range [start, end), replicas (voting), learners (being caught up), leader (the
node whose report says it leads, '?' if none yet; '→dc' the preferred leader DC), generation (the
map generation at which the entry last changed), size (bytes and keys of the newest versions, from
the leader's report), load (writes/s and reads/s over the last report interval).
The map's generation and the operation in progress, if any, are printed above the table.
-o json prints the 'placement.map' body: {map, stats, op?}.`,
  },
  split: {
    summary: "cut the split holding <key> at <key>: [start, key) keeps the split's id, [key, end) is a new split",
    details: ADMIN_NOTE,
  },
  move: {
    summary: 'move one replica of <split> from one node to another (learner, snapshot, swap)',
    details: ADMIN_NOTE,
  },
  drain: { summary: 'move every replica off <node> (one move at a time)', details: ADMIN_NOTE },
  lead: {
    summary: "make <dc> the preferred leader DC of <split>; leadership moves there when the group is healthy",
    details: ADMIN_NOTE,
  },
};

export const placementOptions = z.object({
  dataDir: z.string().optional().describe('the cluster started by synod up (reads <dir>/cluster.json)'),
  natsUrl: z.string().optional().describe('or name the NATS server directly'),
  cluster: z.string().optional().describe('subject prefix (default: the cluster file\'s, else synod)'),
  dc: nodeIdentity.dc.default('dc-a').describe('the DC this tool says it is in'),
  timeoutMs: z.coerce.number().int().min(1).max(60_000).default(5_000).describe('how long to wait for the placement service, 1..60000'),
  output: z.enum(['json', 'table']).default('table').describe('output format: json or table'),
});
const options = placementOptions;


export type PlacementMap = MessageBody<'placement.map'>;
type AdminRequest = MessageInput<'placement.admin'>;
const MAX_KEY_CHARS = 1024;

const checkName = (value: string | undefined, what: string): string => {
  if (value === undefined) throw new SynodError('INVALID_ARGUMENT', `missing ${what}`);
  const r = nodeName.safeParse(value);
  if (!r.success) throw new SynodError('INVALID_ARGUMENT', `${what} ${JSON.stringify(value.slice(0, 80))}: ${r.error.issues[0]?.message ?? 'invalid'}`);
  return value;
};

/**
 * The 'placement.admin' request of `synod <command> <words…>`; bad or missing arguments are
 * INVALID_ARGUMENT naming the argument, before anything is sent.
 */
export function adminRequest(command: 'split' | 'move' | 'drain' | 'lead', words: string[]): AdminRequest {
  const want = { split: 1, move: 3, drain: 1, lead: 2 }[command];
  if (words.length > want) throw new SynodError('INVALID_ARGUMENT', `synod ${command} takes ${want} argument${want > 1 ? 's' : ''}; unexpected ${JSON.stringify(words[want])} (see synod ${command} --help)`);
  switch (command) {
    case 'split': {
      const key = words[0];
      if (key === undefined || key === '') throw new SynodError('INVALID_ARGUMENT', 'missing <key>: where to cut (see synod split --help)');
      if (key.length > MAX_KEY_CHARS) throw new SynodError('INVALID_ARGUMENT', `<key> is ${key.length} characters; a split key is at most ${MAX_KEY_CHARS}`);
      return { op: 'split', key };
    }
    case 'move': {
      const [split, from, to] = [checkName(words[0], '<split>'), checkName(words[1], '<from-node>'), checkName(words[2], '<to-node>')];
      if (from === to) throw new SynodError('INVALID_ARGUMENT', `<from-node> and <to-node> are both ${from}`);
      return { op: 'move', split, from, to };
    }
    case 'drain':
      return { op: 'drain', node: checkName(words[0], '<node>') };
    case 'lead':
      return { op: 'lead', split: checkName(words[0], '<split>'), dc: checkName(words[1], '<dc>') };
  }
}

const human = (bytes: number) => (bytes >= 1 << 30 ? `${(bytes / 2 ** 30).toFixed(1)}G` : bytes >= 1 << 20 ? `${(bytes / 2 ** 20).toFixed(1)}M` : bytes >= 1024 ? `${(bytes / 1024).toFixed(1)}K` : `${bytes}B`);
const rate = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));

/**
 * The `synod splits` table. Leader, size and load come from the leader's latest report (a report
 * of another generation than the entry's is older than the entry and is not shown).
 */
export function renderSplits(m: PlacementMap): string {
  const rows = m.map.splits.map((s) => {
    const reports = m.stats.filter((r) => r.id === s.id && r.generation >= s.generation);
    const lead = reports.find((r) => r.leader);
    return [
      s.id,
      `[${JSON.stringify(s.start)}, ${s.end === '' ? '∞' : JSON.stringify(s.end)})`,
      s.replicas.join(','),
      s.learners.length ? s.learners.join(',') : '-',
      `${lead?.node ?? '?'}${s.leaderDc ? ` →${s.leaderDc}` : ''}`,
      String(s.generation),
      lead ? `${human(lead.sizeBytes)}/${lead.keys}k` : '-',
      lead ? `${rate(lead.writesPerSec)}w ${rate(lead.readsPerSec)}r` : '-',
    ];
  });
  const head = ['split', 'range', 'replicas', 'learners', 'leader', 'gen', 'size', 'load/s'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const title = `generation ${m.map.generation}, ${m.map.splits.length} split${m.map.splits.length === 1 ? '' : 's'}, ${m.map.nodes.length} nodes${m.op ? `; in progress: ${m.op}` : ''}`;
  return [title, line(head), ...rows.map(line)].join('\n');
}

/** A request to the placement service; no answer at all is UNAVAILABLE saying how to get one. */
async function askPlacement(bus: Bus, timeoutMs: number, send: (subject: string) => Promise<unknown>): Promise<unknown> {
  const subject = subjects(bus.cluster).placement;
  try {
    return await send(subject);
  } catch (err) {
    // The transport's own failures (nothing listening: UNAVAILABLE naming the subject; no reply in
    // time: TIMEOUT), as opposed to an error the service answered with, which is passed on.
    const transport = err instanceof SynodError && (err.code === 'TIMEOUT' || (err.code === 'UNAVAILABLE' && err.hint?.node === subject));
    if (transport)
      throw new SynodError('UNAVAILABLE', `no placement service answered on ${subject} within ${timeoutMs} ms (${err.code}: ${err.message}). 'synod up' runs one placement replica per DC`);
    throw err;
  }
}

/** The placement service's range map and stats. */
export async function fetchPlacementMap(bus: Bus, timeoutMs: number): Promise<PlacementMap> {
  const reply = (await askPlacement(bus, timeoutMs, (subject) => bus.requestSubject(subject, 'placement.get', { minGeneration: 0 }, { timeoutMs }))) as { kind: string; body: unknown };
  if (reply.kind !== 'placement.map') throw new SynodError('INTERNAL', `the placement service answered placement.get with ${reply.kind}`);
  return reply.body as PlacementMap;
}

/** Sends one admin request; returns the service's acknowledgement. */
export async function sendAdmin(bus: Bus, req: AdminRequest, timeoutMs: number): Promise<MessageBody<'placement.admin-ok'>> {
  const reply = (await askPlacement(bus, timeoutMs, (subject) => bus.requestSubject(subject, 'placement.admin', req, { timeoutMs }))) as { kind: string; body: unknown };
  if (reply.kind !== 'placement.admin-ok') throw new SynodError('INTERNAL', `the placement service answered placement.admin with ${reply.kind}`);
  return reply.body as MessageBody<'placement.admin-ok'>;
}

/** Checks the words (before connecting: bad arguments never wait on the network), then runs `fn` on a bus. */
async function withPlacementBus<T>(argv: string[], check: (words: string[]) => T, fn: (bus: Bus, opts: z.infer<typeof options>, checked: T) => Promise<void>): Promise<void> {
  const args = argv;
  const opts = loadConfig(options, { argv: args });
  const checked = check(parseFlags(args).positional);
  const where = resolveCluster(opts);
  const bus = await connectToolBus(where, `cli-${process.pid}`, opts.dc, 'client');
  try {
    await fn(bus, opts, checked);
  } finally {
    await bus.close();
  }
}

const print = (s: string) => process.stdout.write(s + '\n');

export async function runSplits(argv: string[]): Promise<void> {
  const noWords = (words: string[]) => {
    if (words.length > 0) throw new SynodError('INVALID_ARGUMENT', `synod splits takes no arguments; unexpected ${JSON.stringify(words[0])}`);
  };
  await withPlacementBus(argv, noWords, async (bus, opts) => {
    const m = await fetchPlacementMap(bus, opts.timeoutMs);
    print(opts.output === 'json' ? JSON.stringify(m) : renderSplits(m));
  });
}

/** `synod split|move|drain|lead …`. */
export const runAdmin =
  (command: 'split' | 'move' | 'drain' | 'lead') =>
  async (argv: string[]): Promise<void> => {
    await withPlacementBus(argv, (words) => adminRequest(command, words), async (bus, opts, req) => {
      const ok = await sendAdmin(bus, req, opts.timeoutMs);
      print(opts.output === 'json' ? JSON.stringify(ok) : `op ${ok.opId}: ${ok.description}`);
    });
  };
