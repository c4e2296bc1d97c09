import { parseArgs } from 'node:util';
import { BROKEN_VARIANTS, FAULT_MODES, QUIESCE_OPTIONS, SCENARIOS, scenarioOptions, type BrokenVariant, type FaultMode, type Scenario, type SimOptions } from './options.js';
import { longRunOptions, runSimulation, type SimResult } from './simulation.js';
import { PLACEMENT_USAGE, runPlacementCli } from './span/cli-placement.js';
import { SPAN_USAGE, runSpanCli } from './span/cli-span.js';

const USAGE = `usage: npm run sim -- [--seeds N [--start S] | --seed S [--trace] | --long-run [--entries N]]
       [--scenario basic|production|span|placement] [--replicas 3|5] [--groups G] [--faults none|light|heavy]
       [--drift-ppm D] [--snapshot-every N] [--slow-disks] [--quiesce] [--broken <variant>]
scenarios: basic (the default); production (compaction + snapshot transfer, membership
           changes replacing crashed replicas, flexible quorums drawn per seed, lease reads)
--quiesce: groups go quiet after 150 ms idle (node beats stand in for heartbeats) and clients
           pause 800 ms of every 1.5 s, so quiet groups are woken under faults
--long-run: one fault-free run until every group has N (default 100000) chosen slots,
           compacting every --snapshot-every (default 1000) slots; prints max log length vs bound
variants: ${Object.keys(BROKEN_VARIANTS).join(', ')}
${SPAN_USAGE}
${PLACEMENT_USAGE}`;

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
    transfer: { type: 'string' },
    'hand-over-after': { type: 'string' },
    scenario: { type: 'string', default: 'basic' },
    'drift-ppm': { type: 'string' },
    'snapshot-every': { type: 'string' },
    'slow-disks': { type: 'boolean', default: false },
    quiesce: { type: 'boolean', default: false },
    'long-run': { type: 'boolean', default: false },
    entries: { type: 'string' },
    splits: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

if (values.scenario === 'span' || values.scenario === 'placement') spanMain(values.scenario === 'span' ? runSpanCli : runPlacementCli);
else paxosMain();

