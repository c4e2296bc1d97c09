import { z } from 'zod';
import { micros } from './bounds.js';
import { errorBody } from './errors.js';
import { kvMessageSchemas } from './kv-messages.js';
import { placementMessageSchemas } from './placement-messages.js';
import { txnMessageSchemas } from './txn-messages.js';
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


/** A time master's answer: true time was inside [earliest, latest] (µs) when it read its clock. */
export const timeNowSchema = z
  .object({ earliest: micros, latest: micros, master: z.enum(['reference', 'drifting']) })
  .refine((b) => b.earliest <= b.latest, { message: 'earliest must not exceed latest' });

/**
 * A clock fault for one process (or every process: node `*`), broadcast on the chaos subject.
 * `skewMs` sets the clock's step offset (0 removes it); `driftPpm` sets its rate error.
 */
export const clockFaultSchema = z
  .object({
    node: z.string().min(1).max(63),
    skewMs: z.number().min(-86_400_000).max(86_400_000).optional(),
    driftPpm: z.number().min(-500_000).max(500_000).optional(),
  })
  .refine((b) => b.skewMs !== undefined || b.driftPpm !== undefined, { message: 'give skewMs or driftPpm' });
export type ClockFault = z.infer<typeof clockFaultSchema>;

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
  ...kvMessageSchemas,
  ...txnMessageSchemas,
  ...placementMessageSchemas,
  /** Ask a time master for its time (request on `<c>.timemaster.<dc>` or a master's inbox). */
  'time.get': z.object({}),
  'time.now': timeNowSchema,
  'clock.fault': clockFaultSchema,
  /**
   * "Your clock or mine is wrong": sent by a bus that received a message from this node whose
   * stamped `earliest` (senderEarliest) exceeded its own `latest` at receipt (receiverLatest).
   * The receiver resyncs with the time masters at once; it never stops on this word alone.
   */
  'clock.suspect': z.object({ senderEarliest: micros, receiverLatest: micros }),
  /**
   * "This node is up": sent one way to a peer node only in a heartbeat interval in which nothing
   * else went to it, so every peer hears from every node at least once per interval, even when
   * all their Paxos groups are quiet (docs/transport.md, "Node beats and liveness").
   */
  'node.beat': z.object({}),
} as const;

export type MessageKind = keyof typeof messageSchemas;
export type MessageBody<K extends MessageKind> = z.infer<(typeof messageSchemas)[K]>;
/** What a sender may write: fields with schema defaults may be left out. */
export type MessageInput<K extends MessageKind> = z.input<(typeof messageSchemas)[K]>;
export const MESSAGE_KINDS = Object.keys(messageSchemas) as MessageKind[];
