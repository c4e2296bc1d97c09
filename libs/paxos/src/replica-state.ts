import { ZERO_BALLOT, type Ballot } from './ballot.js';
import { ignoresLeaseVotes, ownAcceptCountsAtOnce, quietLeaderLive, restoredAcceptedBallot, restoredPromise } from './broken.js';
import { MESSAGE_FRAME_BYTES, resolveConfig, type ReplicaConfig, type ResolvedConfig } from './config.js';
import { Dedupe } from './dedupe.js';
import { invariant } from './invariant.js';
import { LeaderLease, LeaseVote } from './lease.js';
import type { PeerLiveness } from './liveness.js';
import { Configurations } from './membership.js';
import type { MessageBody, PaxosMessage } from './messages.js';
import { JSON_SNAPSHOT_TRANSFER, type AppliedState, type DurableState, type Ready, type Snapshot, type SnapshotTransfer } from './output.js';
import type { Rng } from './rng.js';
import { SnapshotReceiver, SnapshotSender } from './snapshot-transfer.js';
import type { AcceptedEntry, Command, ConfigValue, SlotValue, Value } from './value.js';

export type Role = 'follower' | 'candidate' | 'leader';

/** A slot the leader proposed and has not yet seen chosen. */
export interface InFlight {
  /** The value proposed at the slot. */
  value: Value;
  /** Acceptors that accepted it at the leader's ballot. */
  acks: Set<string>;
  /** Leader clock: when the Accept last went out (resent when stale). */
  sentAtUs: number;
}

export interface ReplicaOptions {
  durable?: DurableState;
  applied?: AppliedState;
  nowUs?: number;
  snapshotTransfer?: SnapshotTransfer;
  /** Node-level liveness from the shell; required when config.quiesceAfterUs > 0. */
  liveness?: PeerLiveness;
}

/**
 * The state of one replica and the plumbing every role shares. The roles build on it, one
 * file each: acceptor.ts ← learner.ts ← campaign.ts ← leader.ts ← replica.ts (public API,
 * dispatch, role changes, the Ready). Calls from an earlier role into a later one are the
 * abstract methods below.
 */
export abstract class ReplicaState {
  /** The resolved configuration: limits, timeouts, features, broken variants. */
  readonly config: ResolvedConfig;
  /** Randomness for election timeouts and backoff (deterministic in the simulator). */
  protected readonly rng: Rng;

  // ---- acceptor (durable: mirrors what the shell persisted)
  /** Highest ballot promised. */
  protected promised: Ballot;
  /** Accepted entries at or above the snapshot, by slot. */
  protected readonly log = new Map<number, { ballot: Ballot; value: Value }>();
  /** The latest snapshot: slots below its `upTo` exist only in it. */
  protected snapshot: Snapshot | null = null;
  /** The acceptor side of the lease: which ballot this acceptor voted for, until when. */
  protected readonly vote = new LeaseVote();

  // ---- learner (volatile: re-learned after restart, or restored from the snapshot)
  /** Values known chosen, at slots >= the snapshot (those below chosenPrefix until compacted). */
  protected readonly chosen = new Map<number, Value>();
  /** Exclusive: every slot below is known chosen. */
  protected chosenPrefix: number;
  /** Exclusive: every slot below was handed to the shell to apply. */
  protected applied: number;
  /** Ids of applied commands: a retried command is applied once. */
  protected dedupe: Dedupe;
  /** Applied configurations, plus at a leader those it proposed. */
  protected readonly configs: Configurations;
  /** Highest chosenUpTo a leader (or a promise) advertised: catch-up fetches up to it. */
  protected knownChosenUpTo = 0;
  /** Who advertised `knownChosenUpTo`: where catch-up fetches from. */
  protected catchupSource: string | null = null;
  /** Own clock: no catch-up request before this (one per two heartbeats). */
  protected catchupRetryAtUs = 0;
  /** The snapshot asked of the shell (takeSnapshot), with the replica's own state at its index. */
  protected pendingSnapshot: { upTo: number; dedupe: Snapshot['dedupe']; configs: Snapshot['configs'] } | null = null;
  /** Serves our snapshot to peers behind the compaction point. */
  protected readonly snapshotSender: SnapshotSender;
  /** Assembles a snapshot pulled from a peer. */
  protected readonly snapshotReceiver: SnapshotReceiver;

