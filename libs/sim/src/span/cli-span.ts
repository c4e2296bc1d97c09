import { TXN_BROKEN_VARIANTS } from '@synod/txn';
import { manySplitsOptions, MAX_SPAN_SPLITS, runSpan, SPAN_QUIESCE_OPTIONS, type SpanOptions, type SpanResult, type SpanTotals, type TxnBrokenVariant } from './simulation.js';

export const SPAN_USAGE = `span scenario: npm run sim -- --scenario span [--seeds N [--start S] | --seed S [--trace]]
       [--faults none|heavy] [--broken <variant>[,<variant>...]] [--splits N] [--quiesce]
  3 DCs x 1 node, 3 splits, the real Paxos replica, SplitTxnCore and TrueTime sync per node;
  --splits N (1..${MAX_SPAN_SPLITS}): N splits, each with a replica on every node, 2PC across 2-4 of them;
  --quiesce: splits go quiet after 200 ms idle (node beats, no lease) and clients pause 1.2 s of every 2 s;
  most transfers and some register/list transactions cross splits (two-phase commit);
  seed % 6 picks a shape: standard, lease-edge, slow-clients, failover, deposed, big-epsilon-failover;
  checkers: strictSerializability, snapshotExact, realTimeOrder, tSafeNotAhead, ackedAppliedOnce,
  atomicCommit, bankConserved, twoPhaseLiveness (and online: appliedAlike, refusalsAreLate, replica assertions)
  variants (TxnBroken): ${TXN_BROKEN_VARIANTS.join(', ')}`;

export interface SpanCliArgs {
  seeds?: number | undefined;
  start?: number | undefined;
  seed?: number | undefined;
  trace: boolean;
  faults: string;
  broken?: string | undefined;
  /** Many splits per node (manySplitsOptions); unset: the default 3 splits and workload. */
  splits?: number | undefined;
  /** Quiescent groups and client lulls (SPAN_QUIESCE_OPTIONS). */
  quiesce?: boolean | undefined;
}

/** Parses `--broken a,b` into TxnBroken variant names; throws with the valid names on a typo. */
export function parseBroken(s: string | undefined): TxnBrokenVariant[] {
  if (s === undefined || s === '') return [];
  const names = s.split(',').map((x) => x.trim());
  for (const n of names) if (!(TXN_BROKEN_VARIANTS as readonly string[]).includes(n)) throw new Error(`unknown --broken variant ${n} for the span scenario (one of ${TXN_BROKEN_VARIANTS.join(', ')})`);
  return names as TxnBrokenVariant[];
}

const TOTAL_KEYS: Array<[keyof SpanTotals, string]> = [
  ['rwCommitted', 'rw-committed'],
  ['xsplitCommitted', 'xsplit-committed'],
  ['roCompleted', 'ro-committed'],
  ['aborts', 'aborts'],
  ['leaderChanges', 'leader-changes'],
  ['clockSteps', 'clock-steps'],
  ['crashes', 'crashes'],
  ['statusLookups', 'status-lookups'],
  ['unknownOutcomes', 'unknown-outcomes'],
  ['stalledWrites', 'stalled-writes'],
  ['applyRefusals', 'apply-refusals'],
  ['quietLeaderTicks', 'quiet-leader-ticks'],
];

export function formatTotals(t: SpanTotals): string {
  return `totals: ${TOTAL_KEYS.map(([k, name]) => `${name}=${t[k]}`).join(' ')}`;
}

export function describeSpanFailure(r: SpanResult, flags: string): string {
  const lines = [`seed ${r.seed} FAILED: ${r.failedCheckers.join(', ')}`];
  for (const v of r.violations.slice(0, 3)) lines.push(`  ${v.checker} at ${v.atUs}us: ${v.detail.split('\n')[0]}`);
  lines.push(`  replay: npm run sim -- --scenario span --seed ${r.seed}${flags}`);
  return lines.join('\n');
}

/** The span scenario's command line: one seed (optionally traced) or many. Returns the exit code. */
export function runSpanCli(a: SpanCliArgs, out: (line: string) => void = console.log): number {
  const broken = parseBroken(a.broken);
  const faults: SpanOptions['faults'] = a.faults === 'none' ? 'none' : 'standard';
  const many = a.splits !== undefined ? manySplitsOptions(a.splits) : {};
  const quiesce = a.quiesce ? SPAN_QUIESCE_OPTIONS : {};
  const flags = `${faults === 'none' ? ' --faults none' : ''}${broken.length > 0 ? ` --broken ${broken.join(',')}` : ''}${a.splits !== undefined ? ` --splits ${a.splits}` : ''}${a.quiesce ? ' --quiesce' : ''}`;
  const opts = (seed: number, trace: boolean): Partial<SpanOptions> & { seed: number } => ({ seed, trace, broken, faults, ...many, ...quiesce });
  if (a.seed !== undefined) {
    const t0 = process.hrtime.bigint();
    const r = runSpan(opts(a.seed, a.trace));
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    if (a.trace) for (const line of r.trace) out(line);
    out(`seed ${a.seed}: ${r.ok ? 'ok' : 'FAILED'} trace=${r.traceHash} events=${r.events} end=${r.endUs}us in ${secs.toFixed(2)}s`);
    if (!r.ok) out(describeSpanFailure(r, flags));
    out(formatTotals(r.totals));
    out(`${r.ok ? 1 : 0} passed, ${r.ok ? 0 : 1} failed`);
    return r.ok ? 0 : 1;
  }
  const count = a.seeds ?? 100;
  const start = a.start ?? 1;
  let passed = 0;
  let failed = 0;
  const totals: SpanTotals = { rwCommitted: 0, xsplitCommitted: 0, roCompleted: 0, aborts: 0, leaderChanges: 0, clockSteps: 0, crashes: 0, statusLookups: 0, unknownOutcomes: 0, stalledWrites: 0, syncs: 0, applyRefusals: 0, quietLeaderTicks: 0 };
  const t0 = process.hrtime.bigint();
  for (let seed = start; seed < start + count; seed++) {
    const r = runSpan(opts(seed, false));
    for (const k of Object.keys(totals) as Array<keyof SpanTotals>) totals[k] += r.totals[k];
    if (r.ok) passed++;
    else {
      failed++;
      out(describeSpanFailure(r, flags));
    }
    const done = seed - start + 1;
    if (done % 50 === 0 && done < count) out(`... ${done}/${count} seeds (${failed} failed) in ${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(1)}s`);
  }
  out(`${count} seeds in ${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(1)}s`);
  out(formatTotals(totals));
  out(`${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}
