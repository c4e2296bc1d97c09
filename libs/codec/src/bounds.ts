import { z } from 'zod';
import { MAX_BALLOT_ROUND, MAX_KEY_BYTES, MAX_SLOT, MAX_TIMESTAMP_US } from '@synod/limits';

/**
 * The number shapes every schema shares, bounded by @synod/limits. A number past one of these
 * bounds is hostile or corrupt (legitimate values stay far below for centuries); dropping it
 * here, before any handler runs, is what keeps `x + 1` in the cores inside the safe integers
 * and keeps a spoofed ballot from being promised and persisted.
 */
export const round = z.number().int().nonnegative().max(MAX_BALLOT_ROUND);
export const slot = z.number().int().nonnegative().max(MAX_SLOT);
/** A clock reading or timestamp in microseconds. */
export const micros = z.number().int().nonnegative().max(MAX_TIMESTAMP_US);
/** A duration in microseconds: not necessarily whole (e.g. half an uncertainty interval). */
export const durationUs = z.number().nonnegative().max(MAX_TIMESTAMP_US);
/**
 * A user key. Bounded in characters here (a UTF-16 code unit is at least one UTF-8 byte, so
 * every key within MAX_KEY_BYTES passes); the exact byte limit is checked by the handlers with
 * checkTxn, which can answer KEY_TOO_LARGE instead of dropping the request.
 */
export const userKey = z.string().max(MAX_KEY_BYTES);
/**
 * A clock reading reported for diagnostics (node status): bounded either side but not asserted
 * nonnegative, because a test clock near 0 minus its uncertainty is legitimately below 0.
 */
export const reportedUs = z.number().min(-MAX_TIMESTAMP_US).max(MAX_TIMESTAMP_US);