  // ---- proposer
  /** follower, candidate (phase 1 running) or leader (phase 1 won at myBallot). */
  protected role: Role = 'follower';
  /** The ballot this replica campaigns or leads with; ZERO_BALLOT if it never tried. */
  protected myBallot: Ballot = ZERO_BALLOT;
  /** Highest round seen in any ballot: a campaign goes above it. */
  protected maxRoundSeen: number;
  /** The highest leader ballot heard from (or our own while leading), or null. */
  protected leaderBallot: Ballot | null = null;
  /** Own clock: when that leader was last heard from (leader stickiness, pre-vote). */
  protected lastLeaderContactUs = Number.NEGATIVE_INFINITY;
  /** Own clock: when a follower campaigns (or a candidate retries) unless a leader is heard. */
  protected electionDeadlineUs: number;
  /** Own clock as of the current call (never goes back). */
  protected nowUs: number;
  /** Phase 1: acceptors whose promise for myBallot is complete (every part received). */
  protected readonly promisers = new Set<string>();
  /** Per acceptor whose promise comes in parts: the fromSlot of the part expected next. */
  protected readonly promiseParts = new Map<string, number>();
  /** Phase 1: highest-ballot accepted entry per slot >= prepareFromSlot, from every promise part so far. */
  protected readonly reported = new Map<number, AcceptedEntry>();
  /** Phase 1: acceptors sent a Prepare for myBallot (so each gets one). */
  protected readonly prepared = new Set<string>();
  /** Pre-vote: the ballot this replica would campaign with, or null when not pre-voting. */
  protected preVoteBallot: Ballot | null = null;
  /** Pre-vote: who said they would follow that campaign. */
  protected readonly preVotes = new Set<string>();
  /** Phase 1 runs for slots from here (the chosen prefix when the campaign began). */
  protected prepareFromSlot = 0;
  /** Leader: the next slot to assign (meaningful only while leading). */
  protected nextSlot = 0;
  /** Leader: first slot after the re-proposals of phase 1; local reads wait until it is applied. */
  protected termStartSlot = 0;
  /** Leader: proposed slots not yet chosen. */
  protected readonly inflight = new Map<number, InFlight>();
  /** Phase-1 results not yet re-proposed, ascending by slot; flushQueue sends them within the window. */
  protected reproposals: SlotValue[] = [];
  /** Leader: commands waiting for room in the window. */
  protected queue: Command[] = [];
  /** Leader: ids in `queue` or in flight (a retried command is queued once). */
  protected readonly queuedIds = new Set<string>();
  /** Leader: a reconfiguration waiting for room in the window. */
  protected queuedConfig: ConfigValue | null = null;
  /** Leader: own clock of the next heartbeat. */
  protected nextHeartbeatUs = 0;
  /** Leader: lease votes and heard-from times. */
  protected readonly lease = new LeaderLease();
  /**
   * Leader: per replication target, exclusive: the slots below are held there (accepted at our
   * ballot, or reported chosen by its heartbeat acks). Learner promotion and transfer wait on it.
   */
  protected readonly matchUpTo = new Map<string, number>();
  /**
   * Leader: a leader transfer under way, or null. Meanwhile no new slot is assigned and no vote
   * timed after `startUs` extends the lease, so the lease drains before the hand-over.
   */
  protected transfer: { to: string; startUs: number; deadlineUs: number } | null = null;
  /** Follower: the replica this one handed leadership to, the proposals' hint until a leader is heard. */
  protected handedOffTo: string | null = null;
  /**
   * Acceptor: the latest ballot whose leader released its lease (leader transfer). Its messages
   * are ignored from then on, so a delayed heartbeat cannot revive a vote or stickiness for it.
   */
  protected releasedBallot: Ballot | null = null;

