import { z } from 'zod';
import { SynodError } from '@synod/codec';
import { connectOptions, loadWith, withClient, type Connected } from './client-commands.js';
import { fetchPlacementMap, type PlacementMap } from './placement-commands.js';
import { scenario, SCENARIOS } from './bench-scenarios.js';

export const BENCH_HELP = `synod bench [--scenario write] [--duration-s 60] [--clients 32] [--keys 1000000] [--value-bytes 64] [--every-s 5]
  — load against a running cluster ('synod up') while watching the range map: the placement
    service cuts splits whose write load stays over its threshold (docs/placement.md), and the
    bench prints each cut as it sees it.

Scenarios (the k6 scripts' mixes, run natively through the TypeScript client: docs/k6.md):
  write        one key per transaction, keys drawn uniformly from a wide range (8 random base-36
               characters under --prefix): what makes the placement service cut (the default)
  kv           over min(--keys, 1000) preloaded keys: 60% strong reads, 20% writes, 10% 10-key
               snapshot reads, 5% scans of 20, 5% a write then a delete of a scratch key
  bank         20 accounts: read-write transfers (2PC across splits) and a snapshot auditor; the
               total must never change (else exit 1, INTERNAL)
  hot          every client increments one counter and its own tally in one transaction; at the
               end the counter must equal the sum of the tallies
  read-mostly  95% bounded-staleness reads (--stale-ms) of 1–5 preloaded keys, 5% writes

Prints, every --every-s seconds:
  t=<s>s  <unit>/s <n>  p50 <ms>  p99 <ms>  errors <n>  splits <n>  generation <g>
and, for every split that appears between two polls of the map (once a second):
  cut  t=<s>s  <parent> ["start", "end") at "<key>" -> <child>  (parent load before the cut: <w> writes/s)
and at the end a summary line:
  bench: <scenario>: <n> <unit> in <s> s (<w>/s), errors <n>, splits <a> -> <b>, cuts <c>; <invariant>

Options:
  --duration-s <s>     how long to write, default 60 (1..3600)
  --clients <n>        concurrent writers, default 32 (1..1024)
  --keys <n>           distinct keys per writer's draw, default 1000000
  --prefix <p>         key prefix, default '' (keys then span the whole key space)
  --value-bytes <n>    bytes per value, default 64 (1..65536)
  --every-s <s>        progress line interval, default 5
  -o, --output json    one JSON object per line instead of text (default table)

Connection options:
  --data-dir <dir>     a cluster started by 'synod up' (reads <dir>/cluster.json); default: as for 'synod put'
  --nats-url <url>, --placement <file>, --dc <dc>, --cluster <name>: as for 'synod put'`;

export const benchOptions = connectOptions.extend({
  durationS: z.coerce.number().positive().max(3_600).default(60).describe('how long to write, seconds (1..3600)'),
  clients: z.coerce.number().int().min(1).max(1_024).default(32).describe('concurrent writers (1..1024)'),
  keys: z.coerce.number().int().min(1).max(2 ** 40).default(1_000_000).describe("distinct keys per writer's draw"),
  prefix: z.string().max(64).default('').describe("key prefix ('' spans the whole key space)"),
  valueBytes: z.coerce.number().int().min(1).max(65_536).default(64).describe('bytes per value (1..65536)'),
  everyS: z.coerce.number().positive().max(3_600).default(5).describe('progress line interval, seconds'),
  output: z.enum(['json', 'table']).default('table').describe('output format: json (one object per line) or table'),
  scenario: z.enum(SCENARIOS).default('write').describe('write (blind writes over a wide range), kv, bank, hot or read-mostly: the k6 scripts\' mixes (docs/k6.md)'),
  staleMs: z.coerce.number().int().min(0).max(3_600_000).default(5_000).describe('read-mostly: the staleness bound of its reads'),
});
type BenchOptions = z.infer<typeof benchOptions>;

const KEY_CHARS = '0123456789abcdefghijklmnopqrstuvwxyz';

/** A key drawn uniformly from `keys` values, spread over the key space by its base-36 spelling. */
function drawKey(prefix: string, keys: number): string {
  let n = Math.floor(Math.random() * keys);
  let s = '';
  for (let i = 0; i < 8; i++) {
    s = KEY_CHARS[n % 36]! + s;
    n = Math.floor(n / 36);
  }
  // Reversed digits: consecutive numbers land far apart, so the draw covers the whole range.
  return prefix + [...s].reverse().join('');
}

interface Window {
  latenciesMs: number[];
  errors: number;
}

export async function runBench(argv: string[]): Promise<void> {
  await withClient<BenchOptions>(argv, (c) => bench(c), loadWith(benchOptions));
}

