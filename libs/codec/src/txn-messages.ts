import { z } from 'zod';
import { micros, slot } from './bounds.js';

const txnId = z.string().min(1).max(128);

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
  /**
   * Two-phase commit between the leaders of a transaction's splits (sent to every replica of the
   * envelope's group; its leader acts): a participant's vote (`prepared`, repeated until it hears
   * the decision) or refusal, and the coordinator's decision.
   */
  'split.2pc': z.object({
    fromSplit: z.string().min(1).max(63),
    msg: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('prepared'), txn: txnId, participant: z.string().min(1).max(63), ts: micros.positive() }),
      z.object({ kind: z.literal('refused'), txn: txnId, participant: z.string().min(1).max(63), reason: z.string().max(1024) }),
      z.object({ kind: z.literal('decision'), txn: txnId, committed: z.boolean(), ts: micros.positive().optional() }),
    ]),
  }),
} as const;