  // ---- quiescence (docs/paxos.md, "Quiescent groups")
  /** Leader: it stopped heartbeating (its lease lapses). Follower: it agreed to, and follows such a leader. */
  protected quiet = false;
  /** Own clock: the last activity here (a proposal, a client's request, a wake); quiet only after quiesceAfterUs without. */
  protected lastActivityUs: number;
  /** Leader: followers that agreed to go quiet since the last activity. */
  protected readonly quietAcks = new Set<string>();
  /** The shell's node-level liveness, or null (never quiet then). */
  protected readonly liveness: PeerLiveness | null;

  // ---- the Ready being assembled by the current call
  /** The output of the current call. */
  protected out: Ready = emptyReady();
  /** Accepted entries to persist in `out`, by slot (a later accept of a slot supersedes). */
  protected persistAccepted = new Map<number, AcceptedEntry>();
  /** Messages to self, handled before the call returns (so their persists precede its sends); the leader's own Accepted goes to `out.local` instead. */
  protected readonly loopback: PaxosMessage[] = [];
  /**
   * The highest promise handed to the shell to persist, in this or an earlier Ready (or restored
   * from durable state): every Promise or Accepted sent must be covered by it.
   */
  protected persistedPromise: Ballot = ZERO_BALLOT;
  /** Per slot >= the snapshot: the ballot of the accepted entry last handed to the shell to persist. */
  protected readonly persistedAccepted = new Map<number, Ballot>();

  constructor(config: ReplicaConfig, rng: Rng, opts: ReplicaOptions) {
    const transfer = opts.snapshotTransfer ?? JSON_SNAPSHOT_TRANSFER;
    this.config = resolveConfig(config);
    this.rng = rng;
    this.nowUs = opts.nowUs ?? 0;
    this.lastActivityUs = this.nowUs;
    this.liveness = opts.liveness ?? null;
    if (this.config.quiesceAfterUs > 0 && this.liveness === null) throw new Error('paxos config: quiesceAfterUs needs the shell\'s liveness (ReplicaOptions.liveness)');
    this.snapshotSender = new SnapshotSender(transfer, this.config.snapshotChunkChars);
    this.snapshotReceiver = new SnapshotReceiver(transfer);

    const durable = opts.durable;
    const snap = durable?.snapshot ?? null;
    this.configs = new Configurations(snap ? snap.configs : [{ fromSlot: 0, peers: [...this.config.peers], q1: this.config.q1, q2: this.config.q2 }]);
    this.promised = durable ? restoredPromise(this.config, durable.promised) : ZERO_BALLOT;
    let appliedFrom = 0;
    if (snap) {
      this.snapshot = snap;
      appliedFrom = snap.upTo;
    }
    if (durable) {
      const entries: Iterable<[number, { ballot: Ballot; value: Value }]> = Array.isArray(durable.accepted)
        ? (durable.accepted as AcceptedEntry[]).map((e) => [e.slot, { ballot: e.ballot, value: e.value }])
        : (durable.accepted as ReadonlyMap<number, { ballot: Ballot; value: Value }>).entries();
      for (const [slot, e] of entries) {
        if (slot < appliedFrom) continue; // covered by the snapshot; truncation may not have run
        this.log.set(slot, { ballot: restoredAcceptedBallot(this.config, e.ballot), value: e.value });
        this.persistedAccepted.set(slot, e.ballot);
      }
      this.persistedPromise = durable.promised;
    }
    let maxRound = this.promised.round;
    for (const e of this.log.values()) maxRound = Math.max(maxRound, e.ballot.round);
    this.maxRoundSeen = maxRound;

    this.applied = appliedFrom;
    this.dedupe = new Dedupe(snap?.dedupe);
    if (opts.applied && opts.applied.upTo > appliedFrom) {
      // Resume where the shell's durable state is: rebuild the dedupe set and the configurations
      // from the records of the applied slots after the snapshot; apply none of them again.
      let next = appliedFrom;
      for (const r of opts.applied.records) {
        invariant(r.slot === next, 'applied records are contiguous from the snapshot', () => `expected slot ${next}, got ${r.slot} at ${this.config.self}`);
        for (const id of r.commandIds) this.dedupe.add(id);
        if (r.config) this.configs.apply(r.slot, r.config, this.config.window, this.applied);
        // Known chosen, so this replica can still serve it to a follower behind its resume point
        // (a snapshot covers only what lies below the snapshot; without this, a follower between
        // the two never caught up from this replica).
        const value = r.logHolds ? this.log.get(r.slot)?.value : r.value;
        if (value !== undefined) this.chosen.set(r.slot, value);
        next = r.slot + 1;
        this.applied = next;
      }
      invariant(next === opts.applied.upTo, 'applied records reach the applied index', () => `records end at ${next}, applied ${opts.applied!.upTo} at ${this.config.self}`);
    }
    this.chosenPrefix = this.applied;
    this.nextSlot = this.chosenPrefix;
    this.electionDeadlineUs = this.nowUs + this.electionTimeout();
    // Every vote is granted right after a durable promise of its ballot, and a vote for one
    // ballot ends before a promise to another node's. So the only vote a restarted acceptor
    // may have forgotten is one for its durable `promised` ballot: honor it for a lease.
    if (this.promised.round > 0 && !ignoresLeaseVotes(this.config)) this.vote.grant(this.promised, this.nowUs, this.config.leaseDurationUs);
  }

