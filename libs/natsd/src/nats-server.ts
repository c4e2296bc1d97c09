import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NATS_MAX_PAYLOAD_BYTES } from '@synod/limits';
import { findNatsServer } from './find-binary.js';

export interface NatsServerOptions {
  /** 0 (default) picks a free loopback port. */
  port?: number;
  host?: string;
  /** Longest wait for the server to accept connections. */
  startTimeoutMs?: number;
  binary?: string;
  /**
   * The server's max_payload in bytes; default NATS_MAX_PAYLOAD_BYTES, what synod's limits
   * are sized for (nats-server's own default of 1 MiB cannot carry a maximal value).
   */
  maxPayloadBytes?: number;
  /**
   * Extra nats-server arguments. A `-c`/`--config` file here replaces the one this harness
   * writes (nats-server reads only the last), so that file must set max_payload itself.
   */
  args?: string[];
  /**
   * Users and their subject permissions (docs/transport.md "Credentials"). When given, the
   * server admits only these users; without it, anyone may connect and publish anything.
   * Written into the generated config file, mode 0600 in a 0700 directory (it holds passwords).
   */
  authorization?: { users: Array<{ user: string; password: string; permissions: unknown }> };
  /** Receives the server's own log lines, for debugging. */
  onLog?: (line: string) => void;
  /**
   * argv run before the server's own, e.g. `ip netns exec <ns>` (DcNetwork.wrap) to run it in a
   * DC's network namespace. It must exec the server (not fork it), so that the pid and signals
   * are the server's. Requires an explicit `port` and `host` (a free port cannot be probed from here).
   */
  spawnPrefix?: string[];
  /** Join a cluster of servers by routes (docs/transport.md "One server per DC"). */
  cluster?: NatsClusterConfig;
}

/** A server's part in a cluster of nats-servers joined by routes. */
export interface NatsClusterConfig {
  /** The cluster's name; every server of it has the same. */
  name: string;
  /** Where this server accepts routes from the others. */
  host: string;
  port: number;
  /** The other servers' route addresses, `host:port` (credentials are added from `authorization`). */
  routes: string[];
  /** One user for every route, both to accept and to solicit; without it any peer that reaches the port may join. */
  authorization?: { user: string; password: string };
  /**
   * How often a server pings its connections, clients and routes alike, in seconds (default 2
   * in a cluster): with `pingMax` (default 2) it bounds how long a cut route goes unnoticed
   * before the server drops it and starts soliciting it again.
   */
  pingIntervalSeconds?: number;
  pingMax?: number;
}

/** What synod puts in a nats-server config file; the one rendering for local servers and Kubernetes Secrets. */
export interface NatsConfigParts {
  /** Default NATS_MAX_PAYLOAD_BYTES. */
  maxPayloadBytes?: number | undefined;
  authorization?: NatsServerOptions['authorization'] | undefined;
  cluster?: NatsClusterConfig | undefined;
}

/**
 * A nats-server config file's text. The NATS config format reads JSON values, so the users and
 * their permissions go in as JSON.
 */
export function natsConfigText(parts: NatsConfigParts): string {
  const auth = parts.authorization ? `authorization: ${JSON.stringify(parts.authorization)}\n` : '';
  return `max_payload: ${parts.maxPayloadBytes ?? NATS_MAX_PAYLOAD_BYTES}\n${auth}${parts.cluster ? clusterConfigText(parts.cluster) : ''}`;
}

function clusterConfigText(c: NatsClusterConfig): string {
  const a = c.authorization;
  const cred = a ? `${encodeURIComponent(a.user)}:${encodeURIComponent(a.password)}@` : '';
  const block = {
    name: c.name,
    listen: `${c.host}:${c.port}`,
    ...(a ? { authorization: { user: a.user, password: a.password } } : {}),
    routes: c.routes.map((r) => `nats-route://${cred}${r}`),
    // Clients stay on the server they were given (their DC's): advertising the others would let
    // a client roam to another DC's server on a reconnect, across a partition.
    no_advertise: true,
  };
  return `ping_interval: "${c.pingIntervalSeconds ?? 2}s"\nping_max: ${c.pingMax ?? 2}\ncluster: ${JSON.stringify(block)}\n`;
}

/** nats-server did not start: it exited (e.g. its port is in use), could not be run, or never accepted. */
export class NatsServerStartError extends Error {
  readonly port: number;
  /** The server said its port is already in use. */
  readonly inUse: boolean;
  constructor(message: string, info: { port: number; inUse: boolean }) {
    super(message);
    this.name = 'NatsServerStartError';
    this.port = info.port;
    this.inUse = info.inUse;
  }
}

export interface NatsServerHandle {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const srv = createServer();
  srv.listen(0, host);
  await once(srv, 'listening');
  const addr = srv.address();
  srv.close();
  await once(srv, 'close');
  if (addr === null || typeof addr === 'string') throw new Error('could not determine a free port');
  return addr.port;
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    // An address behind a cut (or not yet routable) drops the SYN: without a bound this hangs for minutes.
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(false);
    }, 1_000);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

