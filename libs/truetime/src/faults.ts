/**
 * Applies `clock.fault` broadcasts (from `synod chaos skew|drift`) to this process's skewable
 * clock. Faults travel on the chaos subject, which the simulated network never faults.
 */
import type { ClockFault } from '@synod/codec';
import type { Logger } from '@synod/config';
import type { Bus } from '@synod/transport';
import type { SkewedClock } from './clock.js';

export function applyClockFault(clock: SkewedClock, fault: ClockFault): void {
  if (fault.skewMs !== undefined) clock.setSkewUs(Math.round(fault.skewMs * 1000));
  if (fault.driftPpm !== undefined) clock.setDriftPpm(fault.driftPpm);
}

export function handleClockFaults(bus: Bus, clock: SkewedClock, log?: Pick<Logger, 'warn'>, onApplied?: (f: ClockFault) => void): void {
  bus.on('clock.fault', (env) => {
    const f = env.body;
    if (f.node !== bus.nodeId && f.node !== '*') return;
    applyClockFault(clock, f);
    bus.metrics.set('synod_clock_skew_us', clock.skewUs);
    bus.metrics.set('synod_clock_drift_ppm', clock.driftPpm);
    log?.warn({ skewUs: clock.skewUs, driftPpm: clock.driftPpm, from: env.from }, 'clock fault applied');
    onApplied?.(f);
  });
}
