import { z } from 'zod';
import { micros, slot } from './bounds.js';

/** Replica-to-replica messages of the transaction layer (docs/transactions.md). */
export const txnMessageSchemas = {
  /**
   * A split leader's closed timestamp, sent to its followers outside the log: no commit at or
   * below `ts` will be chosen at or after slot `appliedIndex`. Followers serve reads up to `ts`
   * once they have applied (durably) up to `appliedIndex`. No fsync anywhere.
   */
  'split.closed': z.object({
    ballot: z.object({ round: z.number().int().nonnegative().max(2 ** 40), node: z.string().min(1).max(63) }),
    ts: micros.positive(),
    appliedIndex: slot,
  }),
} as const;
