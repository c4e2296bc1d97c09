/**
 * The installed `synod` (docs/install.md): what a user runs, found on PATH the way a shell finds it.
 * The README's set-up (infra/ensure-deps.mjs, run before `npm test`) builds and installs it.
 */
import { spawn, spawnSync } from 'node:child_process';

export function installedSynod(): string {
  const r = spawnSync('sh', ['-c', 'command -v synod'], { encoding: 'utf8' });
  const path = r.stdout.trim();
  if (r.status !== 0 || path === '') throw new Error("no 'synod' on PATH: run 'node infra/ensure-deps.mjs' (the README's set-up builds and installs it)");
  return path;
}

export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `synod args…` to its end, bounded by `timeoutMs` (then killed). */
export function runSynod(bin: string, args: string[], opts: { cwd: string; env?: Record<string, string>; stdin?: string; timeoutMs?: number }): Promise<Ran> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(bin, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - t0 });
    });
    // A command may refuse its input before reading all of it (a value over the limit) and exit: EPIPE is its answer, not ours.
    child.stdin.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') stderr += `\n[test: stdin: ${err.message}]`;
    });
    child.stdin.end(opts.stdin ?? '');
  });
}
