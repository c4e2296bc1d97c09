#!/usr/bin/env node
// The runtime stage of the container image (Dockerfile, docs/install.md "Container image"):
// copies the built CLI bundle (services/cli/dist/bin: synod.mjs, its chunks and source maps) to
// <out>/ and, to <out>/node_modules/, exactly the packages the bundle leaves external (the bare
// imports in its files: lmdb and pino, see services/cli/build.mjs) with their dependency closure
// (dependencies and the optionalDependencies that are installed: lmdb's native prebuilds,
// msgpackr-extract, pino's thread-stream …), as npm ci laid them out. Nothing else: no dev
// dependencies, no TypeScript sources, no other workspace package.
// Usage: node infra/image/runtime-files.mjs <out>   (run from the repository root, after the build)
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const bundleDir = join(root, 'services', 'cli', 'dist', 'bin');

/** Bare package names a bundle file imports: static `import … from "x"` and `import("x")`. */
export function externalImports(text) {
  const names = new Set();
  for (const m of text.matchAll(/^import\s[^;]*?\sfrom\s*"([^"]+)";/gm)) names.add(m[1]);
  for (const m of text.matchAll(/^import\s*"([^"]+)";/gm)) names.add(m[1]);
  for (const m of text.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g)) names.add(m[1]);
  const builtins = new Set(builtinModules);
  return [...names]
    .filter((n) => !n.startsWith('.') && !n.startsWith('/') && !n.startsWith('node:') && !builtins.has(n))
    .map((n) => (n.startsWith('@') ? n.split('/').slice(0, 2).join('/') : n.split('/')[0]));
}

/** The directory of package `name` as Node resolves it from `fromDir` (nested node_modules first). */
function packageDir(name, fromDir) {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === root || dirname(dir) === dir) return undefined;
  }
}

/** Every package directory the roots need at run time, as paths relative to the repository root. */
export function runtimeClosure(roots) {
  const seen = new Set();
  const queue = roots.map((name) => ({ name, from: root, required: true }));
  while (queue.length > 0) {
    const { name, from, required } = queue.shift();
    const dir = packageDir(name, from);
    if (!dir) {
      if (required) throw new Error(`runtime package ${name} (needed from ${relative(root, from) || '.'}) is not installed`);
      continue; // an optional dependency for another platform
    }
    const rel = relative(root, dir);
    if (seen.has(rel)) continue;
    seen.add(rel);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    for (const dep of Object.keys(pkg.dependencies ?? {})) queue.push({ name: dep, from: dir, required: true });
    for (const dep of Object.keys(pkg.optionalDependencies ?? {})) queue.push({ name: dep, from: dir, required: false });
  }
  return [...seen].sort();
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = process.argv[2];
  if (!out) {
    console.error('usage: node infra/image/runtime-files.mjs <out-dir>');
    process.exit(2);
  }
  if (!existsSync(join(bundleDir, 'synod.mjs'))) {
    console.error(`no bundle at ${bundleDir}: run node services/cli/build.mjs first`);
    process.exit(1);
  }
  mkdirSync(out, { recursive: true });
  const roots = new Set();
  for (const f of readdirSync(bundleDir)) {
    cpSync(join(bundleDir, f), join(out, f));
    if (f.endsWith('.mjs')) for (const n of externalImports(readFileSync(join(bundleDir, f), 'utf8'))) roots.add(n);
  }
  const dirs = runtimeClosure([...roots].sort());
  for (const rel of dirs) cpSync(join(root, rel), join(out, rel), { recursive: true, dereference: true });
  // The bundle is an ES module; a package.json marks the directory so (and names the image's contents).
  writeFileSync(join(out, 'package.json'), JSON.stringify({ name: 'synod-image', private: true, type: 'module' }, null, 2) + '\n');
  console.log(`runtime files in ${out}: bundle + ${dirs.length} packages for ${[...roots].sort().join(', ')}`);
}
