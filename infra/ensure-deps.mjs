#!/usr/bin/env node
// Makes a fresh clone runnable: installs npm packages (npm ci) when node_modules is missing or
// stale, and the Debian package nats-server when its binary is missing. Plain Node, no
// dependencies, idempotent: npm runs it before `npm start` and `npm test`.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const say = (s) => process.stderr.write(`[ensure-deps] ${s}\n`);
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: ['ignore', 2, 2], cwd: root, ...opts });

const installed = join(root, 'node_modules', '.package-lock.json');
const lock = join(root, 'package-lock.json');
if (!existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs) {
  say('installing npm packages (npm ci)…');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

const natsDirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/local/bin', '/usr/bin'];
const hasNats = () =>
  natsDirs.some((d) => {
    try {
      accessSync(join(d, 'nats-server'), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
if (!process.env.SYNOD_NATS_SERVER && !hasNats()) {
  const apt = (...args) =>
    process.getuid?.() === 0 ? run('apt-get', args, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }) : run('sudo', ['apt-get', ...args]);
  say('nats-server is missing; installing the Debian package nats-server…');
  try {
    apt('update', '-qq');
    apt('install', '-y', '-qq', 'nats-server');
  } catch {
    say('could not install nats-server. Install the Debian package yourself (apt-get install -y nats-server) or set SYNOD_NATS_SERVER to the binary.');
    process.exit(1);
  }
}
