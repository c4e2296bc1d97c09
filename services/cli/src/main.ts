#!/usr/bin/env node
/**
 * `synod`: the command line (docs/cli.md). Each command's module is loaded only when that command
 * runs, so `synod get` does not load the spanserver, LMDB or the demo.
 */
import { readFileSync } from 'node:fs';
import { completionScript, completionTable, HelpShown, runCommandLine, UsageError, type CommandEntry } from './command-line.js';
import { describeFailure, EXIT, oneLine } from './exit-codes.js';

const PROBE_HELP = `synod probe-node — one node on the synod bus that answers pings and records notes

Options (also env SYNOD_<NAME>):
  --node-id <id>    required
  --dc <dc>         required
  --nats-url <url>  default nats://127.0.0.1:4222
  --cluster <name>  default synod
  --log-level <l>   default info (logs go to stderr)

Reads JSON-line commands on stdin: ping, note, notes, stats (see probe-node.ts).`;

/** Thrown by a command that ends with a particular exit code. */
class ExitCode extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

const client = () => import('./client-commands.js');
const placementAdmin = () => import('./placement-commands.js');
const schemaOf = async <M,>(m: Promise<M>, pick: (m: M) => { schema: import('zod').z.ZodObject; run: (argv: string[]) => Promise<void> }) => pick(await m);

function clientCommand(name: 'status' | 'put' | 'del' | 'get' | 'scan' | 'txn' | 'txnStatus', args: string[]): Omit<CommandEntry & { kind: 'schema' }, 'kind'> & { kind: 'schema' } {
  return {
    kind: 'schema',
    summary: CLIENT_SUMMARY[name],
    args,
    load: async () => {
      const m = await client();
      const table = {
        status: { schema: m.statusOptions, run: m.runStatus },
        put: { schema: m.commitOptions, run: m.runPut },
        del: { schema: m.commitOptions, run: m.runDel },
        get: { schema: m.getOptions, run: m.runGet },
        scan: { schema: m.scanOptions, run: m.runScan },
        txn: { schema: m.commitOptions, run: m.runTxn },
        txnStatus: { schema: m.txnStatusOptions, run: m.runTxnStatus },
      } as const;
      return table[name];
    },
  };
}

/** One-line summaries, here so that `synod --help` loads no command module. */
const CLIENT_SUMMARY = {
  status: 'groups, leaders, DCs, t_safe lag and ε of every spanserver; locks and prepared transactions per split',
  put: 'write one key (a read-write transaction)',
  del: 'delete one or more keys (one read-write transaction)',
  get: 'read one or more keys at one timestamp (strong, snapshot or bounded-staleness)',
  scan: 'read a key range at one timestamp',
  txn: 'run a read-write transaction of get/put/del/add operations, across splits too (2PC)',
  txnStatus: 'the outcome of a transaction (committed / aborted / pending)',
};

/** Adds the long help text of a client command once its module is loaded. */
async function withDetails(entry: ReturnType<typeof clientCommand>, key: keyof typeof CLIENT_SUMMARY): Promise<ReturnType<typeof clientCommand>> {
  return { ...entry, details: (await client()).CLIENT_HELP[key].details };
}

function placementCommand(name: 'splits' | 'split' | 'move' | 'drain' | 'lead', args: string[], summary: string): CommandEntry {
  return {
    kind: 'schema',
    summary,
    args,
    load: async () => {
      const m = await placementAdmin();
      return { schema: m.placementOptions, run: name === 'splits' ? m.runSplits : m.runAdmin(name) };
    },
  };
}

const raw = (summary: string, help: () => Promise<string>, run: (argv: string[]) => Promise<void>, hidden = false): CommandEntry => ({ kind: 'raw', summary, help, run, hidden });