const live = new Set<ChildProcess>();
/** Generated config directories, removed when their server exits (or with this process). */
const configDirs = new Set<string>();
let exitHookInstalled = false;
function killAllOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test runner or launcher that dies must not leave a nats-server behind.
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL');
    for (const d of configDirs) rmSync(d, { recursive: true, force: true });
  });
}

/**
 * Starts a nats-server on loopback, resolves once it says it is ready and accepts TCP
 * connections, and returns a handle whose stop() waits for the process to exit. Rejects with
 * NatsServerStartError when the server exits first: a port already in use (another server
 * answering there) is a failed start, not a successful one.
 */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const binary = opts.binary ?? findNatsServer();
  const host = opts.host ?? '127.0.0.1';
  if (opts.spawnPrefix && !opts.port) throw new Error('startNatsServer: spawnPrefix needs an explicit port (a free one cannot be probed from this network namespace)');
  const port = opts.port || (await freePort(host));
  const args = opts.args ?? [];
  const ownConfig = args.some((a) => a === '-c' || a === '--config' || a.startsWith('--config='));
  // Silently dropping the users would start an open server the caller believes is locked.
  if (ownConfig && opts.authorization) throw new Error('startNatsServer: authorization cannot be combined with an own -c/--config file (nats-server reads only the last)');
  // max_payload has no command-line flag in nats-server 2.9 (Debian's), only a config setting.
  let configDir: string | undefined;
  const configArgs: string[] = [];
  if (!ownConfig) {
    configDir = mkdtempSync(join(tmpdir(), 'synod-natsd-'));
    configDirs.add(configDir);
    const file = join(configDir, 'nats.conf');
    writeFileSync(file, natsConfigText({ maxPayloadBytes: opts.maxPayloadBytes, authorization: opts.authorization, cluster: opts.cluster }), { mode: 0o600 });
    configArgs.push('-c', file);
  }
  killAllOnExit();
  const removeConfig = () => {
    if (!configDir) return;
    rmSync(configDir, { recursive: true, force: true });
    configDirs.delete(configDir);
  };
  const serverArgv = [binary, '-a', host, '-p', String(port), ...configArgs, ...args];
  const argv = [...(opts.spawnPrefix ?? []), ...serverArgv];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const logs: string[] = [];
  /** Set when this server's own log says it listens: a connect alone could reach another server on the port. */
  let ready = false;
  const partial = { stdout: '', stderr: '' };
  const onData = (stream: 'stdout' | 'stderr') => (buf: Buffer) => {
    const lines = (partial[stream] + buf.toString()).split('\n');
    partial[stream] = lines.pop() ?? '';
    for (const line of lines.filter(Boolean)) {
      if (logs.length < 50) logs.push(line);
      if (line.includes('Server is ready')) ready = true;
      opts.onLog?.(line);
    }
  };
  child.stdout!.on('data', onData('stdout'));
  child.stderr!.on('data', onData('stderr'));
  let exited = false;
  let exitCode: number | null = null;
  let exitSignal: NodeJS.Signals | null = null;
  let spawnError: Error | undefined;
  const exitedPromise = new Promise<void>((resolve) => {
    const done = () => {
      exited = true;
      live.delete(child);
      removeConfig();
      resolve();
    };
    child.once('exit', (code, signal) => {
      exitCode = code;
      exitSignal = signal;
      done();
    });
    // A binary that cannot be started emits 'error' and no 'exit'.
    child.once('error', (err) => {
      spawnError = err;
      done();
    });
  });
  // With its log sent elsewhere (-l/--log, syslog) the ready line never reaches us: then a
  // connect that the server survives has to do.
  const logsElsewhere = args.some((a) => ['-l', '--log', '-s', '--syslog', '-r', '--remote_syslog'].includes(a) || a.startsWith('--log='));

  const failure = () => {
    for (const s of ['stdout', 'stderr'] as const) if (partial[s] && logs.length < 50) logs.push(partial[s]);
    const fatal = logs.find((l) => l.includes('[FTL]'));
    const inUse = logs.some((l) => /address already in use/i.test(l));
    const how = spawnError ? `could not be started (${spawnError.message})` : `exited during start (${exitSignal ? `signal ${exitSignal}` : `exit code ${exitCode}`})`;
    return new NatsServerStartError(
      `nats-server on ${host}:${port} ${how}${inUse ? `: port ${port} is already in use` : fatal ? `: ${fatal.replace(/^\[\d+\] \S+ \S+ /, '')}` : ''}\n${logs.join('\n')}`,
      { port, inUse },
    );
  };
  const deadline = Date.now() + (opts.startTimeoutMs ?? 10_000);
  for (;;) {
    if (exited) throw failure();
    if ((ready || logsElsewhere) && (await canConnect(host, port))) {
      // A bind failure can be logged and the process gone a moment after another server on the
      // same port accepted our connect: look once more before calling it started.
      await new Promise((r) => setTimeout(r, logsElsewhere ? 200 : 0));
      if (exited) throw failure();
      break;
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new NatsServerStartError(`nats-server did not accept connections on ${host}:${port} in time:\n${logs.join('\n')}`, { port, inUse: false });
    }
    await new Promise((r) => setTimeout(r, 25));
  }

  return {
    url: `nats://${host}:${port}`,
    port,
    pid: child.pid!,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exitedPromise;
      clearTimeout(timer);
    },
  };
}
