#!/usr/bin/env node
// Makes a fresh clone runnable: installs npm packages (npm ci) when node_modules is missing or
// stale, the Debian package nats-server when its binary is missing, then builds the synod CLI
// (services/cli/dist/bin/synod.mjs) and puts `synod` on PATH pointing at this checkout. Plain
// Node, no dependencies, idempotent: npm runs it before `npm start` and `npm test` (with --tests:
// also Debian's chromium for the browser test, iptables and shellcheck), CI directly.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, lstatSync, mkdirSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const say = (s) => process.stderr.write(`[ensure-deps] ${s}\n`);
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: ['ignore', 2, 2], cwd: root, ...opts });

const bundle = join(root, 'services', 'cli', 'dist', 'bin', 'synod.mjs');
const installed = join(root, 'node_modules', '.package-lock.json');
const lock = join(root, 'package-lock.json');
if (!existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs) {
  say('installing npm packages (npm ci)…');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

const binDirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/local/bin', '/usr/bin'];
const hasBinary = (name) =>
  binDirs.some((d) => {
    try {
      accessSync(join(d, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
const apt = (...args) =>
  process.getuid?.() === 0 ? run('apt-get', args, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }) : run('sudo', ['apt-get', ...args]);
/** Installs a Debian package when its binary is missing (and no override variable names one). */
function ensureDebianPackage(binary, pkg, overrideVar, why) {
  if (process.env[overrideVar] || hasBinary(binary)) return;
  say(`${binary} is missing (${why}); installing the Debian package ${pkg}…`);
  try {
    apt('update', '-qq');
    apt('install', '-y', '-qq', pkg);
  } catch {
    say(`could not install ${pkg}. Install the Debian package yourself (apt-get install -y ${pkg}) or set ${overrideVar} to the binary.`);
    process.exit(1);
  }
}
ensureDebianPackage('nats-server', 'nats-server', 'SYNOD_NATS_SERVER', 'every cluster runs one');
// Only the tests need a browser (test/picture drives Debian's chromium headless): `npm test` and CI pass --tests.
if (process.argv.includes('--tests')) {
  ensureDebianPackage('chromium', 'chromium', 'CHROMIUM_PATH', 'the live picture\'s browser test');
  // Real network partitions cut DCs with iptables' legacy backend (docs/netns.md); the kind scripts are shellcheck-clean (a test).
  ensureDebianPackage('iptables-legacy', 'iptables', 'SYNOD_IPTABLES', 'network partitions between DC namespaces');
  ensureDebianPackage('shellcheck', 'shellcheck', 'SYNOD_SHELLCHECK', 'the kind scripts\' lint test');
}

// Always rebuilt (esbuild takes a fraction of a second): a `synod` older than the sources would
// run code that is no longer there.
{
  const t0 = Date.now();
  run(process.execPath, [join(root, 'services', 'cli', 'build.mjs'), '--quiet']);
  say(`built the synod CLI: ${bundle} (${Date.now() - t0} ms)`);
}

// `synod` on PATH: a symlink in npm's global bin directory (where `npm link` would put it; this
// is quicker and needs no registry), pointing at this checkout's bundle. A symlink left by
// another checkout (CI clones to a new path every time) is re-pointed; anything else named
// synod there is not ours and stays.
const linkDirs = [];
try {
  const prefix = process.env.npm_config_global_prefix || execFileSync('npm', ['prefix', '-g'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  if (prefix) linkDirs.push(join(prefix, 'bin'));
} catch {
  // No npm on PATH (unusual, it ran `npm ci`): the per-user directory below still works.
}
linkDirs.push(join(homedir(), '.local', 'bin'));
const onPath = (dir) => (process.env.PATH ?? '').split(delimiter).some((d) => d && resolve(d) === resolve(dir));
const isOurs = (link) => {
  try {
    if (!lstatSync(link).isSymbolicLink()) return false;
  } catch {
    return true; // nothing there
  }
  const target = readlinkSync(link);
  return target.endsWith(join('services', 'cli', 'dist', 'bin', 'synod.mjs')) || target.includes(join('@synod', 'cli'));
};
let linked;
const refused = [];
for (const dir of linkDirs) {
  const link = join(dir, 'synod');
  if (!isOurs(link)) {
    refused.push(`${link} exists and is not a synod checkout's link`);
    continue;
  }
  try {
    mkdirSync(dir, { recursive: true });
    // Made beside it and renamed over it, so `synod` never disappears, even with two runs at once.
    const tmp = `${link}.${process.pid}.tmp`;
    rmSync(tmp, { force: true });
    symlinkSync(bundle, tmp);
    renameSync(tmp, link);
    linked = link;
    break;
  } catch (err) {
    refused.push(`${link}: ${err.code ?? err.message}`);
  }
}
const skipped = linked && refused.length ? ` (skipped ${refused.join('; ')})` : '';
if (!linked) {
  say(`could not install synod on PATH (${refused.join('; ')}); run it as node ${bundle}`);
} else if (!onPath(dirname(linked))) {
  say(`installed ${linked} -> ${bundle}, but ${dirname(linked)} is not on PATH: add it (export PATH="${dirname(linked)}:$PATH")${skipped}`);
} else {
  // An earlier PATH entry with its own synod would shadow this one.
  const first = (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'synod')).find((f) => existsSync(f));
  if (first && resolve(first) !== resolve(linked)) say(`installed ${linked} -> ${bundle}, but ${first} comes first on PATH${skipped}`);
  else say(`synod on PATH: ${linked} -> ${bundle}${skipped}`);
}
