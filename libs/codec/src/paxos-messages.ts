import { z } from 'zod';
import { NATS_MAX_PAYLOAD_BYTES } from '@synod/limits';
import { round, slot, micros } from './bounds.js';

/** zod schemas for libs/paxos messages; the host asserts at compile time that they match its types. */
const id = z.string().min(1).max(63);
/**
 * Most entries, slots or commands in one message. Decoding already caps a message at
 * MAX_MESSAGE_BYTES; this caps the work one message can cause (a noop entry is ~30 bytes, so
 * the byte cap alone would allow ~280k) while staying far above what a core sends.
 */
const MAX_ITEMS = 100_000;
/**
 * Most chunks of one snapshot transfer. A snapshot is reassembled into one JS string, which V8
 * caps near 2^29 characters, so even at one-character chunks more than 2^20 chunks is not a
 * transfer that could complete; bounding it bounds the parts array a receiver keeps.
 */
export const MAX_SNAPSHOT_CHUNKS = 2 ** 20;
const chunkIndex = z.number().int().nonnegative().max(MAX_SNAPSHOT_CHUNKS - 1);

export const ballotSchema = z.object({ round, node: z.string().max(63) });
export const commandSchema = z.object({ id: z.string().min(1).max(256), payload: z.unknown() });
export const valueSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('noop') }),
  z.object({ kind: z.literal('batch'), cmds: z.array(commandSchema).max(MAX_ITEMS) }),
  // `learners` stays optional (no default): a value must decode to what its sender accepted, byte for byte.
  z.object({ kind: z.literal('config'), peers: z.array(id).min(1).max(64), q1: z.number().int().positive().max(64), q2: z.number().int().positive().max(64), learners: z.array(id).max(64).optional() }),
]);
const slotValue = z.object({ slot, value: valueSchema });
const acceptedEntry = z.object({ slot, ballot: ballotSchema, value: valueSchema });
const base = { group: z.string().max(63), from: id };
const entries = z.array(slotValue).max(MAX_ITEMS);
/** A sender's clock reading, echoed back for lease timing; 0 when an old sender left it out. */
const sentAtUs = micros.default(0);
/**
 * Quiescence (docs/paxos.md, "Quiescent groups"): a leader's heartbeat asking to go quiet, a
 * follower's ack agreeing. Optional, no default: absent means false, and an old sender's
 * heartbeat decodes exactly as it was sent.
 */
const quiet = z.boolean().optional();

export const paxosMessageSchema = z.discriminatedUnion('type', [
  z.object({ ...base, type: z.literal('prepare'), ballot: ballotSchema, fromSlot: slot }),
  z.object({ ...base, type: z.literal('promise'), ballot: ballotSchema, fromSlot: slot, accepted: z.array(acceptedEntry).max(MAX_ITEMS), chosenUpTo: slot, snapshotUpTo: slot.default(0), continueFrom: slot.optional() }),
  z.object({ ...base, type: z.literal('preVote'), ballot: ballotSchema }),
  z.object({ ...base, type: z.literal('preVoteReply'), ballot: ballotSchema, granted: z.boolean(), promised: ballotSchema }),
  z.object({ ...base, type: z.literal('nack'), ballot: ballotSchema, promised: ballotSchema }),
  z.object({ ...base, type: z.literal('accept'), ballot: ballotSchema, entries, chosenUpTo: slot, sentAtUs }),
  z.object({ ...base, type: z.literal('accepted'), ballot: ballotSchema, slots: z.array(slot).max(MAX_ITEMS), sentAtUs }),
  z.object({ ...base, type: z.literal('heartbeat'), ballot: ballotSchema, chosenUpTo: slot, sentAtUs, quiet }),
  z.object({ ...base, type: z.literal('heartbeatAck'), ballot: ballotSchema, sentAtUs, chosenUpTo: slot, quiet }),
  z.object({ ...base, type: z.literal('catchupRequest'), fromSlot: slot, toSlot: slot }),
  z.object({ ...base, type: z.literal('catchupReply'), entries, chosenUpTo: slot }),
  z.object({ ...base, type: z.literal('forward'), cmds: z.array(commandSchema).max(MAX_ITEMS) }),
  z
    .object({ ...base, type: z.literal('snapshotChunk'), upTo: slot, chunk: chunkIndex, chunks: z.number().int().positive().max(MAX_SNAPSHOT_CHUNKS), data: z.string().max(NATS_MAX_PAYLOAD_BYTES) })
    // A chunk past the announced count would be stored in a transfer that can never complete.
    .refine((m) => m.chunk < m.chunks, { message: 'chunk must be below chunks', path: ['chunk'] }),
  z.object({ ...base, type: z.literal('snapshotRequest'), upTo: slot, chunk: chunkIndex }),
  z.object({ ...base, type: z.literal('timeoutNow'), ballot: ballotSchema }),
  z.object({ ...base, type: z.literal('leaseRelease'), ballot: ballotSchema }),
  /** A quiet follower asks the leader of `ballot` to wake (docs/paxos.md, "Quiescent groups"). */
  z.object({ ...base, type: z.literal('wake'), ballot: ballotSchema }),
]);

/** A client asks a replica to replicate commands; the reply comes once they are applied there. */
export const proposeSchema = z.object({ cmds: z.array(commandSchema).min(1).max(10_000), timeoutMs: z.number().int().positive().max(600_000).default(5_000) });
export const proposedSchema = z.object({ ids: z.array(z.string().max(256)).max(10_000), appliedUpTo: slot });
