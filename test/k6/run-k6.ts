import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root, where `npm run k6` runs. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Runs `node loadtest/k6.mjs run <args>` (what `npm run k6 --` runs) with the runner forced, so a
 * k6 binary on the PATH does not change what is tested; SIGKILL after `timeoutMs`.
 */
export function runK6(args: string[], timeoutMs: number, env: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
  const p = spawn(process.execPath, ['loadtest/k6.mjs', 'run', ...args], { cwd: ROOT, env: { ...process.env, ...env, SYNOD_K6: 'runner' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.on('data', (d) => (out += d));
  p.stderr.on('data', (d) => (err += d));
  const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) =>
    p.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    }),
  );
}
