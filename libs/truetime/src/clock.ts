/**
 * Physical clocks: what a process reads before any synchronisation. An interface with three
 * implementations: the host clock (system-clock.ts), a skewed/drifting clock layered on any other
 * clock for fault injection, and a virtual clock the simulator and tests move by hand. This file
 * is pure: it never reads the host clock itself.
 */
import { PPM } from './interval.js';

export interface PhysicalClock {
  /** The clock's reading in integer µs since the Unix epoch. */
  nowUs(): number;
}

/** A clock that moves only when told to: true time in the simulator, or a test's clock. */
export class VirtualClock implements PhysicalClock {
  constructor(private t: number) {}
  nowUs(): number {
    return this.t;
  }
  set(t: number): void {
    this.t = Math.round(t);
  }
  advance(us: number): void {
    this.t += Math.round(us);
  }
}

export interface SkewOptions {
  /** A constant offset added to the base clock (the `chaos skew` fault). */
  skewUs?: number;
  /** Rate error in ppm: positive runs fast. Changing it never makes the clock jump. */
  driftPpm?: number;
}

/**
 * A clock derived from another: `base + skew + drift × (base − since)`. Skew and drift can be
 * changed at run time; a drift change keeps the reading continuous, a skew change is a step.
 */
export class SkewedClock implements PhysicalClock {
  private skew: number;
  private drift: number;
  /** Base reading from which the current drift rate has been accumulating. */
  private driftSince: number;
  /** Offset accumulated under earlier drift rates. */
  private driftCarried = 0;

  constructor(
    readonly base: PhysicalClock,
    opts: SkewOptions = {},
  ) {
    this.skew = Math.round(opts.skewUs ?? 0);
    this.drift = opts.driftPpm ?? 0;
    if (!(this.drift > -PPM)) throw new RangeError('drift must be above -10^6 ppm');
    this.driftSince = base.nowUs();
  }

  nowUs(): number {
    const b = this.base.nowUs();
    return b + this.skew + this.driftCarried + Math.round(((b - this.driftSince) * this.drift) / PPM);
  }

  get skewUs(): number {
    return this.skew;
  }
  get driftPpm(): number {
    return this.drift;
  }
  /** Total offset from the base clock right now. */
  offsetUs(): number {
    return this.nowUs() - this.base.nowUs();
  }

  setSkewUs(us: number): void {
    this.skew = Math.round(us);
  }

  setDriftPpm(ppm: number): void {
    if (!(ppm > -PPM)) throw new RangeError('drift must be above -10^6 ppm');
    const b = this.base.nowUs();
    this.driftCarried += Math.round(((b - this.driftSince) * this.drift) / PPM);
    this.driftSince = b;
    this.drift = ppm;
  }
}
