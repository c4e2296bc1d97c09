import { fileURLToPath } from 'node:url';

/**
 * How this CLI starts another copy of itself (`synod up` and the demo run every spanserver,
 * placement replica, time master and gateway as `synod <command>` in a child process).
 *
 * From the compiled bundle (services/cli/dist/bin/synod.mjs) a child runs the same bundle: a
 * child compiling TypeScript with tsx would cost seconds per process and need the sources.
 * From source (tsx, vitest) a child runs main.ts through tsx, so edits take effect without a build.
 */

/** Set by services/cli/build.mjs to the entry's path relative to every output chunk. */
declare const __SYNOD_BUNDLE_ENTRY__: string | undefined;

/** The bundle's entry file when running from the bundle, otherwise undefined. */
export const BUNDLE_ENTRY: string | undefined = typeof __SYNOD_BUNDLE_ENTRY__ === 'string' ? fileURLToPath(new URL(__SYNOD_BUNDLE_ENTRY__, import.meta.url)) : undefined;

/** The repository root (holds node_modules/tsx); meaningful from source only. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const MAIN_SOURCE = fileURLToPath(new URL('./main.ts', import.meta.url));

/** A command line that runs `synod <args>`: executable, arguments and working directory. */
export interface SelfCommand {
  cmd: string;
  args: string[];
  /** undefined: the caller's working directory. */
  cwd: string | undefined;
}

/**
 * From source, children run this bundle instead of main.ts through tsx when the variable names
 * one: the benchmarks build it from the same sources first, so they measure the code users run
 * (tsx's transform adds a `__name` call to every function it creates, about 2% of a
 * spanserver's CPU under load) (docs/benchmarks.md).
 */
export const CHILD_BUNDLE_ENV = 'SYNOD_CHILD_BUNDLE';

/** The command line that runs this CLI with `args`, the same way this process runs; `nodeFlags` go to node itself (e.g. `--cpu-prof`). */
export function synodCommand(args: string[], nodeFlags: readonly string[] = []): SelfCommand {
  const entry = BUNDLE_ENTRY ?? (process.env[CHILD_BUNDLE_ENV] || undefined);
  if (entry !== undefined) return { cmd: process.execPath, args: [...nodeFlags, entry, ...args], cwd: undefined };
  // `--import tsx` is resolved from the working directory, so source children start in the repo root.
  return { cmd: process.execPath, args: [...nodeFlags, '--import', 'tsx', MAIN_SOURCE, ...args], cwd: REPO_ROOT };
}
