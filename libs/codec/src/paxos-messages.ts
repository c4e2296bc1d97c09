import { z } from 'zod';

/** zod schemas for libs/paxos messages; the host asserts at compile time that they match its types. */
const id = z.string().min(1).max(63);
const slot = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
export const ballotSchema = z.object({ round: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER), node: z.string().max(63) });
export const commandSchema = z.object({ id: z.string().min(1).max(256), payload: z.unknown() });
export const valueSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('noop') }),
  z.object({ kind: z.literal('batch'), cmds: z.array(commandSchema).max(100_000) }),
  z.object({ kind: z.literal('config'), peers: z.array(id).min(1).max(64), q1: z.number().int().positive().max(64), q2: z.number().int().positive().max(64) }),
]);
const slotValue = z.object({ slot, value: valueSchema });
const acceptedEntry = z.object({ slot, ballot: ballotSchema, value: valueSchema });
const base = { group: z.string().max(63), from: id };
const entries = z.array(slotValue).max(100_000);

export const paxosMessageSchema = z.discriminatedUnion('type', [
  z.object({ ...base, type: z.literal('prepare'), ballot: ballotSchema, fromSlot: slot }),
  z.object({ ...base, type: z.literal('promise'), ballot: ballotSchema, fromSlot: slot, accepted: z.array(acceptedEntry).max(100_000), chosenUpTo: slot, snapshotUpTo: slot.default(0), continueFrom: slot.optional() }),
  z.object({ ...base, type: z.literal('preVote'), ballot: ballotSchema }),
  z.object({ ...base, type: z.literal('preVoteReply'), ballot: ballotSchema, granted: z.boolean(), promised: ballotSchema }),
  z.object({ ...base, type: z.literal('nack'), ballot: ballotSchema, promised: ballotSchema }),
  z.object({ ...base, type: z.literal('accept'), ballot: ballotSchema, entries, chosenUpTo: slot, sentAtUs: z.number().int().safe().default(0) }),
  z.object({ ...base, type: z.literal('accepted'), ballot: ballotSchema, slots: z.array(slot).max(100_000), sentAtUs: z.number().int().safe().default(0) }),
  z.object({ ...base, type: z.literal('heartbeat'), ballot: ballotSchema, chosenUpTo: slot, sentAtUs: z.number().int().safe().default(0) }),
  z.object({ ...base, type: z.literal('heartbeatAck'), ballot: ballotSchema, sentAtUs: z.number().int().safe().default(0), chosenUpTo: slot }),
  z.object({ ...base, type: z.literal('catchupRequest'), fromSlot: slot, toSlot: slot }),
  z.object({ ...base, type: z.literal('catchupReply'), entries, chosenUpTo: slot }),
  z.object({ ...base, type: z.literal('forward'), cmds: z.array(commandSchema).max(100_000) }),
  z.object({ ...base, type: z.literal('snapshotChunk'), upTo: slot, chunk: z.number().int().nonnegative().max(10_000_000), chunks: z.number().int().positive().max(10_000_000), data: z.string().max(16 * 1024 * 1024) }),
  z.object({ ...base, type: z.literal('snapshotRequest'), upTo: slot, chunk: z.number().int().nonnegative().max(10_000_000) }),
]);

/** A client asks a replica to replicate commands; the reply comes once they are applied there. */
export const proposeSchema = z.object({ cmds: z.array(commandSchema).min(1).max(10_000), timeoutMs: z.number().int().positive().max(600_000).default(5_000) });
export const proposedSchema = z.object({ ids: z.array(z.string()), appliedUpTo: slot });