async function registry(name: string | undefined): Promise<Record<string, CommandEntry>> {
  const detailed = async (key: keyof typeof CLIENT_SUMMARY, args: string[]) => (name === key ? withDetails(clientCommand(key, args), key) : clientCommand(key, args));
  const txn = name === 'txn' ? await withDetails(clientCommand('txn', ['[ops...]']), 'txn') : clientCommand('txn', ['[ops...]']);
  const txnStatus = name === 'txn' ? await withDetails(clientCommand('txnStatus', ['<txnId>']), 'txnStatus') : clientCommand('txnStatus', ['<txnId>']);
  return {
    up: raw(
      'run a local cluster: nats-server, spanservers and a placement replica per DC (remembered as the current cluster)',
      async () => (await import('./up.js')).UP_HELP,
      async (argv) => (await import('./up.js')).runUp(argv),
    ),
    status: await detailed('status', []),
    put: await detailed('put', ['<key>', '[value]']),
    get: await detailed('get', ['<keys...>']),
    del: await detailed('del', ['<keys...>']),
    scan: await detailed('scan', ['[start]', '[end]']),
    txn: { ...txn, subcommands: { status: txnStatus } },
    splits: placementCommand('splits', [], 'the range map from the placement service: ranges, replicas, leaders, size, load'),
    split: placementCommand('split', ['<key>'], 'cut the split holding a key at that key'),
    move: placementCommand('move', ['<split>', '<from-node>', '<to-node>'], 'move a replica of a split from one node to another'),
    drain: placementCommand('drain', ['<node>'], 'move every replica off a node'),
    lead: placementCommand('lead', ['<split>', '<dc>'], "set a split's preferred leader DC"),
    chaos: {
      kind: 'schema',
      summary: 'inject DC partitions, latency, loss, node isolation and clock faults into a running cluster',
      args: ['<verb>', '[args...]'],
      load: async () => {
        const [m, c] = await Promise.all([import('./chaos-command.js'), import('./clock-chaos.js')]);
        return { schema: m.chaosOptions, run: m.runChaos, details: `${m.CHAOS_HELP}\n\n${c.CLOCK_CHAOS_HELP}` };
      },
      details: name === 'chaos' ? await (async () => `${(await import('./chaos-command.js')).CHAOS_HELP}\n\n${(await import('./clock-chaos.js')).CLOCK_CHAOS_HELP}`)() : '',
    },
    creds: raw('write the NATS credentials and gateway token of a Kubernetes deployment (k8s/README.md)', async () => (await import('./creds-command.js')).CREDS_HELP, async (argv) => (await import('./creds-command.js')).runCreds(argv)),
    tap: raw('print the decoded bus traffic (kinds, groups, sizes) for debugging', async () => (await import('./tap-command.js')).TAP_HELP, async (argv) => (await import('./tap-command.js')).runTap(argv)),
    bench: {
      kind: 'schema',
      summary: 'write load over a wide key range, printing throughput and each split cut',
      args: [],
      details: name === 'bench' ? (await import('./bench.js')).BENCH_HELP.split('\nOptions:')[0] : '',
      load: async () => {
        const m = await import('./bench.js');
        return { schema: m.benchOptions, run: m.runBench };
      },
    },
    demo: raw('the local 3-DC demo: simulated DCs, then a replicated Paxos group under a partition', async () => (await import('./demo.js')).DEMO_HELP, async (argv) => (await import('./demo.js')).runDemo(argv)),
    gateway: raw('run the HTTP/JSON gateway (OpenAPI at /openapi.json)', async () => (await import('@synod/gateway')).GATEWAY_HELP, async (argv) => (await import('@synod/gateway')).runGateway(argv)),
    completion: raw(
      'print a shell completion script: eval "$(synod completion bash)" (or zsh)',
      async () => 'synod completion [bash|zsh] — prints a completion script for the shell\n\n  eval "$(synod completion bash)"     # add it to ~/.bashrc to keep it',
      async (argv) => {
        const shell = argv[0] ?? 'bash';
        if (shell !== 'bash' && shell !== 'zsh') throw new UsageError(`unknown shell ${JSON.stringify(shell)}: bash or zsh`, 'completion');
        const all = await registry(undefined);
        process.stdout.write(completionScript(shell, await completionTable(all)));
      },
    ),
    spanserver: raw('run one spanserver process', async () => (await import('@synod/spanserver')).SPANSERVER_HELP, async (argv) => (await import('@synod/spanserver')).runSpanserver(argv), true),
    placement: raw(
      'run one replica of the placement service',
      async () => (await import('@synod/placement-service')).PLACEMENT_HELP,
      async (argv) => {
        const code = await (await import('@synod/placement-service')).runPlacement(argv);
        if (code !== 0) throw new ExitCode(code);
      },
      true,
    ),
    timemaster: raw('run a time master (reference or drifting) for one DC', async () => (await import('@synod/timemaster')).TIMEMASTER_HELP, async (argv) => (await import('@synod/timemaster')).runTimemaster(argv), true),
    'probe-node': raw('run one transport probe node (steered by JSON lines on stdin)', async () => PROBE_HELP, async (argv) => (await import('./probe-node.js')).runProbeNode(argv), true),
    'paxos-node': raw('run one replica of one Paxos group with durable LMDB state', async () => (await import('./paxos-node.js')).PAXOS_NODE_HELP, async (argv) => (await import('./paxos-node.js')).runPaxosNode(argv), true),
    'clock-node': raw('run the TrueTime sync daemon alone (steered by JSON lines on stdin)', async () => (await import('./clock-node.js')).CLOCK_NODE_HELP, async (argv) => (await import('./clock-node.js')).runClockNode(argv), true),
  };
}