  // ---- calls into later roles
  protected abstract stepDown(): void;
  protected abstract startElection(): void;
  protected abstract becomeLeader(best: ReadonlyMap<number, AcceptedEntry>): void;
  protected abstract noteLeader(b: Ballot): void;
  protected abstract learnFromLeader(ballot: Ballot, leaderChosenUpTo: number, from: string): void;
  protected abstract requestCatchup(): void;

  // ---- shared plumbing

  /** Who this replica believes leads the group (itself if leader), or null. */
  leaderHint(): string | null {
    if (this.role === 'leader') return this.config.self;
    if (this.role === 'candidate') return null;
    return this.leaderBallot?.node ?? null;
  }

  /** Log compaction point: slots below it are only in the snapshot. */
  snapshotUpTo(): number {
    return this.snapshot?.upTo ?? 0;
  }

  protected leaderIsLive(): boolean {
    if (this.role === 'leader') return true;
    if (this.leaderBallot === null) return false;
    // A quiet leader sends nothing: its node's beats stand for it.
    if (this.quiet) return quietLeaderLive(this.config, this.peerLive(this.leaderBallot.node));
    return this.nowUs - this.lastLeaderContactUs < this.config.electionTimeoutUs;
  }

  /** Whether the shell has heard from `node` lately (node-level beats); false without liveness. */
  protected peerLive(node: string): boolean {
    return this.liveness !== null && this.liveness.isLive(node, this.nowUs);
  }

  protected electionTimeout(): number {
    const base = this.config.electionTimeoutUs;
    return this.config.features.randomizedTimeouts ? base + Math.floor(this.rng.next() * base) : base;
  }

  protected observeRound(round: number): void {
    if (round > this.maxRoundSeen) this.maxRoundSeen = round;
  }

  /** Every member of a configuration governing an unchosen slot. */
  protected activePeers(): string[] {
    return this.configs.activePeers(this.chosenPrefix);
  }

  /** Every voter or learner of a configuration governing an unchosen slot: who gets Accepts and heartbeats. */
  protected replicationTargets(): string[] {
    return this.configs.replicationTargets(this.chosenPrefix);
  }

  /** Bytes of entries one message may carry besides its framing. */
  protected messageBudget(): number {
    return this.config.maxMessageBytes - MESSAGE_FRAME_BYTES;
  }

  protected send(to: string, body: MessageBody): void {
    const msg = { ...body, group: this.config.group, from: this.config.self } as PaxosMessage;
    if (to === this.config.self) {
      // The leader's own accept counts toward a quorum only once it is durable: its Accepted
      // comes back through the shell after this Ready's persist (docs/paxos.md, "Accepts
      // before the leader's fsync").
      if (msg.type === 'accepted' && !ownAcceptCountsAtOnce(this.config)) (this.out.local ??= []).push(msg);
      else this.loopback.push(msg);
    } else if (msg.type === 'accept') {
      (this.out.sendEarly ??= []).push({ to, msg });
    } else {
      this.out.send.push({ to, msg });
    }
  }
}

export function emptyReady(): Ready {
  return { send: [], apply: [] };
}
