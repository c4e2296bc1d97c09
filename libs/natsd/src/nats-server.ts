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
  /** Receives the server's own log lines, for debugging. */
  onLog?: (line: string) => void;
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
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
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
 * Starts a nats-server on loopback, resolves once it accepts TCP connections, and returns a
 * handle whose stop() waits for the process to exit.
 */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const binary = opts.binary ?? findNatsServer();
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port || (await freePort(host));
  const args = opts.args ?? [];
  const ownConfig = args.some((a) => a === '-c' || a === '--config' || a.startsWith('--config='));
  // max_payload has no command-line flag in nats-server 2.9 (Debian's), only a config setting.
  let configDir: string | undefined;
  const configArgs: string[] = [];
  if (!ownConfig) {
    configDir = mkdtempSync(join(tmpdir(), 'synod-natsd-'));
    configDirs.add(configDir);
    const file = join(configDir, 'nats.conf');
    writeFileSync(file, `max_payload: ${opts.maxPayloadBytes ?? NATS_MAX_PAYLOAD_BYTES}\n`);
    configArgs.push('-c', file);
  }
  killAllOnExit();
  const removeConfig = () => {
    if (!configDir) return;
    rmSync(configDir, { recursive: true, force: true });
    configDirs.delete(configDir);
  };
  const child = spawn(binary, ['-a', host, '-p', String(port), ...configArgs, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const logs: string[] = [];
  const onData = (buf: Buffer) => {
    for (const line of buf.toString().split('\n').filter(Boolean)) {
      if (logs.length < 50) logs.push(line);
      opts.onLog?.(line);
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      live.delete(child);
      removeConfig();
      resolve();
    }),
  );

  const deadline = Date.now() + (opts.startTimeoutMs ?? 10_000);
  while (!(await canConnect(host, port))) {
    if (exited) throw new Error(`nats-server exited during start:\n${logs.join('\n')}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nats-server did not accept connections on ${host}:${port} in time:\n${logs.join('\n')}`);
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
