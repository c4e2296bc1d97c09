/**
 * The spanserver's metrics and readiness (docs/metrics.md): gauges read from live state at scrape
 * time, the timing of request handlers and Paxos persists, and /readyz's check. The registry is
 * the bus's (`bus.metrics`): one per process.
 */
import { SynodError } from '@synod/codec';
import type { Metrics, Readiness } from '@synod/config';
import type { GcPassReport, GcSlice, Storage } from '@synod/storage';
import type { Bus } from '@synod/transport';
import type { DelayFigures, EventLoopDelay } from './event-loop-delay.js';
import type { StallFigures } from './run-queue-probe.js';
import type { Spanserver } from './spanserver.js';
import type { TimeSource } from './time-source.js';

/**
 * A replica this many chosen slots ahead of its applied index is not "caught up" for /readyz:
 * the Paxos window (docs/paxos.md), i.e. more than one window of backlog.
 */
export const READY_MAX_APPLY_LAG = 64;

/** Runs `fn` and observes its duration (seconds) in histogram `name`, labelled with its outcome: ok or the error's stable code. */
export async function observed<T>(metrics: Metrics, name: string, labels: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    const v = await fn();
    metrics.observe(name, (performance.now() - t0) / 1000, { ...labels, outcome: 'ok' });
    return v;
  } catch (err) {
    // Codes are the fixed set of libs/codec, so the label stays bounded; anything else is "error".
    metrics.observe(name, (performance.now() - t0) / 1000, { ...labels, outcome: err instanceof SynodError ? err.code : 'error' });
    throw err;
  }
}

/**
 * `observed` for a handler that may answer synchronously: a value is timed and returned as is (no
 * promise, no turn), a promise is timed when it settles, a throw is timed and rethrown. `labels`
 * is the label set with `outcome: 'ok'`; `failLabels` gives the set for an error's code. One
 * label object per outcome is kept by the caller, not spread per request.
 */
export function observedNow<T>(metrics: Metrics, name: string, okLabels: Record<string, string>, failLabels: (outcome: string) => Record<string, string>, fn: () => T | Promise<T>): T | Promise<T> {
  const t0 = performance.now();
  let v: T | Promise<T>;
  try {
    v = fn();
  } catch (err) {
    throw observedFailure(metrics, name, t0, failLabels, err);
  }
  // Closures only for a reply still to come; an answer in this turn allocates none.
  if (v instanceof Promise)
    return v.then(
      (x) => {
        metrics.observe(name, (performance.now() - t0) / 1000, okLabels);
        return x;
      },
      (err: unknown) => {
        throw observedFailure(metrics, name, t0, failLabels, err);
      },
    );
  metrics.observe(name, (performance.now() - t0) / 1000, okLabels);
  return v;
}

/** Observes a failed handler under its error's code (or "error") and hands the error back to throw. */
function observedFailure(metrics: Metrics, name: string, t0: number, failLabels: (outcome: string) => Record<string, string>, err: unknown): unknown {
  metrics.observe(name, (performance.now() - t0) / 1000, failLabels(err instanceof SynodError ? err.code : 'error'));
  return err;
}

/**
 * The cause of a TXN_ABORTED refusal, from its message. libs/txn states the cause only as text
 * (split-core.ts abortTxn reasons); this maps each to a fixed label so the counter stays bounded.
 */
const ABORT_CAUSES: Array<[RegExp, string]> = [
  [/wounded by an older/, 'wounded'],
  [/waited over .* for a lock/, 'lock_wait'],
  [/leadership (changed|lost)|locks lapsed/, 'leadership'],
  [/lease .*does not cover/, 'lease'],
  [/clock not within bounds/, 'clock'],
  [/aborted by the client/, 'client'],
  [/aborted by its coordinator/, 'coordinator'],
  [/idle for too long/, 'idle'],
  [/left the split in a cut/, 'cut'],
  [/too many transactions/, 'overload'],
  [/status lookup/, 'status_lookup'],
  [/commit of .* refused/, 'outcome_refused'],
];

export function abortCause(message: string): string {
  for (const [re, cause] of ABORT_CAUSES) if (re.test(message)) return cause;
  return 'other';
}

