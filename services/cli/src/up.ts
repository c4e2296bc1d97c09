import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { SynodClient } from '@synod/client';
import { SynodError } from '@synod/codec';
import { booleanFlag, loadConfig, nodeIdentity } from '@synod/config';
import { findTools, requireRoot } from '@synod/netns';
import { connectBus, type Bus } from '@synod/transport';
import { Bank } from './bank.js';
import { rememberCluster } from './cluster-context.js';
import { launchCluster, LaunchAbortedError, type LaunchedCluster } from './cluster-launch.js';
import { collectStatus, renderStatus } from './client-commands.js';
import type { ChildNode } from './child-node.js';
import { LOG_FILE_MAX_BYTES } from './child-node.js';
import { EXIT_DATA_DIR_LOCKED, lockDataDir } from './data-dir-lock.js';
import { MAX_NODES_PER_DC } from './initial-placement.js';

export const UP_HELP = `synod up — run a local cluster: nats-server, spanservers, time masters and the placement
service, as child processes

Options:
  --data-dir <dir>       where every process keeps its data, default .synod
  --dcs <n>              datacenters, 1..5, default 3
  --nodes-per-dc <n>     spanservers per DC, 1..${MAX_NODES_PER_DC}, default 1: node ids n1…n(dcs×n), DCs round-robin
                         (n1, n2, n3 in dc-a, dc-b, dc-c); each split has one replica per DC,
                         the splits spread over each DC's nodes, and a preferred leader DC
  --placement-service <auto|off>  auto (default): one placement replica per DC (p1, p2, …,
                         data under <data-dir>/p<i>) starting from <data-dir>/placement.json,
                         skipped with a log line when the placement package cannot run or its
                         replicas do not come up; off: none (clients route by placement.json)
  --split-keys <k,k>     where to cut the key space into splits, default g,p (3 splits)
  --nats-port <port>     default: a free port
  --truetime <daemon|local>  daemon (default): a time master per DC and a sync daemon in every
                         spanserver; local: each spanserver uses its host clock ± --epsilon-ms
  --sync-interval-ms <ms>  how often spanservers sync with the masters, default 5000
  --epsilon-ms <ms>      ε of the local stand-in, default 1
  --workload <none|bank> run a workload against it, default none (bank: accounts spread over
                         every split, so most transfers commit across splits)
  --duration <s>         stop after this long (0: run until Ctrl-C), default 0
  --cluster <name>       subject prefix, default synod
  --nats-auth <users|none>  users (default): a NATS user with a random password per process and
                         subject permissions by role (a client cannot publish Paxos, 2PC, clock
                         or chaos traffic; a node cannot send as another), credentials in
                         <data-dir>/creds/<user>.json (mode 0600): n1…, tm-<dc>, p<i>, and
                         operator, client, gateway, which synod's own commands (status, put, get,
                         chaos, splits, bench, gateway …) find through <data-dir>/cluster.json;
                         none: nats-server admits anyone
  --netns                each DC in its own network namespace (needs root, ip and iptables-legacy):
                         one nats-server per DC on the DC's address, joined by routes, every process
                         talking to its own DC's server; 'synod chaos partition <dc> --network' then
                         cuts the DC with iptables (docs/netns.md). Tools on the host connect to
                         dc-a's server, or to the --dc one's (put, get, txn …)
  --log-level <level>    the children's log level: trace, debug, info, warn (default), error,
                         fatal or silent

Prints where everything is and the cluster's state every few seconds; Ctrl-C (SIGINT) or SIGTERM
stops everything cleanly, also during start-up. Other commands (status, put, get, scan, txn,
chaos, splits, split, move, drain, lead) find the cluster through <data-dir>/cluster.json, which
exists while the cluster runs and lists the placement replicas. An existing
<data-dir>/placement.json is reused as is (its nodes and splits win over --dcs, --nodes-per-dc
and --split-keys).

Supervision:
  - <data-dir>/up.lock holds the pid of the 'synod up' using the directory; a second 'synod up'
    on it exits with code ${EXIT_DATA_DIR_LOCKED} and leaves the first one running. A lock whose process is
    gone is taken over.
  - every process logs to <data-dir>/logs/<name>.log (nats-server, tm-<dc>, n1…), appended
    across runs; a file past ${LOG_FILE_MAX_BYTES / 1024 / 1024} MiB moves to <name>.log.1 (one older file kept).
  - a child that exits while the cluster runs is announced with its exit code or signal and its
    last log lines; the others keep running.
  - a NATS port already in use (--nats-port) is a failed start: UNAVAILABLE, exit code 4.
  - once every split has a leader, the data directory is remembered as the current cluster
    (~/.config/synod/current-cluster.json, or $SYNOD_CONFIG_DIR): other commands find it from
    any directory without --data-dir.

Exit codes: 0 stopped after --duration, 1 failed, 2 bad flag, ${EXIT_DATA_DIR_LOCKED} data directory in use or unusable,
130 / 143 stopped by SIGINT / SIGTERM.`;