async function bench({ client, bus, opts }: Connected<BenchOptions>): Promise<void> {
  const out = (text: string, json: Record<string, unknown>) => process.stdout.write((opts.output === 'json' ? JSON.stringify(json) : text) + '\n');
  const value = 'v'.repeat(opts.valueBytes);
  const work = scenario(opts.scenario, client, { prefix: opts.prefix, keys: opts.keys, value, staleMs: opts.staleMs, drawKey: () => drawKey(opts.prefix, opts.keys) });
  await work.setup();
  const startMs = performance.now();
  const endMs = startMs + opts.durationS * 1000;
  const elapsedS = () => (performance.now() - startMs) / 1000;
  let window: Window = { latenciesMs: [], errors: 0 };
  let total = 0;
  let totalErrors = 0;
  const errorCodes = new Map<string, number>();
  /** The first few errors, printed to stderr at the end: what a user needs to look into them. */
  const errorSamples: string[] = [];

  let map: PlacementMap | undefined;
  try {
    map = await fetchPlacementMap(bus, 2_000);
  } catch (err) {
    if (!(err instanceof SynodError)) throw err;
    process.stderr.write(`synod bench: no placement service answered (${err.code}); the split count is not shown\n`);
  }
  const firstSplits = map?.map.splits.length;
  let cuts = 0;

  const watchMap = async () => {
    while (map && performance.now() < endMs) {
      await new Promise((r) => setTimeout(r, 1_000));
      let next: PlacementMap;
      try {
        next = await fetchPlacementMap(bus, 2_000);
      } catch {
        continue;
      }
      if (next.map.generation <= map.map.generation) continue;
      const before = new Map(map.map.splits.map((s) => [s.id, s]));
      for (const child of next.map.splits) {
        if (before.has(child.id)) continue;
        // The parent is the split whose old range held the child's start.
        const parent = map.map.splits.find((s) => s.start <= child.start && (s.end === '' || child.start < s.end));
        const load = parent ? Math.max(0, ...map.stats.filter((r) => r.id === parent.id && r.leader).map((r) => r.writesPerSec)) : 0;
        cuts++;
        out(
          `cut  t=${elapsedS().toFixed(0)}s  ${parent?.id ?? '?'} [${JSON.stringify(parent?.start ?? '')}, ${parent?.end === '' ? '∞' : JSON.stringify(parent?.end)}) at ${JSON.stringify(child.start)} -> ${child.id}  (parent load before the cut: ${load.toFixed(0)} writes/s)`,
          { event: 'cut', t: Math.round(elapsedS()), parent: parent?.id, atKey: child.start, child: child.id, parentWritesPerSec: Math.round(load), splits: next.map.splits.length },
        );
      }
      map = next;
    }
  };

  const worker = async (n: number) => {
    while (performance.now() < endMs) {
      const t0 = performance.now();
      try {
        await work.op(n);
        window.latenciesMs.push(performance.now() - t0);
        total++;
      } catch (err) {
        window.errors++;
        totalErrors++;
        const code = err instanceof SynodError ? err.code : 'OTHER';
        errorCodes.set(code, (errorCodes.get(code) ?? 0) + 1);
        if (errorSamples.length < 3) errorSamples.push(`${code}: ${(err as Error).message}${err instanceof SynodError && err.hint ? ` ${JSON.stringify(err.hint)}` : ''}`);
      }
    }
  };

  const progress = setInterval(() => {
    const w = window;
    window = { latenciesMs: [], errors: 0 };
    const sorted = w.latenciesMs.sort((a, b) => a - b);
    const pct = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : NaN);
    const rate = sorted.length / opts.everyS;
    const splits = map?.map.splits.length;
    out(
      `t=${elapsedS().toFixed(0)}s  ${work.unit}/s ${rate.toFixed(0)}  p50 ${pct(50).toFixed(1)} ms  p99 ${pct(99).toFixed(1)} ms  errors ${w.errors}  splits ${splits ?? '?'}  generation ${map?.map.generation ?? '?'}`,
      { event: 'progress', t: Math.round(elapsedS()), scenario: opts.scenario, opsPerSec: Math.round(rate), writesPerSec: Math.round(rate), p50Ms: pct(50), p99Ms: pct(99), errors: w.errors, splits, generation: map?.map.generation },
    );
  }, opts.everyS * 1000);
  try {
    await Promise.all([watchMap(), ...(work.background ? [work.background(() => performance.now() >= endMs)] : []), ...Array.from({ length: opts.clients }, (_, n) => worker(n))]);
  } finally {
    clearInterval(progress);
  }
  const verdict = await work.verify();
  const secs = elapsedS();
  for (const e of errorSamples) process.stderr.write(`synod bench: error: ${e}\n`);
  const codes = [...errorCodes].map(([c, n]) => `${c}:${n}`).join(',');
  out(
    `bench: ${opts.scenario}: ${total} ${work.unit} in ${secs.toFixed(0)} s (${(total / secs).toFixed(0)}/s), errors ${totalErrors}${codes ? ` (${codes})` : ''}, splits ${firstSplits ?? '?'} -> ${map?.map.splits.length ?? '?'}, cuts ${cuts}; ${verdict}`,
    { event: 'summary', scenario: opts.scenario, verdict, ops: total, writes: total, seconds: secs, writesPerSec: total / secs, errors: totalErrors, errorCodes: Object.fromEntries(errorCodes), splitsBefore: firstSplits, splitsAfter: map?.map.splits.length, cuts },
  );
}