/** Scrape-time gauges per hosted split (t_safe lag, leader, apply lag) and ε of TrueTime now. */
export function collectSpanserverGauges(metrics: Metrics, server: Spanserver, tt: TimeSource): void {
  metrics.onCollect(async () => {
    const now = tt.now();
    metrics.set('synod_truetime_now_epsilon_us', (now.latest - now.earliest) / 2);
    // The daemon sets it at each sync; a step caught between syncs stops serving at once, so read it now.
    metrics.set('synod_truetime_serving', tt.isServing() ? 1 : 0);
    const loop = server.eventLoopFigures();
    if (loop) {
      metrics.set('synod_event_loop_delay_p99_seconds', loop.p99Ms / 1000);
      metrics.set('synod_event_loop_delay_max_seconds', loop.maxMs / 1000);
    }
    // Per split, in slices with a turn of the event loop between them (docs/spanserver.md,
    // "Periodic work and the event loop"): hundreds of splits are thousands of gauges.
    await server.eachGroupSliced((g) => {
      const labels = { split: g.id };
      metrics.set('synod_split_tsafe_lag_seconds', Math.max(0, now.latest - g.tSafe) / 1e6, labels);
      metrics.set('synod_split_leader', g.isLeader ? 1 : 0, labels);
      metrics.set('synod_split_leader_known', g.leader ? 1 : 0, labels);
      metrics.set('synod_split_apply_lag_entries', Math.max(0, g.chosenUpTo - g.appliedUpTo), labels);
      metrics.set('synod_split_reapplied_entries_total', g.reappliedEntries, labels);
      metrics.set('synod_split_log_entries', g.logEntries, labels);
    });
  });
}

/** /readyz of a spanserver: TrueTime within bounds, and every hosted split with a known leader and applied within READY_MAX_APPLY_LAG. */
export function spanserverReadiness(server: Spanserver, tt: TimeSource): () => Readiness {
  return () => {
    const reasons: string[] = [];
    if (!tt.isServing()) reasons.push('clock not within bounds (TrueTime not serving)');
    for (const g of server.splitHealth()) {
      if (!g.leader) reasons.push(`split ${g.id}: no known leader`);
      const lag = g.chosenUpTo - g.appliedUpTo;
      if (lag > READY_MAX_APPLY_LAG) reasons.push(`split ${g.id}: ${lag} chosen entries not applied`);
    }
    // Bounded: a node hosts at most the splits of its map; cut the list for the probe's body.
    return { ready: reasons.length === 0, reasons: reasons.slice(0, 32) };
  };
}

/**
 * Times every Paxos persist (submission to fsync'd group commit) of this process's storage.
 * libs/storage has no timing hook, so each group's store (one instance per group,
 * Storage.paxos) has its persist wrapped once, here in the shell.
 */
export function timePersists(storage: Storage, metrics: Metrics): void {
  const wrapped = new WeakSet<object>();
  const paxos = storage.paxos.bind(storage);
  storage.paxos = (group) => {
    const store = paxos(group);
    if (!wrapped.has(store)) {
      wrapped.add(store);
      const persist = store.persist.bind(store);
      store.persist = (p) => {
        const t0 = performance.now();
        const done = persist(p);
        // Observed on success only: a failed persist is fail-stop (docs/paxos.md), reported by the pipeline.
        done.then(() => metrics.observe('synod_storage_persist_seconds', (performance.now() - t0) / 1000), () => undefined);
        return done;
      };
    }
    return store;
  };
}

/**
 * Version GC progress (docs/metrics.md, docs/spanserver.md "Version GC"): counted per slice, so a
 * long pass shows while it runs; the longest slice of each pass that ran, when it ends.
 */
export function gcMetrics(metrics: Metrics): { onSlice: (s: GcSlice) => void; onPass: (r: GcPassReport) => void } {
  return {
    onSlice: (s) => {
      metrics.inc('synod_gc_slices_total');
      metrics.inc('synod_gc_versions_scanned_total', {}, s.versionsScanned);
      metrics.inc('synod_gc_keys_scanned_total', {}, s.keysScanned);
      metrics.inc('synod_gc_versions_removed_total', {}, s.removed);
    },
    onPass: (r) => {
      metrics.inc('synod_gc_passes_total', { outcome: r.outcome });
      if (r.slices > 0) metrics.set('synod_gc_longest_slice_seconds', r.longestSliceMs / 1000);
    },
  };
}

/**
 * What `node.status` says about the process as a whole besides storage (docs/metrics.md): CPU
 * used since start, messages the bus received, and the event-loop delay figures. A benchmark
 * takes differences of two readings (loadtest/bench-splits.ts).
 */
export function processLoad(
  bus: Pick<Bus, 'stats'>,
  loopDelay: EventLoopDelay | undefined,
): { cpuUs: { user: number; system: number }; busReceived: number; eventLoop?: { window: DelayFigures; sinceReset: DelayFigures; stalls?: StallFigures } } {
  const cpu = process.cpuUsage();
  return {
    cpuUs: { user: cpu.user, system: cpu.system },
    busReceived: bus.stats().received,
    ...(loopDelay ? { eventLoop: eventLoopFigures(loopDelay) } : {}),
  };
}

function eventLoopFigures(d: EventLoopDelay): { window: DelayFigures; sinceReset: DelayFigures; stalls?: StallFigures } {
  const stalls = d.stallsSinceReset();
  return { window: d.window(), sinceReset: d.sinceReset(), ...(stalls ? { stalls } : {}) };
}