const options = z.object({
  dataDir: z.string().default('.synod'),
  dcs: z.coerce.number().int().min(1).max(5).default(3),
  nodesPerDc: z.coerce.number().int().min(1).max(MAX_NODES_PER_DC).default(1),
  placementService: z.enum(['auto', 'off']).default('auto'),
  splitKeys: z.string().default('g,p'),
  natsPort: z.coerce.number().int().min(0).max(65535).default(0),
  epsilonMs: z.coerce.number().positive().default(1),
  truetime: z.enum(['daemon', 'local']).default('daemon'),
  syncIntervalMs: z.coerce.number().int().positive().default(5_000),
  workload: z.enum(['none', 'bank']).default('none'),
  duration: z.coerce.number().nonnegative().default(0),
  cluster: nodeIdentity.cluster,
  natsAuth: z.enum(['none', 'users']).default('users'),
  netns: booleanFlag.default(false),
  logLevel: nodeIdentity.logLevel.default('warn'),
});

const say = (s: string) => process.stdout.write(s + '\n');

/** Waits until every split has a leader that answers; returns how long it took. */
export async function waitForLeaders(bus: Bus, cluster: LaunchedCluster, timeoutMs = 20_000): Promise<number> {
  const t0 = Date.now();
  const splits = cluster.rangeMap.all().map((s) => s.id);
  while (Date.now() - t0 < timeoutMs) {
    const rows = await collectStatus(bus, cluster.rangeMap.nodes());
    const led = new Set(rows.flatMap((r) => r.status?.groups.filter((g) => g.isLeader && g.tSafe > 0).map((g) => g.id) ?? []));
    if (splits.every((s) => led.has(s))) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new SynodError('UNAVAILABLE', `not every split elected a leader within ${timeoutMs} ms`);
}

/** Lines of a child's log repeated when it exits unexpectedly. */
const LAST_LINES = 12;

/** Announces a child that exits while the cluster is up, with how it ended and its last log lines. */
function watchChild(child: ChildNode, isStopping: () => boolean): void {
  void child.exit.then(({ code, signal }) => {
    if (isStopping()) return;
    const how = signal ? `killed by ${signal}` : `exit code ${code}`;
    const tail = child.stderrTail.slice(-LAST_LINES);
    say(
      `\n!! ${child.name} (pid ${child.proc.pid}) exited unexpectedly: ${how}; the rest of the cluster keeps running.` +
        (tail.length ? `\n!! last ${tail.length} log lines of ${child.name}${child.logFile ? ` (all in ${child.logFile})` : ''}:\n${tail.map((l) => `   ${l}`).join('\n')}` : `\n!! ${child.name} logged nothing${child.logFile ? ` (${child.logFile})` : ''}`),
    );
  });
}

export async function runUp(argv: string[]): Promise<void> {
  const opts = loadConfig(options, { argv });
  // Before anything is written: without root or the tools nothing of the network can be made.
  if (opts.netns) {
    requireRoot();
    findTools();
  }
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  // Before anything else: a second 'up' must not touch the first one's files or processes.
  const lock = lockDataDir(dataDir);
  if (lock.tookOverFromPid !== undefined) say(`took over ${lock.path}: its process (pid ${lock.tookOverFromPid}) is gone`);
  // Signals from here on stop what was started; during start-up through the abort signal.
  const abort = new AbortController();
  let onSignal: (code: number) => void = (code) => {
    say(`stopping start-up…`);
    signalCode = code;
    abort.abort();
  };
  let signalCode: number | undefined;
  process.on('SIGINT', () => onSignal(130));
  process.on('SIGTERM', () => onSignal(143));
  let cluster: LaunchedCluster;
  let bus: Bus;
  try {
    cluster = await launchCluster({ dataDir, dcs: opts.dcs, nodesPerDc: opts.nodesPerDc, placementService: opts.placementService, splitKeys: opts.splitKeys.split(',').filter(Boolean), cluster: opts.cluster, natsPort: opts.natsPort, epsilonMs: opts.epsilonMs, truetime: opts.truetime, syncIntervalMs: opts.syncIntervalMs, logLevel: opts.logLevel, natsAuth: opts.natsAuth, netns: opts.netns, say, signal: abort.signal });
    try {
      // `up` watches and steers the cluster (status, workload): the operator credential.
      bus = await connectBus(cluster.info.natsUrl, { nodeId: `up-${process.pid}`, dc: cluster.rangeMap.nodes()[0]!.dc, cluster: opts.cluster, ...(cluster.info.creds ? { natsCreds: join(cluster.info.creds, 'operator.json') } : {}) });
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  } catch (err) {
    lock.release();
    if (err instanceof LaunchAbortedError && signalCode !== undefined) {
      say('all processes stopped.');
      process.exit(signalCode);
    }
    throw err;
  }
  if (signalCode !== undefined) {
    // A signal between the last start-up step and here.
    await bus.close().catch(() => undefined);
    await cluster.stop();
    lock.release();
    say('all processes stopped.');
    process.exit(signalCode);
  }
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping…');
    await bank?.stop().catch(() => undefined);
    await bus.close().catch(() => undefined);
    await cluster.stop();
    lock.release();
    say('all processes stopped.');
    process.exit(code);
  };
  onSignal = (code) => void stop(code);
  for (const child of [...cluster.masters, ...cluster.nodes, ...cluster.placement]) watchChild(child, () => stopping);
  let bank: Bank | undefined;
  try {
    const ms = await waitForLeaders(bus, cluster);
    say(`every split has a leader (${ms} ms)`);
    try {
      say(`current cluster: ${dataDir} (remembered in ${rememberCluster(dataDir)}: synod commands find it from any directory)\n`);
    } catch (err) {
      say(`note: could not remember this cluster as the current one (${err instanceof Error ? err.message : String(err)}): pass --data-dir ${dataDir} to other commands\n`);
    }
    say(renderStatus(await collectStatus(bus, cluster.rangeMap.nodes())));
    if (opts.workload === 'bank') {
      bank = new Bank(new SynodClient(bus, cluster.rangeMap), { accounts: 20, initial: 1000, workers: 8, spread: 'all' });
      await bank.setup();
      bank.start();
      say(`\nbank workload: 20 accounts × 1000 spread over all ${cluster.rangeMap.all().length} splits, 8 workers transferring (most transfers cross splits: two-phase commit), an auditor summing every balance in read-only snapshots`);
    }
    const started = Date.now();
    let lastTransfers = 0;
    for (let tick = 1; opts.duration === 0 || Date.now() - started < opts.duration * 1000; tick++) {
      await new Promise((r) => setTimeout(r, 1000));
      if (bank) {
        const s = bank.stats;
        say(`t=${String(tick).padStart(3)}s  transfers ${s.transfers} (+${s.transfers - lastTransfers}/s, cross-split ${s.crossSplit})  audits ${s.audits} (bad ${s.badAudits})  retries ${s.retries}  failed ${s.failed}`);
        lastTransfers = s.transfers;
      }
      if (tick % 5 === 0) say(renderStatus(await collectStatus(bus, cluster.rangeMap.nodes())));
    }
    if (bank) {
      await bank.stop();
      const { sum } = await bank.audit();
      say(`\nfinal audit: total ${sum} (expected ${bank.total}); ${bank.stats.transfers} transfers (${bank.stats.crossSplit} across splits), ${bank.stats.audits} snapshot audits, ${bank.stats.badAudits} bad`);
      if (sum !== bank.total || bank.stats.badAudits > 0) throw new SynodError('INTERNAL', 'bank invariant violated');
    }
    await stop(0);
  } catch (err) {
    say(`error: ${err instanceof Error ? err.message : String(err)}`);
    await stop(1);
  }
}
