#!/usr/bin/env node
// Compiles the synod CLI into dist/bin/synod.mjs, so `synod` starts without compiling TypeScript
// on every run (tsx took 2–4 s). Usage: node services/cli/build.mjs [--quiet]
//
// The workspace packages (@synod/*, TypeScript sources) are bundled; every other package stays
// external and loads from node_modules at run time: lmdb and msgpackr-extract are native
// modules, pino starts worker threads by file name, and bundling them would break both.
// Splitting puts each dynamically imported command in its own chunk, loaded only when it runs.
import { execFileSync } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const cliDir = fileURLToPath(new URL('.', import.meta.url));
const root = join(cliDir, '..', '..');
const outdir = join(cliDir, 'dist', 'bin');
/** The entry's file name; chunks sit next to it, which is how self-command.ts finds it again. */
const ENTRY_FILE = 'synod.mjs';
const entrySource = join(cliDir, 'src', 'bin.ts');

const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
let sha = 'unknown';
try {
  sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || 'unknown';
} catch {
  // Not a git checkout (a tarball) or no git installed: the version alone still says something.
}

/**
 * Packages that must load from node_modules at run time: native addons (lmdb and what it loads,
 * msgpackr-extract) and pino, which starts worker threads by file name. Everything else (zod, nats,
 * commander, prom-client, …) is bundled: resolving and loading hundreds of small module files took
 * most of a short command's start-up.
 */
const RUNTIME_PACKAGES = /^(lmdb|msgpackr-extract|node-gyp-build-optional-packages|@lmdb\/|pino|thread-stream|sonic-boom|pino-[a-z-]+)(\/|$)/;
const externalRuntime = {
  name: 'external-runtime-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => (RUNTIME_PACKAGES.test(args.path) ? { path: args.path, external: true } : undefined));
  },
};

const t0 = Date.now();
const result = await build({
  absWorkingDir: root,
  entryPoints: { synod: entrySource },
  outdir,
  outExtension: { '.js': '.mjs' },
  // Flat on purpose: every chunk finds the entry as ./synod.mjs (see self-command.ts).
  chunkNames: 'chunk-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  define: {
    'process.env.SYNOD_VERSION': JSON.stringify(`${version} (${sha})`),
    __SYNOD_BUNDLE_ENTRY__: JSON.stringify(`./${ENTRY_FILE}`),
  },
  plugins: [externalRuntime],
  // Bundled CommonJS packages call require() for Node's built-ins: give every ES module file one.
  banner: { js: "import { createRequire as __synodCreateRequire } from 'node:module'; const require = __synodCreateRequire(import.meta.url);" },
  metafile: true,
  logLevel: 'warning',
});
const entry = join(outdir, ENTRY_FILE);
chmodSync(entry, 0o755);

// Chunks of earlier builds (other hashes) would pile up, but a process started from one of them
// (a running `synod up` while `npm test` rebuilds) still loads its chunks lazily and restarts
// children from them: only files no build has written for a day go.
const current = new Set(Object.keys(result.metafile.outputs).map((f) => resolve(root, f)));
const dayAgo = Date.now() - 24 * 3600_000;
for (const name of readdirSync(outdir)) {
  const file = join(outdir, name);
  if (!current.has(file) && statSync(file).mtimeMs < dayAgo) rmSync(file, { force: true });
}
if (!process.argv.includes('--quiet')) process.stderr.write(`built ${entry} (${version} (${sha})) in ${Date.now() - t0} ms\n`);