/** The version: set when the CLI is built (services/cli/build.mjs), else the repository's package.json. */
function version(): string {
  if (process.env.SYNOD_VERSION) return process.env.SYNOD_VERSION;
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version + ' (source)';
  } catch {
    return 'unknown';
  }
}

/** Names a failure's kind for the error line: error classes of other packages, matched by name so that they are not loaded. */
function failure(err: unknown): { code: string; message: string; exitCode: number; bug: boolean } {
  const name = err instanceof Error ? err.name : '';
  if (name === 'DataDirLockedError') return { code: 'DATA_DIR', message: (err as Error).message, exitCode: EXIT.DATA_DIR, bug: false };
  if (name === 'NatsServerStartError') return { code: 'UNAVAILABLE', message: (err as Error).message, exitCode: EXIT.UNAVAILABLE, bug: false };
  if (err instanceof UsageError) return { code: 'INVALID_ARGUMENT', message: err.message, exitCode: EXIT.USAGE, bug: false };
  return describeFailure(err);
}

async function main(words: string[]): Promise<number> {
  // `synod help put` is `synod put --help`: the command's module (and so its options) loads by its name.
  const argv = words[0] === 'help' && words[1] !== undefined ? [...words.slice(1), '--help'] : words;
  const name = argv[0];
  try {
    await runCommandLine(argv, await registry(name), version(), (s) => process.stdout.write(s));
    return EXIT.OK;
  } catch (err) {
    if (err instanceof HelpShown) return EXIT.OK;
    if (err instanceof ExitCode) return err.code;
    const f = failure(err);
    const who = err instanceof UsageError ? (err.command ? `synod ${err.command}` : 'synod') : name ? `synod ${name}` : 'synod';
    const hint = f.bug ? ' (a bug in synod: SYNOD_DEBUG=1 prints the stack)' : '';
    process.stderr.write(`${who}: ${f.code}: ${oneLine(f.message)}${hint}\n`);
    if (process.env.SYNOD_DEBUG === '1') process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    return f.exitCode;
  }
}

/** Commands that keep running (servers, the cluster) end on their own signals, not when main returns. */
const LONG_RUNNING = ['probe-node', 'paxos-node', 'timemaster', 'clock-node', 'spanserver', 'placement', 'up', 'gateway', 'tap'];

main(process.argv.slice(2)).then(
  (code) => {
    if (!LONG_RUNNING.includes(process.argv[2] ?? '') || code !== 0) process.exit(code);
  },
  (err) => {
    process.stderr.write(`synod: INTERNAL: ${oneLine(String(err))}\n`);
    process.exit(EXIT.INTERNAL);
  },
);
