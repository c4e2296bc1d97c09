import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, connect } from 'node:net';
import { findNatsServer } from './find-binary.js';

export interface NatsServerOptions {
  /** 0 (default) picks a free loopback port. */
  port?: number;
  host?: string;
  /** Longest wait for the server to accept connections. */
  startTimeoutMs?: number;
  binary?: string;
  /** Extra nats-server arguments, e.g. ['--max_payload', '4MB']. */
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
let exitHookInstalled = false;
function killAllOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test runner or launcher that dies must not leave a nats-server behind.
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL');
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
  const child = spawn(binary, ['-a', host, '-p', String(port), ...(opts.args ?? [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  killAllOnExit();
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
