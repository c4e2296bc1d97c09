import { z } from 'zod';
import { nodeName } from '@synod/codec';

const splitKey = z.string().max(1024);

/**
 * The operations the placement service executes, one at a time (docs/placement.md, "Operations").
 * `cut.atKey` absent lets the split's leader choose (its load median).
 */
export const opSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('cut'), split: nodeName, child: nodeName, atKey: splitKey.min(1).optional(), reason: z.string().max(256).default('') }),
  z.object({ type: z.literal('move'), split: nodeName, from: nodeName, to: nodeName, reason: z.string().max(256).default('') }),
  z.object({ type: z.literal('transfer'), split: nodeName, to: nodeName, reason: z.string().max(256).default('') }),
  /** Operator's `synod lead`: set the split's preferred leader DC, then hand leadership there. */
  z.object({ type: z.literal('lead'), split: nodeName, dc: nodeName, reason: z.string().max(256).default('') }),
]);
export type Op = z.infer<typeof opSchema>;
export type OpInput = z.input<typeof opSchema>;

/** One line for operators and logs. */
export function describeOp(op: Op): string {
  switch (op.type) {
    case 'cut':
      return `cut ${op.split} at ${op.atKey === undefined ? "the leader's load median" : JSON.stringify(op.atKey)} into ${op.child}${op.reason ? ` (${op.reason})` : ''}`;
    case 'move':
      return `move ${op.split} from ${op.from} to ${op.to}${op.reason ? ` (${op.reason})` : ''}`;
    case 'transfer':
      return `transfer ${op.split}'s leadership to ${op.to}${op.reason ? ` (${op.reason})` : ''}`;
    case 'lead':
      return `prefer ${op.dc} for ${op.split}'s leader${op.reason ? ` (${op.reason})` : ''}`;
  }
}

/** The split an operation is about (for cooldowns and the one-op-per-split rule). */
export const opSplit = (op: Op): string => op.split;
