import { statSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { SynodError } from '@synod/codec';
import { SUBJECT_TOKEN, subjects } from './subjects.js';

/**
 * NATS credentials and the subject permissions of each role (docs/transport.md "Credentials").
 *  - node: a spanserver, time master or placement replica. Publishes peer traffic only with its
 *    own id as the sender token; answers requests (any reply inbox); subscribes only its own inboxes.
 *  - client: the gateway, CLI clients. Publishes requests on client inboxes and the placement
 *    subject, asks for the fault picture; nothing else (no peer, time master, chaos or broadcast
 *    subjects), and subscribes only its reply inboxes and the fault picture.
 *  - operator: `synod up` itself, the chaos tool, tests: everything under the cluster's prefix.
 */
export const NATS_ROLES = ['node', 'client', 'operator'] as const;
export type NatsRole = (typeof NATS_ROLES)[number];

const token = z.string().regex(SUBJECT_TOKEN, 'one NATS subject token (no dots, wildcards or spaces), at most 63 characters');

/** A credentials file as `synod up` writes it (`<data-dir>/creds/<user>.json`, mode 0600). */
export const natsCredsSchema = z
  .object({
    user: token,
    // Random hex from synod up; the bound keeps a hostile file from being huge.
    password: z.string().min(16).max(256),
    role: z.enum(NATS_ROLES),
    cluster: token,
    /** The node id a node role must run as (its sender token). */
    nodeId: token.optional(),
  })
  .strict()
  .refine((c) => c.role !== 'node' || c.nodeId !== undefined, { message: 'a node credential names its nodeId' });
export type NatsCreds = z.infer<typeof natsCredsSchema>;

/**
 * Reads and checks a credentials file. Throws SynodError INVALID_ARGUMENT naming the file and
 * the problem: unreadable, readable by group or others (a password must not leak), not JSON,
 * or not a credential.
 */
export function readCredsFile(path: string): NatsCreds {
  let text: string;
  try {
    const st = statSync(path);
    if ((st.mode & 0o077) !== 0) throw new SynodError('INVALID_ARGUMENT', `NATS credentials ${path} are readable by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
    if (st.size > 64 * 1024) throw new SynodError('INVALID_ARGUMENT', `NATS credentials ${path} are ${st.size} bytes, more than a credential can be`);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof SynodError) throw err;
    throw new SynodError('INVALID_ARGUMENT', `cannot read NATS credentials ${path}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SynodError('INVALID_ARGUMENT', `NATS credentials ${path} are not JSON: ${(err as Error).message}`);
  }
  const parsed = natsCredsSchema.safeParse(json);
  if (!parsed.success) throw new SynodError('INVALID_ARGUMENT', `NATS credentials ${path}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ')}`.slice(0, 1000));
  return parsed.data;
}

/** One nats-server `authorization.users` entry. */
export interface NatsUser {
  user: string;
  password: string;
  permissions: {
    publish: { allow: string[] };
    subscribe: { allow: string[] };
    allow_responses?: boolean;
  };
}

/** Every reply inbox is under it (nats.js's default prefix too). */
export const INBOX_ROOT = '_INBOX';

/**
 * Where replies to a user's requests arrive: a subtree of its own under `_INBOX`, so that a
 * credential may subscribe only its own replies, not everyone's, and a node may answer anyone's.
 */
export const inboxPrefixFor = (user: string) => `${INBOX_ROOT}.${user}`;

/**
 * The permissions of `user` in `role`; a node's user name is its node id. `serves` lists extra
 * subjects a node subscribes (a time master's `<c>.timemaster.<dc>`, a placement replica's `<c>.placement`).
 */
export function permissionsFor(cluster: string, role: NatsRole, user: string, serves: string[] = []): NatsUser['permissions'] {
  const s = subjects(cluster);
  const REPLY_INBOXES = `${inboxPrefixFor(user)}.>`;
  // A node answers requests by publishing to the requester's reply inbox, not through
  // allow_responses: a batch of requests is answered in as many messages as turns its replies take,
  // and nats-server tracks every request received under allow_responses until it has had `max`
  // replies or expired (2 min), so a max above 1 grows that table by every request of the last
  // two minutes (docs/transport.md "Request batching").
  const ANY_REPLY_INBOX = `${INBOX_ROOT}.>`;
  const nodeId = user;
  if (role === 'operator') return { publish: { allow: [`${cluster}.>`, ANY_REPLY_INBOX] }, subscribe: { allow: [`${cluster}.>`, REPLY_INBOXES] } };
  if (role === 'client')
    // No reply inbox: a client answers nobody, so it cannot forge a reply (e.g. a chaos.get answer).
    return { publish: { allow: [`${cluster}.node.*`, s.placement, s.chaosGet] }, subscribe: { allow: [s.chaos, REPLY_INBOXES] } };
  return {
    publish: {
      allow: [
        // The sender token is the node's own id: it cannot speak as another node.
        `${cluster}.peer.*.${nodeId}`,
        `${cluster}.node.*`,
        `${cluster}.timemaster.*`,
        s.placement,
        // Clock-fault reports answer `synod chaos show`'s query on the chaos subject (libs/truetime faults.ts).
        s.chaos,
        s.chaosGet,
        ANY_REPLY_INBOX,
      ],
    },
    subscribe: { allow: [s.peerInbox(nodeId), s.node(nodeId), s.all, s.chaos, s.chaosGet, REPLY_INBOXES, ...serves] },
  };
}
