/**
 * Commit-wait precision: how long after the earliest possible moment `waitUntilAfter(t)` returns.
 *
 * A TrueTime on the host clock is anchored with half-width ε (as right after a sync); each
 * sample takes s = now().latest (a commit timestamp) and waits until now().earliest > s. The
 * earliest possible moment is computed exactly from the (pure) interval arithmetic: the first
 * local µs at which earliest passes s. Overshoot = host clock when the awaiting code resumes −
 * that moment. Three waiters are compared in the same run: synod's (one setTimeout aimed 2 ms
 * short, then setImmediate), a setTimeout-only loop, and a busy spin (the floor: it blocks the
 * event loop, so it is not an option for a server).
 *
 *   npm run bench:truetime -- [--samples 400] [--epsilons-us 1000,4000]
 */
import { z } from 'zod';
import { loadConfig } from '@synod/config';
import { ClockSync, isAfter, systemClock, waitUntilAfter, type TTInterval } from '@synod/truetime';
import { percentile } from './stats.js';
import { machineLine } from './machine.js';

const cfg = loadConfig(
  z.object({
    samples: z.coerce.number().int().min(10).max(100_000).default(400),
    epsilonsUs: z.string().default('1000,4000').transform((s) => s.split(',').map(Number)),
  }),
  { argv: process.argv.slice(2), env: {} },
);

type Waiter = (now: () => TTInterval, t: number) => Promise<unknown>;

const timeoutOnly: Waiter = (now, t) =>
  new Promise<void>((resolve) => {
    const step = () => {
      const iv = now();
      if (isAfter(iv, t)) return resolve();
      setTimeout(step, Math.max(1, Math.ceil((t - iv.earliest + 1) / 1000)));
    };
    step();
  });

const spin: Waiter = async (now, t) => {
  while (!isAfter(now(), t));
};

const waiters: Array<[string, Waiter]> = [
  ['synod waitUntilAfter', (now, t) => waitUntilAfter(now, t)],
  ['setTimeout only', timeoutOnly],
  ['busy spin (floor)', spin],
];

/** The first local reading at which `sync.now(local).earliest > t` (binary search over the pure arithmetic). */
function firstLocalAfter(sync: ClockSync, t: number, from: number): number {
  let lo = from;
  let hi = from + 10_000_000;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (isAfter(sync.now(mid), t)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

console.log(`truetime bench: ${cfg.samples} commit waits per row, s = now().latest`);
console.log(machineLine());
for (const eps of cfg.epsilonsUs) {
  for (const [label, wait] of waiters) {
    const sync = new ClockSync({ driftBoundPpm: 200 }, systemClock.nowUs());
    // Re-anchored before every wait, so every sample waits out the same ε (as right after a sync).
    const anchor = () => {
      const at = systemClock.nowUs();
      sync.anchorAt(at, { earliest: at - eps, latest: at + eps });
    };
    anchor();
    const now = () => sync.now(systemClock.nowUs());
    const over: number[] = [];
    const waited: number[] = [];
    // Warm up the JIT before recording.
    for (let i = 0; i < 20; i++) await wait(now, now().latest);
    for (let i = 0; i < cfg.samples; i++) {
      anchor();
      const start = systemClock.nowUs();
      const s = now().latest;
      const target = firstLocalAfter(sync, s, start);
      await wait(now, s);
      const resumed = systemClock.nowUs();
      if (!isAfter(now(), s)) throw new Error('waiter returned early');
      over.push(resumed - target);
      waited.push(resumed - start);
    }
    const o = Float64Array.from(over).sort();
    const w = Float64Array.from(waited).sort();
    console.log(
      `ε ${String(eps).padStart(5)} µs  ${label.padEnd(22)} overshoot p50 ${String(percentile(o, 50)).padStart(5)} µs  p99 ${String(percentile(o, 99)).padStart(5)} µs  max ${String(o[o.length - 1]).padStart(5)} µs   wait p50 ${(percentile(w, 50) / 1000).toFixed(2)} ms`,
    );
  }
}
