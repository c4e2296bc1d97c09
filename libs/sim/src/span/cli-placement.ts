import { CUT_BROKEN_VARIANTS, TXN_BROKEN_VARIANTS } from '@synod/txn';
import { formatTotals, type SpanCliArgs } from './cli-span.js';
import type { PlacementDriverOptions } from './placement-driver.js';
import { runPlacement, type PlacementOptions, type PlacementResult } from './placement-simulation.js';
import { SPAN_QUIESCE_OPTIONS, type SpanTotals } from './simulation.js';

/** The variants the placement scenario accepts: the span scenario's and the cut's (libs/txn CUT_BROKEN_VARIANTS). */
export const PLACEMENT_BROKEN_VARIANTS = [...TXN_BROKEN_VARIANTS, ...CUT_BROKEN_VARIANTS] as const;
export type PlacementBrokenVariant = (typeof PLACEMENT_BROKEN_VARIANTS)[number];

export const PLACEMENT_USAGE = `placement scenario: npm run sim -- --scenario placement [--seeds N [--start S] | --seed S [--trace]]
       [--faults none|heavy] [--broken <variant>[,<variant>...]] [--transfer quiesced|immediate] [--hand-over-after N]
  the span scenario on 3 DCs x 2 nodes with a placement driver cutting splits, moving replicas
  to the other node of a DC and transferring leaderships under the span nemesis; clients route by
  a cached range map; checkers: the span ones, servedInRange (online), mapCoversKeySpace,
  replicasAgree, placementLiveness (docs/placement-sim.md)
  variants: ${PLACEMENT_BROKEN_VARIANTS.join(', ')}`;

export function parsePlacementBroken(s: string | undefined): PlacementBrokenVariant[] {
  if (s === undefined || s === '') return [];
  const names = s.split(',').map((x) => x.trim());
  for (const n of names)
    if (!(PLACEMENT_BROKEN_VARIANTS as readonly string[]).includes(n)) throw new Error(`unknown --broken variant ${n} for the placement scenario (one of ${PLACEMENT_BROKEN_VARIANTS.join(', ')})`);
  return names as PlacementBrokenVariant[];
}

type PlacementTotals = PlacementResult['placement'];

function formatPlacement(p: PlacementTotals): string {
  return `placement: cuts=${p.cuts} moves=${p.moves} transfers=${p.transfers} reconfigurations=${p.reconfigurations} cut-retries=${p.cutRetries} final-splits=${p.splits} map-refreshes=${p.refreshes}`;
}

export function describePlacementFailure(r: PlacementResult, flags: string): string {
  const lines = [`seed ${r.seed} FAILED: ${r.failedCheckers.join(', ')}`];
  for (const v of r.violations.slice(0, 3)) lines.push(`  ${v.checker} at ${v.atUs}us: ${v.detail.split('\n')[0]}`);
  lines.push(`  replay: npm run sim -- --scenario placement --seed ${r.seed}${flags}`);
  return lines.join('\n');
}

/** The placement scenario's command line, as the span scenario's. Returns the exit code. */
export function runPlacementCli(a: SpanCliArgs & { transfer?: string | undefined; handOverAfter?: number | undefined }, out: (line: string) => void = console.log): number {
  // The placement scenario starts from the 3 splits its driver cuts; it takes no --splits.
  if (a.splits !== undefined) throw new Error('--splits is an option of the span scenario, not of the placement scenario');
  const broken = parsePlacementBroken(a.broken);
  const faults: PlacementOptions['faults'] = a.faults === 'none' ? 'none' : 'standard';
  if (a.transfer !== undefined && a.transfer !== 'quiesced' && a.transfer !== 'immediate') throw new Error(`--transfer must be quiesced or immediate, not ${a.transfer}`);
  const transfer: PlacementDriverOptions['transfer'] = a.transfer === 'immediate' ? 'immediate' : 'quiesced';
  const handOver = a.handOverAfter;
  const flags = `${faults === 'none' ? ' --faults none' : ''}${broken.length > 0 ? ` --broken ${broken.join(',')}` : ''}${transfer === 'immediate' ? ' --transfer immediate' : ''}${handOver !== undefined ? ` --hand-over-after ${handOver}` : ''}${a.quiesce ? ' --quiesce' : ''}`;
  // The cut variants are TxnBroken flags like the others; the span options type lists only the span scenario's.
  const opts = (seed: number, trace: boolean) => ({ seed, trace, broken: broken as unknown as PlacementOptions['broken'], faults, ...(a.quiesce ? SPAN_QUIESCE_OPTIONS : {}), driver: { transfer, ...(handOver !== undefined ? { handOverAfterRefusals: handOver } : {}) } });
  if (a.seed !== undefined) {
    const t0 = process.hrtime.bigint();
    const r = runPlacement(opts(a.seed, a.trace));
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    if (a.trace) for (const line of r.trace) out(line);
    out(`seed ${a.seed}: ${r.ok ? 'ok' : 'FAILED'} trace=${r.traceHash} events=${r.events} end=${r.endUs}us in ${secs.toFixed(2)}s`);
    if (!r.ok) out(describePlacementFailure(r, flags));
    out(formatTotals(r.totals));
    out(formatPlacement(r.placement));
    out(`${r.ok ? 1 : 0} passed, ${r.ok ? 0 : 1} failed`);
    return r.ok ? 0 : 1;
  }
  const count = a.seeds ?? 100;
  const start = a.start ?? 1;
  let passed = 0;
  let failed = 0;
  const totals: SpanTotals = { rwCommitted: 0, xsplitCommitted: 0, roCompleted: 0, aborts: 0, leaderChanges: 0, clockSteps: 0, crashes: 0, statusLookups: 0, unknownOutcomes: 0, stalledWrites: 0, syncs: 0, applyRefusals: 0, quietLeaderTicks: 0 };
  const placement: PlacementTotals = { cuts: 0, moves: 0, transfers: 0, cutRetries: 0, reconfigurations: 0, splits: 0, refreshes: 0 };
  const t0 = process.hrtime.bigint();
  for (let seed = start; seed < start + count; seed++) {
    const r = runPlacement(opts(seed, false));
    for (const k of Object.keys(totals) as Array<keyof SpanTotals>) totals[k] += r.totals[k];
    for (const k of Object.keys(placement) as Array<keyof PlacementTotals>) placement[k] += r.placement[k];
    if (r.ok) passed++;
    else {
      failed++;
      out(describePlacementFailure(r, flags));
    }
    const done = seed - start + 1;
    if (done % 50 === 0 && done < count) out(`... ${done}/${count} seeds (${failed} failed) in ${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(1)}s`);
  }
  out(`${count} seeds in ${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(1)}s`);
  out(formatTotals(totals));
  out(formatPlacement(placement));
  out(`${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}
