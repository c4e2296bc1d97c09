/**
 * Applies `clock.fault` broadcasts (from `synod chaos skew|drift`) to this process's skewable
 * clock. Faults travel on the chaos subject, which the simulated network never faults.
 *
 * Whom a fault's `node` names:
 *   `<id>`   that process (a time master too: naming it is explicit);
 *   `*`      every process except the time masters;
 *   `**`     every process, time masters included (`synod chaos skew '*' … --masters`, `chaos heal`);
 *   `?`      nobody: a query; every process with a clock fault answers with a `clock.fault`
 *            whose node is `=<its id>` and whose values are its current fault (`chaos show`).
 */
import type { ClockFault } from '@synod/codec';
import type { Logger } from '@synod/config';
import type { Bus } from '@synod/transport';
import type { SkewedClock } from './clock.js';

export const ALL_BUT_MASTERS = '*';
export const ALL_WITH_MASTERS = '**';
export const FAULT_QUERY = '?';
export const FAULT_REPORT_PREFIX = '=';

export function applyClockFault(clock: SkewedClock, fault: ClockFault): void {
  if (fault.skewMs !== undefined) clock.setSkewUs(Math.round(fault.skewMs * 1000));
  if (fault.driftPpm !== undefined) clock.setDriftPpm(fault.driftPpm);
}

/** Whether a fault naming `node` reaches process `self` (a time master when `timeMaster`). */
export function faultReaches(node: string, self: string, timeMaster: boolean): boolean {
  if (node === self || node === ALL_WITH_MASTERS) return true;
  return node === ALL_BUT_MASTERS && !timeMaster;
}

export function handleClockFaults(bus: Bus, clock: SkewedClock, log?: Pick<Logger, 'warn'>, onApplied?: (f: ClockFault) => void, opts: { timeMaster?: boolean } = {}): void {
  bus.on('clock.fault', (env) => {
    const f = env.body;
    if (f.node === FAULT_QUERY) {
      if (clock.skewUs !== 0 || clock.driftPpm !== 0)
        void bus.broadcastChaos('clock.fault', { node: `${FAULT_REPORT_PREFIX}${bus.nodeId}`.slice(0, 63), skewMs: clock.skewUs / 1000, driftPpm: clock.driftPpm }).catch(() => undefined);
      return;
    }
    if (!faultReaches(f.node, bus.nodeId, opts.timeMaster ?? false)) return;
    applyClockFault(clock, f);
    bus.metrics.set('synod_clock_skew_us', clock.skewUs);
    bus.metrics.set('synod_clock_drift_ppm', clock.driftPpm);
    log?.warn({ skewUs: clock.skewUs, driftPpm: clock.driftPpm, from: env.from }, 'clock fault applied');
    onApplied?.(f);
  });
}
