/** The cluster's NATS subject layout (DESIGN §9), in one place. */
export const subjects = (cluster: string) => ({
  /** A node's inbox: peer traffic and RPC addressed to it. */
  node: (nodeId: string) => `${cluster}.node.${nodeId}`,
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
