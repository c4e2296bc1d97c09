/**
 * The public API edge: js-joda `Instant`/`Duration` in, integer µs inside (DESIGN §1, §5).
 * Sub-µs precision is truncated towards the past (an Instant's µs is its floor).
 */
import { Duration, Instant } from '@js-joda/core';

export type TimeLike = number | Instant;
export type DurationLike = number | Duration;

export const instantToMicros = (i: Instant): number => i.epochSecond() * 1_000_000 + Math.floor(i.nano() / 1_000);
export const microsToInstant = (us: number): Instant => Instant.ofEpochMicro(us);
export const durationToMicros = (d: Duration): number => d.seconds() * 1_000_000 + Math.floor(d.nano() / 1_000);
export const microsToDuration = (us: number): Duration => Duration.ofNanos(us * 1_000);

/** µs from a number (already µs) or an Instant. */
export const toMicros = (t: TimeLike): number => (typeof t === 'number' ? t : instantToMicros(t));
export const durationMicros = (d: DurationLike): number => (typeof d === 'number' ? d : durationToMicros(d));
