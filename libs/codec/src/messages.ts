import { z } from 'zod';
import { errorBody } from './errors.js';
import { paxosMessageSchema, proposeSchema, proposedSchema } from './paxos-messages.js';

const dcName = z.string().min(1).max(63);

/** One direction of one DC pair in the simulated network. */
export const linkFault = z.object({
  from: dcName,
  to: dcName,
  down: z.boolean().default(false),
  latencyMs: z.number().min(0).max(60_000).default(0),
  jitterMs: z.number().min(0).max(60_000).default(0),
  loss: z.number().min(0).max(1).default(0),
});
export type LinkFault = z.infer<typeof linkFault>;

/** The cluster's whole fault picture. Processes apply the highest version they have seen. */
export const chaosState = z.object({
  version: z.number().int().nonnegative(),
  links: z.array(linkFault).max(1024),
  isolated: z.array(z.string().max(63)).max(1024),
});
export type ChaosState = z.infer<typeof chaosState>;

/**
 * The one set of message schemas: every kind that may travel between synod processes.
 * A kind not listed here is dropped at the transport boundary.
 */
export const messageSchemas = {
  ping: z.object({ nonce: z.number().int() }),
  pong: z.object({ nonce: z.number().int() }),
  /** One-way diagnostic message; lets tools see which directions of a link deliver. */
  note: z.object({ token: z.string().max(256) }),
  error: errorBody,
  'chaos.state': chaosState,
  'chaos.get': z.object({}),
  /** Replica-to-replica Multi-Paxos traffic for the envelope's group. */
  paxos: paxosMessageSchema,
  'paxos.propose': proposeSchema,
  'paxos.proposed': proposedSchema,
} as const;

export type MessageKind = keyof typeof messageSchemas;
export type MessageBody<K extends MessageKind> = z.infer<(typeof messageSchemas)[K]>;
export const MESSAGE_KINDS = Object.keys(messageSchemas) as MessageKind[];
