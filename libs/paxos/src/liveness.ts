/**
 * Node-level liveness, supplied by the shell (docs/paxos.md, "Quiescent groups"): whether this
 * node has heard anything from `node` recently, on the same clock the replicas are given. One
 * stream of beats per pair of nodes answers it for every group they share, which is what lets a
 * quiet group's follower stay quiet without per-group heartbeats.
 */
export interface PeerLiveness {
  isLive(node: string, nowUs: number): boolean;
}
