import { fileURLToPath } from 'node:url';
import { runToEnd, type ProcessResult } from '../run-process.js';

/** The repository root, where `npm run k6` runs. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Runs `node loadtest/k6.mjs run <args>` (what `npm run k6 --` runs) with the runner forced, so a
 * k6 binary on the PATH does not change what is tested; SIGKILL after `timeoutMs`.
 */
export function runK6(args: string[], timeoutMs: number, env: Record<string, string> = {}): Promise<ProcessResult> {
  return runToEnd(process.execPath, ['loadtest/k6.mjs', 'run', ...args], { cwd: ROOT, env: { ...process.env, ...env, SYNOD_K6: 'runner' }, timeoutMs });
}
