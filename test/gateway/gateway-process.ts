import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { synodCommand } from '@synod/cli';
import { runToEnd, type ProcessResult } from '../run-process.js';

/** A `synod gateway` child process and where it listens. */
export interface GatewayProcess {
  proc: ChildProcess;
  url: string;
  stderr: () => string;
  /** SIGTERM, then the exit code (SIGKILL after `timeoutMs`). */
  stop(timeoutMs?: number): Promise<number | null>;
}

/** Runs `synod <args>` to its end (SIGKILL after `timeoutMs`). */
export function runSynod(args: string[], timeoutMs = 20_000): Promise<ProcessResult> {
  const { cmd, args: full, cwd } = synodCommand(args);
  return runToEnd(cmd, full, { cwd, timeoutMs });
}

/** Starts `synod gateway <args> --port 0` and waits for the line naming its address. */
export function startGateway(args: string[], timeoutMs = 20_000): Promise<GatewayProcess> {
  const { cmd, args: full, cwd } = synodCommand(['gateway', '--port', '0', '--log-level', 'warn', ...args]);
  const proc = spawn(cmd, full, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`gateway did not listen in ${timeoutMs} ms: ${err}`));
    }, timeoutMs);
    void exited.then((code) => reject(new Error(`gateway exited with ${code} before listening: ${err}`)));
    proc.stdout!.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.includes('"listening"'));
      if (!line) return;
      clearTimeout(timer);
      const url = (JSON.parse(line) as { listening: string }).listening;
      resolve({
        proc,
        url,
        stderr: () => err,
        async stop(ms = 10_000) {
          if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
          proc.kill('SIGTERM');
          const t = setTimeout(() => proc.kill('SIGKILL'), ms);
          const code = await exited;
          clearTimeout(t);
          return code;
        },
      });
    });
  });
}

export interface ApiReply {
  status: number;
  headers: Headers;
  body: any;
}

/** One HTTP request to the gateway with a JSON (or raw) body, bounded in time. */
export async function api(base: string, method: string, path: string, opts: { body?: unknown; raw?: string | Buffer; token?: string; headers?: Record<string, string> } = {}): Promise<ApiReply> {
  const headers: Record<string, string> = { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...opts.headers };
  let body: string | Buffer | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
  const res = await fetch(base + path, { method, headers, ...(body !== undefined ? { body } : {}), signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: the test sees the text (and fails where it expects JSON).
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

/**
 * A request with a body the server should refuse from its Content-Length alone (413): the
 * headers go first and the body only if no answer came within a second, so the answer is never
 * lost to a reset while a refused body is still being written (fetch cannot do this).
 */
export function rawRequest(base: string, method: string, path: string, body: Buffer, token: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    let sendBody: NodeJS.Timeout | undefined;
    const req = request(base + path, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': body.length }, timeout: 20_000 }, (res) => {
      clearTimeout(sendBody);
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.flushHeaders();
    sendBody = setTimeout(() => req.end(body), 1_000);
  });
}