/** The span and placement scenarios have their own options, variants and checkers (span/cli-span.ts, span/cli-placement.ts). */
function spanMain(run: typeof runPlacementCli): void {
  try {
    process.exitCode = run({
      seeds: values.seeds !== undefined ? intArg('seeds', values.seeds, 100) : undefined,
      start: values.start !== undefined ? intArg('start', values.start, 1) : undefined,
      seed: values.seed !== undefined ? intArg('seed', values.seed, 1) : undefined,
      trace: values.trace,
      faults: values.faults ?? 'heavy',
      broken: values.broken,
      transfer: values.transfer,
      handOverAfter: values['hand-over-after'] !== undefined ? intArg('hand-over-after', values['hand-over-after'], 20) : undefined,
      splits: values.splits !== undefined ? intArg('splits', values.splits, 3) : undefined,
      quiesce: values.quiesce,
    });
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
}

/** The Paxos scenarios (basic, production). */
function paxosMain(): void {
  const replicas = intArg('replicas', values.replicas, 3);
  if (replicas !== 3 && replicas !== 5) fail('--replicas must be 3 or 5');
  const groups = intArg('groups', values.groups, 2);
  if (groups < 1) fail('--groups must be >= 1');
  const faults = values.faults as FaultMode;
  if (!FAULT_MODES.includes(faults)) fail(`--faults must be one of ${FAULT_MODES.join(', ')}`);
  const broken = values.broken as BrokenVariant | undefined;
  if (broken !== undefined && !(broken in BROKEN_VARIANTS)) fail(`unknown --broken variant ${broken}`);

  const scenario = values.scenario as Scenario;
  if (!SCENARIOS.includes(scenario)) fail(`--scenario must be one of ${SCENARIOS.join(', ')}`);
  const extra: Partial<SimOptions> = {};
  if (values['drift-ppm'] !== undefined) extra.maxDriftPpm = intArg('drift-ppm', values['drift-ppm'], 0);
  if (values['snapshot-every'] !== undefined) extra.snapshotIntervalEntries = intArg('snapshot-every', values['snapshot-every'], 0);
  if (values['slow-disks']) extra.slowDisks = true;
  if (values.quiesce) Object.assign(extra, QUIESCE_OPTIONS);

  const common = { replicas: replicas as 3 | 5, groups, faults, broken };
  const forSeed = (seed: number): Partial<SimOptions> & { seed: number } => ({ seed, ...common, ...scenarioOptions(scenario, seed), ...extra });
  const sharedFlags = [
    `--scenario ${scenario}`,
    `--replicas ${replicas}`,
    `--groups ${groups}`,
    `--faults ${faults}`,
    ...(values['drift-ppm'] !== undefined ? [`--drift-ppm ${values['drift-ppm']}`] : []),
    ...(values['snapshot-every'] !== undefined ? [`--snapshot-every ${values['snapshot-every']}`] : []),
    ...(values['slow-disks'] ? ['--slow-disks'] : []),
    ...(values.quiesce ? ['--quiesce'] : []),
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

  if (values['long-run']) {
    longRun();
  } else if (values.seed !== undefined) {
    const seed = intArg('seed', values.seed, 1);
    const r = runSimulation({ ...forSeed(seed), trace: values.trace });
    if (values.trace) for (const line of r.trace) console.log(line);
    console.log(
      `seed ${seed}: ${r.ok ? 'ok' : 'FAILED'} trace=${r.traceHash} events=${r.events} acked=${r.commandsAcked} ` +
        `reads=${r.readsServed} leaderships=${r.leadershipChanges} installs=${r.snapshotInstalls} quietLeaderTicks=${r.quietLeaderTicks} reconfigs=${r.reconfigs} learners=${r.learners.added} promoted=${r.learners.promoted} transfers=${r.learners.transfers}/${r.learners.handOffs} end=${r.endUs}us`,
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
    const totals = { acked: 0, reads: 0, installs: 0, reconfigs: 0, learners: 0, promoted: 0, transfers: 0, handOffs: 0, quietTicks: 0, quietSeeds: 0 };
    const t0 = process.hrtime.bigint();
    for (let seed = start; seed < start + count; seed++) {
      const r = runSimulation({ ...forSeed(seed), trace: false });
      totals.reads += r.readsServed;
      totals.installs += r.snapshotInstalls;
      totals.reconfigs += r.reconfigs;
      totals.learners += r.learners.added;
      totals.promoted += r.learners.promoted;
      totals.transfers += r.learners.transfers;
      totals.handOffs += r.learners.handOffs;
      totals.acked += r.commandsAcked;
      totals.quietTicks += r.quietLeaderTicks;
      if (r.quietLeaderTicks > 0) totals.quietSeeds++;
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
    console.log(
      `totals: ${totals.acked} writes acked, ${totals.reads} lease reads served, ${totals.installs} snapshot installs, ${totals.reconfigs} membership changes, ` +
        `${totals.learners} learners added, ${totals.promoted} promoted, ${totals.transfers} leader transfers (${totals.handOffs} handed over)` +
        (values.quiesce ? `, quiet leaders in ${totals.quietSeeds} seeds (${totals.quietTicks} leader ticks)` : ''),
    );
    console.log(`${passed} passed, ${failed} failed`);
    process.exitCode = failed === 0 ? 0 : 1;
  }

  function longRun(): void {
    const entries = intArg('entries', values.entries, 100_000);
    const t0 = process.hrtime.bigint();
    const r = runSimulation(longRunOptions(entries, { groups: values.groups === '2' ? 1 : groups, ...extra }));
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const f = r.footprint;
    for (const g of r.groups) console.log(`${g.group}: ${g.chosen} chosen slots, applied ${JSON.stringify(g.appliedUpTo)}`);
    console.log(
      `max log length ${f.maxLog} (bound ${f.logBound}), max chosen-map ${f.maxChosenMap}, max dedupe entries ${f.maxDedupe}, ` +
        `${f.samples} samples, ${r.commandsAcked} commands, ${r.events} events, ${(r.endUs / 1e6).toFixed(1)}s virtual in ${secs.toFixed(1)}s`,
    );
    const ok = r.ok && f.maxLog <= f.logBound && r.groups.every((g) => g.chosen >= entries);
    if (!r.ok) console.log(describeFailure(r));
    console.log(`${ok ? 1 : 0} passed, ${ok ? 0 : 1} failed`);
    process.exitCode = ok ? 0 : 1;
  }
}
