#!/usr/bin/env node
// `npm run k6 -- <script> [k6 run flags]`: real `k6 run` when k6 is on the PATH, else the synod
// k6 runner (a test harness, docs/k6.md). SYNOD_K6=runner or SYNOD_K6=k6 forces one of them.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

const args = process.argv.slice(2);
const runArgs = args[0] === 'run' ? args.slice(1) : args;
const choice = process.env.SYNOD_K6 ?? (onPath('k6') ? 'k6' : 'runner');
if (choice !== 'k6' && choice !== 'runner') {
  console.error(`SYNOD_K6 must be "k6" or "runner", got "${choice}"`);
  process.exit(2);
}
const [cmd, argv] = choice === 'k6' ? ['k6', ['run', ...runArgs]] : [process.execPath, [fileURLToPath(new URL('./k6-runner/run.mjs', import.meta.url)), 'run', ...runArgs]];
const child = spawn(cmd, argv, { stdio: 'inherit' });
// The child gets Ctrl-C from the terminal itself; the launcher only waits for its exit code.
for (const sig of /** @type {const} */ (['SIGINT', 'SIGTERM'])) process.on(sig, () => child.kill(sig));
child.on('error', (e) => {
  console.error(`could not start ${cmd}: ${e.message}`);
  process.exit(2);
});
child.on('exit', (code, /** @type {any} */ signal) => process.exit(code ?? 128 + (signal ? osConstants.signals[signal] ?? 0 : 0)));
