#!/usr/bin/env node
import { ConfigError } from '@synod/config';
import { SynodError } from '@synod/codec';
import { NatsServerStartError } from '@synod/natsd';
import { DataDirLockedError } from './data-dir-lock.js';
import { CHAOS_HELP, runChaos } from './chaos-command.js';
import { DEMO_HELP, runDemo } from './demo.js';
import { runProbeNode } from './probe-node.js';
import { PAXOS_NODE_HELP, runPaxosNode } from './paxos-node.js';
import { SPANSERVER_HELP, runSpanserver } from '@synod/spanserver';
import { CLIENT_HELP, runGet, runPut, runScan, runStatus, runTxn } from './client-commands.js';
import { UP_HELP, runUp } from './up.js';
import { TIMEMASTER_HELP, runTimemaster } from '@synod/timemaster';
import { CLOCK_CHAOS_HELP, isClockChaos, runClockChaos } from './clock-chaos.js';
import { CLOCK_NODE_HELP, runClockNode } from './clock-node.js';
import { GATEWAY_HELP, runGateway } from '@synod/gateway';
import { BENCH_HELP, runBench } from './bench.js';
import { PLACEMENT_HELP, runPlacement } from '@synod/placement-service';
import { PLACEMENT_ADMIN_HELP, runAdmin, runSplits } from './placement-commands.js';

const HELP = `synod — a sharded, Spanner-like transactional key-value store

Usage: synod <command> [options]

Commands:
  up           run a local cluster: nats-server, spanservers (--nodes-per-dc per DC) and a
               placement replica per DC (data under .synod)
  status       groups, leaders, DCs, t_safe lag and ε of every spanserver; locks held and
               prepared (2PC) transactions per split
  put          write one key (a read-write transaction)
  get          read one or more keys at one timestamp (strong, snapshot or bounded-staleness)
  scan         read a key range at one timestamp
  txn          run a small read-write transaction (get/put/del/add operations), across
               splits too (two-phase commit);
               'txn status <txnId>': the outcome of a transaction (committed / aborted / pending)
  splits       the range map from the placement service: ranges, replicas, leaders, size, load
  split        cut the split holding a key at that key
  move         move a replica of a split from one node to another
  drain        move every replica off a node
  lead         set a split's preferred leader DC
  bench        write load over a wide key range, printing throughput and each split cut
  gateway      run the HTTP/JSON gateway (OpenAPI at /openapi.json)
  spanserver   run one spanserver process
  placement    run one replica of the placement service
  demo         the local 3-DC demo: simulated DCs, then a replicated Paxos group under a partition
  chaos        inject DC partitions, latency, loss and node isolation into a running cluster
  probe-node   run one transport probe node (steered by JSON lines on stdin)
  paxos-node   run one replica of one Paxos group with durable LMDB state
  timemaster   run a time master (reference or drifting) for one DC
  clock-node   run the TrueTime sync daemon alone (steered by JSON lines on stdin)

Run 'synod <command> --help' for a command's options.`;

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

const commands: Record<string, { help: string; run: (argv: string[]) => Promise<void>; subcommandHelp?: Record<string, string> }> = {
  demo: { help: DEMO_HELP, run: runDemo },
  chaos: { help: `${CHAOS_HELP}\n\n${CLOCK_CHAOS_HELP}`, run: (argv) => (isClockChaos(argv) ? runClockChaos(argv) : runChaos(argv)) },
  'probe-node': { help: PROBE_HELP, run: runProbeNode },
  'paxos-node': { help: PAXOS_NODE_HELP, run: runPaxosNode },
  spanserver: { help: SPANSERVER_HELP, run: runSpanserver },
  placement: {
    help: PLACEMENT_HELP,
    run: async (argv) => {
      const code = await runPlacement(argv);
      if (code !== 0) throw new ExitCode(code);
    },
  },
  splits: { help: PLACEMENT_ADMIN_HELP.splits, run: runSplits },
  split: { help: PLACEMENT_ADMIN_HELP.split, run: runAdmin('split') },
  move: { help: PLACEMENT_ADMIN_HELP.move, run: runAdmin('move') },
  drain: { help: PLACEMENT_ADMIN_HELP.drain, run: runAdmin('drain') },
  lead: { help: PLACEMENT_ADMIN_HELP.lead, run: runAdmin('lead') },
  up: { help: UP_HELP, run: runUp },
  status: { help: CLIENT_HELP.status, run: runStatus },
  put: { help: CLIENT_HELP.put, run: runPut },
  get: { help: CLIENT_HELP.get, run: runGet },
  scan: { help: CLIENT_HELP.scan, run: runScan },
  txn: { help: CLIENT_HELP.txn, run: runTxn, subcommandHelp: { status: CLIENT_HELP.txnStatus } },
  timemaster: { help: TIMEMASTER_HELP, run: runTimemaster },
  'clock-node': { help: CLOCK_NODE_HELP, run: runClockNode },
  gateway: { help: GATEWAY_HELP, run: runGateway },
  bench: { help: BENCH_HELP, run: runBench },
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const cmd = commands[name];
  if (!cmd) {
    process.stderr.write(`synod: unknown command '${name}'\n\n${HELP}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    const sub = rest[0] !== undefined ? cmd.subcommandHelp?.[rest[0]] : undefined;
    try {
      process.stdout.write((sub ?? cmd.help) + '\n');
    } catch (err) {
      process.stderr.write(`synod ${name}: UNAVAILABLE: this command is not available in this checkout (${(err as Error).message.split('\n')[0]})\n`);
      return 1;
    }
    return 0;
  }
  try {
    await cmd.run(rest);
    return 0;
  } catch (err) {
    if (err instanceof ExitCode) return err.code;
    if (err instanceof ConfigError) {
      process.stderr.write(`synod ${name}: INVALID_ARGUMENT\n${err.message}\n`);
      return 2;
    }
    if (err instanceof DataDirLockedError) {
      process.stderr.write(`synod ${name}: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof NatsServerStartError) {
      process.stderr.write(`synod ${name}: UNAVAILABLE: ${err.message}\n`);
      return 1;
    }
    if (err instanceof SynodError) {
      process.stderr.write(`synod ${name}: ${err.code}: ${err.message}\n`);
      return 1;
    }
    // Anything else is a bug of ours: one line for the user, the stack when asked for.
    const first = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 500);
    process.stderr.write(`synod ${name}: INTERNAL: ${first} (SYNOD_DEBUG=1 prints the stack)\n`);
    if (process.env.SYNOD_DEBUG === '1') process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // probe-node keeps running until stdin closes; every other command ends here.
    if (!['probe-node', 'paxos-node', 'timemaster', 'clock-node', 'spanserver', 'placement', 'up'].includes(process.argv[2] ?? '') || code !== 0) process.exit(code);
  },
  (err) => {
    process.stderr.write(String(err) + '\n');
    process.exit(1);
  },
);
