#!/usr/bin/env node
// Summarizes a V8 .cpuprofile (from `node --cpu-prof`, e.g. `npm run bench:vs-etcd -- --cpu-prof <dir>`):
// where a process spent its busy time, optionally only between two seconds of its life, so that
// start-up and idle stretches do not drown the measured window.
//
//   node loadtest/cpuprofile-top.mjs <file.cpuprofile> [--top 40] [--by self|incl|file] [--from s] [--to s] [--timeline]
import { readFileSync } from 'node:fs';

const HELP = `cpuprofile-top <file.cpuprofile> [--top N] [--by self|incl|file] [--from s] [--to s] [--timeline]
  --by self      time in each function itself (default)
  --by incl      time in each function and what it called
  --by file      time per source file / package
  --from/--to    only samples between these seconds after the profile started
  --timeline     busy % per second of the profile (find the measured window)
Idle samples are left out; percentages are of the busy time in the window.`;

const args = process.argv.slice(2);
if (args.length === 0 || args.includes('--help')) {
  console.log(HELP);
  process.exit(args.length === 0 ? 2 : 0);
}
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const file = args[0];
const top = Number(opt('top', '40'));
const by = opt('by', 'self');
const fromUs = Number(opt('from', '0')) * 1e6;
const toUs = Number(opt('to', '1e9')) * 1e6;
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const isIdle = (id) => byId.get(id).callFrame.functionName === '(idle)';
const where = (url) => url.replace(/.*node_modules\//, 'nm:').replace(/^file:\/\/.*?\/(libs|services|loadtest|test)\//, '$1/');
const label = (n) => `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;

if (args.includes('--timeline')) {
  const buckets = new Map();
  let t = 0;
  profile.samples.forEach((id, i) => {
    t += profile.timeDeltas[i] ?? 0;
    const b = buckets.get(Math.floor(t / 1e6)) ?? [0, 0];
    b[isIdle(id) ? 1 : 0] += profile.timeDeltas[i] ?? 0;
    buckets.set(Math.floor(t / 1e6), b);
  });
  console.log([...buckets].map(([s, [busy, idle]]) => `${s}s:${Math.round((100 * busy) / Math.max(1, busy + idle))}%`).join(' '));
  process.exit(0);
}

const timeOf = new Map();
let clock = 0;
profile.samples.forEach((id, i) => {
  clock += profile.timeDeltas[i] ?? 0;
  if (clock < fromUs || clock > toUs || isIdle(id)) return;
  timeOf.set(id, (timeOf.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const total = [...timeOf.values()].reduce((a, b) => a + b, 0);
const sums = new Map();
const add = (k, t) => sums.set(k, (sums.get(k) ?? 0) + t);
for (const [id, t] of timeOf) {
  const n = byId.get(id);
  if (by === 'file') add(where(n.callFrame.url) || n.callFrame.functionName, t);
  else if (by === 'incl') {
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const k = label(byId.get(cur));
      if (!seen.has(k)) add(k, t);
      seen.add(k);
    }
  } else add(label(n), t);
}
console.log(`busy ${(total / 1e3).toFixed(0)} ms in the window; by ${by}`);
for (const [k, t] of [...sums].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${((100 * t) / Math.max(1, total)).toFixed(1).padStart(5)}%  ${k}`);
