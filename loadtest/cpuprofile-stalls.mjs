#!/usr/bin/env node
// Finds the long tasks in a V8 .cpuprofile (from `node --cpu-prof`, e.g. `npm run bench:splits --
// --cpu-prof <dir>`): the longest stretches of consecutive busy samples, each with the frames it
// spent its time in, so that an event-loop stall can be named (docs/metrics.md, "Event-loop delay").
//
//   node loadtest/cpuprofile-stalls.mjs <file.cpuprofile>… [--min-ms 15] [--top 10] [--frames 8] [--from-us µs] [--to-us µs] [--stalls file.json]
import { readFileSync } from 'node:fs';

const HELP = `cpuprofile-stalls <file.cpuprofile>… [--min-ms 15] [--top 10] [--frames 8] [--from-us µs] [--to-us µs] [--stalls file.json]
A stretch is a run of consecutive samples that are not (idle): the event loop did not get back to
waiting for I/O in between. Under load that can be many loop turns back to back; with --stalls
the stretches are instead the given intervals (a JSON array of {startUs, endUs} on the profile's
clock, e.g. when a 1 ms timer was due and when it ran: exactly one late loop turn). With the sampler's default 1 ms interval a stretch's length is good
to about 1 ms; time the process spent waiting for a core inside a stretch counts in it.
  --min-ms N     list stretches at least this long (default 15)
  --top N        at most this many stretches per file, longest first (default 10)
  --frames N     frames listed per stretch, by self time and by total time (default 8)
  --from-us/--to-us  only stretches starting inside this window, in µs of the monotonic clock the
                 profile's startTime uses (bench:splits --cpu-prof prints its windows so)
  --stalls F     analyse these intervals rather than runs of busy samples (one file: one profile)
Per file it also prints the time in (garbage collector) and the longest GC-only run.`;

const args = process.argv.slice(2);
if (args.length === 0 || args.includes('--help')) {
  console.log(HELP);
  process.exit(args.length === 0 ? 2 : 0);
}
const valued = new Set(['--min-ms', '--top', '--frames', '--from-us', '--to-us', '--stalls']);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const files = args.filter((a, i) => !a.startsWith('--') && !valued.has(args[i - 1]));
const minUs = opt('min-ms', 15) * 1000;
const top = opt('top', 10);
const frames = opt('frames', 8);
const fromUs = opt('from-us', -Infinity);
const toUs = opt('to-us', Infinity);
const stallsFile = args.includes('--stalls') ? args[args.indexOf('--stalls') + 1] : undefined;
const given = stallsFile ? JSON.parse(readFileSync(stallsFile, 'utf8')) : undefined;

const where = (url) => url.replace(/.*node_modules\//, 'nm:').replace(/^file:\/\/.*?\/(libs|services|loadtest|test)\//, '$1/');

for (const file of files) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const fn = (id) => byId.get(id).callFrame.functionName;
  const label = (id) => {
    const c = byId.get(id).callFrame;
    return c.url ? `${c.functionName || '(anonymous)'} ${where(c.url)}:${c.lineNumber + 1}` : c.functionName || '(anonymous)';
  };
  // Sample i happened at t[i]; it stands for the time until the next sample.
  const t = new Array(p.samples.length);
  let at = p.startTime;
  for (let i = 0; i < p.samples.length; i++) t[i] = at += p.timeDeltas[i] ?? 0;
  const dur = (i) => (i + 1 < t.length ? t[i + 1] - t[i] : 0);
  const stretches = [];
  let gcUs = 0;
  let gcRun = 0;
  let gcRunMax = 0;
  if (given) {
    // Samples from each interval's start to its end (binary search: samples are in time order).
    const firstAtOrAfter = (us) => {
      let lo = 0;
      let hi = t.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (t[mid] < us) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    for (const g of given) {
      const us = g.endUs - g.startUs;
      if (us >= minUs && g.startUs >= fromUs && g.startUs <= toUs) stretches.push({ start: firstAtOrAfter(g.startUs), end: firstAtOrAfter(g.endUs), us });
    }
  }
  for (let i = 0; i < p.samples.length && !given; ) {
    if (fn(p.samples[i]) === '(idle)') {
      i++;
      continue;
    }
    const start = i;
    while (i < p.samples.length && fn(p.samples[i]) !== '(idle)') i++;
    const us = t[Math.min(i, t.length - 1)] - t[start];
    if (us >= minUs && t[start] >= fromUs && t[start] <= toUs) stretches.push({ start, end: i, us });
  }
  for (let i = 0; i < p.samples.length; i++) {
    if (t[i] < fromUs || t[i] > toUs) continue;
    if (fn(p.samples[i]) === '(garbage collector)') {
      gcUs += dur(i);
      gcRun += dur(i);
      gcRunMax = Math.max(gcRunMax, gcRun);
    } else gcRun = 0;
  }
  stretches.sort((a, b) => b.us - a.us);
  console.log(`\n== ${file}: ${stretches.length} stretch(es) of ${minUs / 1000} ms or more; (garbage collector) ${(gcUs / 1000).toFixed(1)} ms in all, longest run ${(gcRunMax / 1000).toFixed(1)} ms`);
  for (const s of stretches.slice(0, top)) {
    const self = new Map();
    const total = new Map();
    for (let i = s.start; i < s.end; i++) {
      const d = dur(i);
      const id = p.samples[i];
      self.set(label(id), (self.get(label(id)) ?? 0) + d);
      const seen = new Set();
      for (let x = id; x !== undefined; x = parent.get(x)) {
        const l = label(x);
        if (seen.has(l)) continue;
        seen.add(l);
        total.set(l, (total.get(l) ?? 0) + d);
      }
    }
    const list = (m) =>
      [...m]
        .filter(([l]) => l !== '(root)')
        .sort((a, b) => b[1] - a[1])
        .slice(0, frames)
        .map(([l, us]) => `      ${(us / 1000).toFixed(1).padStart(6)} ms  ${l}`)
        .join('\n');
    console.log(`  ${(s.us / 1000).toFixed(1)} ms at ${t[s.start]} µs (${((t[s.start] - p.startTime) / 1e6).toFixed(2)} s into the profile), ${s.end - s.start} samples`);
    console.log(`    self:\n${list(self)}`);
    console.log(`    total:\n${list(total)}`);
  }
}
