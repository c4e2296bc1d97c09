import { MAX_OUTBOX_PEERS } from '@synod/limits';

/**
 * What a bus tells about its peer traffic (Bus.trackPeers): `heard` for every message delivered
 * from a peer node on its peer subject (after the simulated link's verdict: a message the link
 * dropped was not heard), `sent` for every one-way peer message sent (or queued) to a node.
 */
export interface PeerTraffic {
  heard(node: string): void;
  sent(node: string): void;
}

/** Sends one node-level beat to `to` (the bus's `node.beat`); false when it could not be sent. */
export type SendBeat = (to: string) => boolean;

export interface NodeBeatsOptions {
  /** This node: always live to itself, never beaten. */
  self: string;
  /** The clock liveness is read on, µs; for a Paxos host, the clock its replicas are given. */
  clock: () => number;
  /** A peer not heard from for this long is not live (the election timeout), µs. */
  timeoutUs: number;
  /** How often `beat` runs (the heartbeat interval), µs; only used by `start`. */
  intervalUs: number;
  send: SendBeat;
  /**
   * Most nodes whose last message is remembered (default MAX_OUTBOX_PEERS). Configured peers are
   * always remembered; another node is remembered only while there is room, so a flood of
   * messages from unknown senders cannot grow this state.
   */
  maxPeers?: number;
  /** While this returns true no beats go out (a paused Paxos host must look down to its peers). */
  paused?: () => boolean;
  /** Called at the start of every beat round (e.g. to bring the peer set up to date with `setPeers`). */
  beforeBeat?: () => void;
}

/**
 * Node liveness and node beats (docs/transport.md, "Node beats and liveness").
 *
 * Liveness: the last time anything arrived from each peer node, on `clock`; a node is live when
 * heard from within `timeoutUs`. A quiet Paxos follower does not campaign while its leader's node
 * is live (docs/paxos.md, "Quiescent groups").
 *
 * Beats: `beat` (every `intervalUs` once started) sends `node.beat` to each configured peer that
 * was sent nothing since the previous beat, so each peer gets at least one message from this node
 * per interval while the node runs, and an idle process costs one small message per peer per
 * interval, however many groups it hosts. A busy link carries no beats at all.
 */
export class NodeBeats implements PeerTraffic {
  private readonly lastHeard = new Map<string, number>();
  private readonly sentSince = new Set<string>();
  private peerSet: ReadonlySet<string> = new Set();
  private readonly maxPeers: number;
  private timer: NodeJS.Timeout | undefined;
  private beatsSent = 0;

  constructor(private readonly opts: NodeBeatsOptions) {
    this.maxPeers = opts.maxPeers ?? MAX_OUTBOX_PEERS;
  }

  /**
   * The peers to beat and to remember. Nodes no longer configured are forgotten (a node that
   * comes back is not live until heard from again).
   */
  setPeers(peers: Iterable<string>): void {
    const set = new Set<string>();
    for (const p of peers) if (p !== this.opts.self && set.size < this.maxPeers) set.add(p);
    this.peerSet = set;
    for (const n of this.lastHeard.keys()) if (!set.has(n)) this.lastHeard.delete(n);
    for (const n of this.sentSince) if (!set.has(n)) this.sentSince.delete(n);
  }

  get peers(): ReadonlySet<string> {
    return this.peerSet;
  }

  /** Nodes whose last message is remembered (bounded by maxPeers). */
  get remembered(): number {
    return this.lastHeard.size;
  }

  /** Beats sent so far. */
  get beats(): number {
    return this.beatsSent;
  }

  heard(node: string): void {
    if (!this.lastHeard.has(node) && !this.peerSet.has(node) && this.lastHeard.size >= this.maxPeers) return;
    this.lastHeard.set(node, this.opts.clock());
  }

  sent(node: string): void {
    if (this.peerSet.has(node)) this.sentSince.add(node);
  }

  /** Whether `node` was heard from within the timeout before `nowUs` (this node always is). */
  isLive(node: string, nowUs: number): boolean {
    if (node === this.opts.self) return true;
    const at = this.lastHeard.get(node);
    return at !== undefined && nowUs - at < this.opts.timeoutUs;
  }

  /** When `node` was last heard from, µs on the clock; undefined if never (or forgotten). */
  lastHeardUs(node: string): number | undefined {
    return this.lastHeard.get(node);
  }

  /** One beat round: `node.beat` to every peer sent nothing since the last round. Returns how many went. */
  beat(): number {
    this.opts.beforeBeat?.();
    if (this.opts.paused?.()) {
      this.sentSince.clear();
      return 0;
    }
    let n = 0;
    for (const p of this.peerSet) {
      if (this.sentSince.has(p)) continue;
      if (this.opts.send(p)) n++;
    }
    // The beats just sent count as sent (send reports them through `sent`): clear after.
    this.sentSince.clear();
    this.beatsSent += n;
    return n;
  }

  /** Runs `beat` every intervalUs until `stop`. The timer does not keep the process alive. */
  start(): this {
    if (this.timer) return this;
    this.timer = setInterval(() => this.beat(), Math.max(1, Math.round(this.opts.intervalUs / 1000)));
    this.timer.unref?.();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
