import { spawn } from 'node:child_process';

export interface ProcessResult {
  code: number | null;
  out: string;
  err: string;
}

/** Runs a command to its end, collecting stdout and stderr; SIGKILL after `timeoutMs`. */
export function runToEnd(cmd: string, args: string[], opts: { timeoutMs: number; cwd?: string | undefined; env?: NodeJS.ProcessEnv }): Promise<ProcessResult> {
  const p = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.on('data', (d) => (out += d));
  p.stderr.on('data', (d) => (err += d));
  const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs);
  return new Promise((resolve) =>
    p.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    }),
  );
}
