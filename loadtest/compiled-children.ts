/**
 * Benchmarks run from source (tsx), but the processes they start should be what `synod up` runs:
 * the compiled CLI bundle. This builds it from the same sources and makes every child started
 * through @synod/cli use it (services/cli/src/self-command.ts, CHILD_BUNDLE_ENV).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CHILD_BUNDLE_ENV } from '@synod/cli';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Builds services/cli/dist/bin/synod.mjs (about a second) and points children at it; returns its path. */
export function useCompiledChildren(progress: (s: string) => void): string {
  const t0 = Date.now();
  execFileSync(process.execPath, ['services/cli/build.mjs', '--quiet'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const entry = fileURLToPath(new URL('../services/cli/dist/bin/synod.mjs', import.meta.url));
  process.env[CHILD_BUNDLE_ENV] = entry;
  progress(`children run the compiled CLI, rebuilt from these sources in ${Date.now() - t0} ms: ${entry}`);
  return entry;
}
