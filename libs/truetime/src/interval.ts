/**
 * TrueTime interval arithmetic. Pure and deterministic: no clock, no timer, no randomness.
 * Every time is an integer number of microseconds since the Unix epoch (DESIGN §1), every
 * duration an integer number of microseconds, and every drift rate in ppm (µs per second).
 */

/** True time is guaranteed to lie in `[earliest, latest]` (both inclusive). */
export interface TTInterval {
  readonly earliest: number;
  readonly latest: number;
}

export const PPM = 1_000_000;

/** Half the width of an interval: ε. */
export const epsilonOf = (iv: TTInterval): number => (iv.latest - iv.earliest) / 2;
export const midpointOf = (iv: TTInterval): number => (iv.earliest + iv.latest) / 2;

/** `t` has definitely passed: true time is later than `t`. */
export const isAfter = (iv: TTInterval, t: number): boolean => t < iv.earliest;
/** `t` has definitely not arrived: true time is earlier than `t`. */
export const isBefore = (iv: TTInterval, t: number): boolean => t > iv.latest;
export const contains = (iv: TTInterval, t: number): boolean => iv.earliest <= t && t <= iv.latest;
export const overlaps = (a: TTInterval, b: TTInterval): boolean => a.earliest <= b.latest && b.earliest <= a.latest;

/** The common part of two overlapping intervals. */
export const intersect = (a: TTInterval, b: TTInterval): TTInterval => ({ earliest: Math.max(a.earliest, b.earliest), latest: Math.min(a.latest, b.latest) });

/** The gap between two intervals (0 when they overlap). */
export const gapBetween = (a: TTInterval, b: TTInterval): number => Math.max(0, a.earliest - b.latest, b.earliest - a.latest);

/** An interval centred on `t` with half-width `epsilonUs` (rounded outwards to whole µs). */
export const around = (t: number, epsilonUs: number): TTInterval => ({ earliest: Math.floor(t - epsilonUs), latest: Math.ceil(t + epsilonUs) });

export function assertDriftBound(ppm: number): void {
  if (!(ppm >= 0 && ppm < PPM)) throw new RangeError(`drift bound must be in [0, ${PPM}) ppm, got ${ppm}`);
}

/**
 * How much true time can have passed while a local clock whose rate error is at most `ppm`
 * counted `localUs`. A clock running fast by δ counts `(1+δ)` per true µs, so true elapsed is
 * `local/(1+δ)`, which lies in `[local/(1+d), local/(1-d)]` for |δ| ≤ d. Rounded outwards.
 * A negative local elapsed (a clock that went backwards: outside any bound) is mirrored.
 */
export function trueElapsedBounds(localUs: number, ppm: number): { min: number; max: number } {
  return { min: trueElapsedMin(localUs, ppm), max: trueElapsedMax(localUs, ppm) };
}

/** trueElapsedBounds(localUs, ppm).min without the object (TrueTime's per-request serving check). */
export function trueElapsedMin(localUs: number, ppm: number): number {
  if (localUs < 0) return -trueElapsedMax(-localUs, ppm);
  return localUs - Math.ceil((localUs * ppm) / (PPM + ppm));
}

/** trueElapsedBounds(localUs, ppm).max without the object. */
export function trueElapsedMax(localUs: number, ppm: number): number {
  if (localUs < 0) return -trueElapsedMin(-localUs, ppm);
  return localUs + Math.ceil((localUs * ppm) / (PPM - ppm));
}

/**
 * Carries an interval forward by `localUs` of local clock time: the sawtooth's rising edge.
 * ε grows by about `localUs × ppm / 10^6` (200 µs per second at Spanner's bound).
 */
export function advance(iv: TTInterval, localUs: number, ppm: number): TTInterval {
  return { earliest: iv.earliest + trueElapsedMin(localUs, ppm), latest: iv.latest + trueElapsedMax(localUs, ppm) };
}

/** A time master's reply, as the polling process saw it: when it asked and heard back (its own clock). */
export interface Sample {
  /** Which master answered. */
  readonly source: string;
  /** Local physical clock when the request was sent. */
  readonly sentLocal: number;
  /** Local physical clock when the reply arrived. */
  readonly receivedLocal: number;
  /** The master's interval at the moment it read its clock. */
  readonly earliest: number;
  readonly latest: number;
}

/**
 * The interval true time lies in when a sample's reply arrived. The master read its clock at
 * some true time inside `[earliest, latest]`, between our send and our receipt, so at receipt
 * true time is no earlier than `earliest` and no later than `latest` plus the whole round trip
 * (converted to true time at the drift bound): widening by the round trip covers any asymmetry.
 */
export function sampleInterval(s: Sample, ppm: number): TTInterval {
  const rtt = s.receivedLocal - s.sentLocal;
  return { earliest: s.earliest, latest: s.latest + trueElapsedBounds(Math.max(0, rtt), ppm).max };
}

/**
 * Local clock time until `now().earliest` passes `t`, for a process whose interval now is `iv`:
 * the commit wait still owed. 0 when `t` has already passed.
 */
export function commitWaitRemainingUs(iv: TTInterval, t: number, ppm: number): number {
  if (isAfter(iv, t)) return 0;
  // earliest advances by at least local × PPM/(PPM+ppm) per local µs; we need it to gain t - earliest + 1.
  const need = t - iv.earliest + 1;
  return Math.ceil((need * (PPM + ppm)) / PPM);
}
