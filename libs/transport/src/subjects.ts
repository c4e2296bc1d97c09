import type { MessageKind } from '@synod/codec';

/**
 * The cluster's NATS subject layout (DESIGN §9, docs/transport.md "Subjects"), in one place.
 *
 * Peer traffic (PEER_KINDS) travels on `<c>.peer.<receiver>.<sender>`: the sender's id is a
 * subject token, so nats-server permissions can bind it to the connection's credentials
 * (a node may publish only `<c>.peer.*.<its id>`), and the receiving bus drops any envelope
 * whose `from` is not that token (docs/transport.md "Credentials"). Client requests travel on
 * `<c>.node.<receiver>`, which never carries a peer kind.
 */
export const subjects = (cluster: string) => ({
  /** A node's client inbox: requests from clients, tools and other nodes (never peer kinds). */
  node: (nodeId: string) => `${cluster}.node.${nodeId}`,
  /** Peer traffic from `from` to `to`; only `from`'s credentials may publish it. */
  peer: (to: string, from: string) => `${cluster}.peer.${to}.${from}`,
  /** What a node subscribes for its peer traffic: any sender token. */
  peerInbox: (nodeId: string) => `${cluster}.peer.${nodeId}.*`,
  /** Every process of the cluster. */
  all: `${cluster}.all`,
  /** Versioned fault picture broadcasts. */
  chaos: `${cluster}.chaos`,
  /** Ask any process for the newest fault picture it knows (used at start-up). */
  chaosGet: `${cluster}.chaos.get`,
  /** Per-DC time masters. */
  timemaster: (dc: string) => `${cluster}.timemaster.${dc}`,
  placement: `${cluster}.placement`,
  events: `${cluster}.events`,
});

/**
 * Kinds that only nodes exchange: replication, 2PC between split leaders, closed timestamps,
 * clock evidence, and the placement service's orders to spanservers. They travel only on peer
 * subjects, so a client role (which cannot publish there) cannot reach their handlers.
 */
export const PEER_KINDS: ReadonlySet<MessageKind> = new Set<MessageKind>([
  'paxos',
  'split.closed',
  'split.2pc',
  'clock.suspect',
  'split.cut',
  'split.host',
  'split.drop',
  'split.reconfigure',
  'split.transfer',
  'node.beat',
]);

/** Kinds that change a process's fault picture or clock: accepted only on the chaos subject (and chaos.state as a chaos.get reply). */
export const CHAOS_KINDS: ReadonlySet<MessageKind> = new Set<MessageKind>(['chaos.state', 'clock.fault']);

/** A node id must be one subject token: no dots, wildcards or whitespace. */
export const SUBJECT_TOKEN = /^[^.*>\s]{1,63}$/;
