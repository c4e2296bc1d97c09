import { parseArgs } from 'node:util';
import { BROKEN_VARIANTS, FAULT_MODES, type BrokenVariant, type FaultMode } from './options.js';
import { runSimulation, type SimResult } from './simulation.js';

const USAGE = `usage: npm run sim -- [--seeds N [--start S] | --seed S [--trace]]
       [--replicas 3|5] [--groups G] [--faults none|light|heavy] [--broken <variant>]
variants: ${Object.keys(BROKEN_VARIANTS).join(', ')}`;

function fail(msg: string): never {
  console.error(`${msg}\n${USAGE}`);
  process.exit(2);
}

function intArg(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) fail(`--${name} must be a non-negative integer`);
  return n;
}

const { values } = parseArgs({
  options: {
    seeds: { type: 'string' },
    start: { type: 'string' },
    seed: { type: 'string' },
    trace: { type: 'boolean', default: false },
    replicas: { type: 'string', default: '3' },
    groups: { type: 'string', default: '2' },
    faults: { type: 'string', default: 'heavy' },
    broken: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const replicas = intArg('replicas', values.replicas, 3);
if (replicas !== 3 && replicas !== 5) fail('--replicas must be 3 or 5');
const groups = intArg('groups', values.groups, 2);
if (groups < 1) fail('--groups must be >= 1');
const faults = values.faults as FaultMode;
if (!FAULT_MODES.includes(faults)) fail(`--faults must be one of ${FAULT_MODES.join(', ')}`);
const broken = values.broken as BrokenVariant | undefined;
if (broken !== undefined && !(broken in BROKEN_VARIANTS)) fail(`unknown --broken variant ${broken}`);

const common = { replicas: replicas as 3 | 5, groups, faults, broken };
const sharedFlags = [
  `--replicas ${replicas}`,
  `--groups ${groups}`,
  `--faults ${faults}`,
  ...(broken ? [`--broken ${broken}`] : []),
].join(' ');

function describeFailure(r: SimResult): string {
  const v = r.violations[0]!;
  return [
    `seed ${r.seed} FAILED at ${v.atUs}us: ${v.checker}`,
    `  ${v.detail}`,
    `  replay: npm run sim -- --seed ${r.seed} --trace ${sharedFlags}`,
  ].join('\n');
}

if (values.seed !== undefined) {
  const seed = intArg('seed', values.seed, 1);
  const r = runSimulation({ seed, ...common, trace: values.trace });
  if (values.trace) for (const line of r.trace) console.log(line);
  console.log(
    `seed ${seed}: ${r.ok ? 'ok' : 'FAILED'} trace=${r.traceHash} events=${r.events} acked=${r.commandsAcked} ` +
      `leaderships=${r.leadershipChanges} end=${r.endUs}us`,
  );
  if (!r.ok) console.log(describeFailure(r));
  console.log(`${r.ok ? 1 : 0} passed, ${r.ok ? 0 : 1} failed`);
  // exitCode, not exit(): exit() can cut off a long trace still being written to a pipe.
  process.exitCode = r.ok ? 0 : 1;
} else {
  runMany();
}

function runMany(): void {
  const count = intArg('seeds', values.seeds, 100);
  const start = intArg('start', values.start, 1);
  let passed = 0;
  let failed = 0;
  const t0 = process.hrtime.bigint();
  for (let seed = start; seed < start + count; seed++) {
    const r = runSimulation({ seed, ...common, trace: false });
    if (r.ok) passed++;
    else {
      failed++;
      console.log(describeFailure(r));
    }
    const done = seed - start + 1;
    if (done % 50 === 0 && done < count) {
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      console.log(`... ${done}/${count} seeds (${failed} failed) in ${secs.toFixed(1)}s`);
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 ? 0 : 1;
}
