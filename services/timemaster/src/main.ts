#!/usr/bin/env node
/** Standalone entry: `tsx services/timemaster/src/main.ts --node-id tm-a --dc dc-a` (same as `synod timemaster`). */
import { ConfigError } from '@synod/config';
import { TIMEMASTER_HELP, runTimemaster } from './timemaster.js';

const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  process.stdout.write(TIMEMASTER_HELP + '\n');
  process.exit(0);
}
runTimemaster(argv).catch((err: unknown) => {
  process.stderr.write(err instanceof ConfigError ? `timemaster: INVALID_ARGUMENT\n${err.message}\n` : `timemaster: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(err instanceof ConfigError ? 2 : 1);
});
