import { ballotEquals, compareBallot, formatBallot } from './ballot.js';
import { handsOverUnderLease, keepsLeadAfterHandOff, transferTargetHeard, leaseIgnoresDrift, phase2Counted, quietLeaseEnd, readsWithoutLease, reproposalValue, voteTimeUs } from './broken.js';
import { chunkByBudget, commandBytes, fitInBudget, slotValueBytes } from './budget.js';
import { Campaign } from './campaign.js';
import { invariant } from './invariant.js';
import type { AcceptedMsg, ForwardMsg, HeartbeatAckMsg } from './messages.js';
import type { Membership } from './output.js';
import { hasQuorum } from './quorum.js';
import { NOOP, type AcceptedEntry, type Command, type SlotValue, type Value } from './value.js';

/**
 * Phase 2, the leader: re-proposes what phase 1 found (no-ops for holes), batches commands
 * into slots within the pipelining window, counts Accepted per slot against the governing
 * configuration, resends stale Accepts, heartbeats, and keeps its lease from the votes.
 */
export abstract class Leader extends Campaign {
  /** Phase 1 won at myBallot: re-propose every slot a promise reported (no-ops for holes) and start leading. */
  protected becomeLeader(best: ReadonlyMap<number, AcceptedEntry>): void {
    let maxSlot = this.prepareFromSlot - 1;
    for (const s of best.keys()) maxSlot = Math.max(maxSlot, s);
    this.promisers.clear();
    this.role = 'leader';
    this.leaderBallot = this.myBallot;
    this.lastLeaderContactUs = this.nowUs;
    this.inflight.clear();
    this.configs.clearProposed();
    this.lease.clear();
    this.matchUpTo.clear();
    this.transfer = null;
    this.handedOffTo = null;
    // A new leadership stays awake for quiesceAfterUs at least: its followers are still learning it.
    this.quiet = false;
    this.quietAcks.clear();
    this.lastActivityUs = this.nowUs;
    const reproposals: SlotValue[] = [];
    for (let s = this.prepareFromSlot; s <= maxSlot; s++) {
      const known = this.chosen.get(s);
      // Highest-ballot value or, for holes, a no-op. A slot we already know
      // chosen keeps its value (it must equal the highest-ballot one anyway).
      const value = reproposalValue(this.config, known ?? best.get(s)?.value ?? NOOP);
      if (known !== undefined && s < this.chosenPrefix) continue;
      reproposals.push({ slot: s, value });
      if (value.kind === 'config') this.configs.propose(s, value, this.config.window);
    }
    this.reported.clear();
    this.nextSlot = Math.max(maxSlot + 1, this.chosenPrefix);
    this.termStartSlot = this.nextSlot;
    for (const p of this.activePeers()) this.lease.hear(p, this.nowUs);
    this.reproposals = reproposals;
    this.sendHeartbeats();
    this.flushQueue();
  }

  protected onAccepted(m: AcceptedMsg): void {
    if (this.role !== 'leader' || !ballotEquals(m.ballot, this.myBallot)) return;
    this.recordVote(m.from, m.sentAtUs);
    let progressed = false;
    for (const slot of m.slots) {
      const f = this.inflight.get(slot);
      if (!f) continue;
      f.acks.add(m.from);
      // Learners ack like voters, but only voters count (phase2Counted is the broken variant's hook).
      if (hasQuorum(f.acks, phase2Counted(this.config, this.configs.at(slot)), 'q2')) {
        this.inflight.delete(slot);
        this.markChosen(slot, f.value);
        progressed = true;
      }
    }
    this.noteAcceptedRun(m.from, m.slots);
    if (progressed) {
      this.advanceChosenPrefix();
      this.flushQueue();
    }
    this.progressTransfer();
  }

  protected onHeartbeatAck(m: HeartbeatAckMsg): void {
    if (this.role !== 'leader' || !ballotEquals(m.ballot, this.myBallot)) return;
    this.recordVote(m.from, m.sentAtUs);
    // Its chosen prefix is held there (learned, caught up, or installed from a snapshot).
    this.raiseMatch(m.from, Math.min(m.chosenUpTo, this.nextSlot));
    this.progressTransfer();
    if (m.quiet === true && m.chosenUpTo >= this.nextSlot) this.quietAcks.add(m.from);
    this.goQuietIfAgreed();
  }

  /**
   * Quiescence (docs/paxos.md, "Quiescent groups"): whether this leader may ask to go quiet. Only
   * an idle leadership with nothing unsettled may: no activity for quiesceAfterUs, nothing queued,
   * in flight, re-proposed, handed over or reconfigured, every slot chosen and applied, and every
   * replication target a voter the shell reports live (a learner is catching up: never quiet).
   */
  protected quiescible(): boolean {
    const c = this.config.quiesceAfterUs;
    if (c === 0 || this.liveness === null || this.role !== 'leader' || this.nowUs - this.lastActivityUs < c) return false;
    if (this.queue.length > 0 || this.inflight.size > 0 || this.reproposals.length > 0 || this.transfer !== null || this.queuedConfig !== null) return false;
    if (this.chosenPrefix !== this.nextSlot || this.applied < this.chosenPrefix) return false;
    if (this.configs.appliedPendingFrom(this.chosenPrefix) !== null || this.configs.changingAfter(this.chosenPrefix)) return false;
    const voters = this.configs.at(this.nextSlot).peers;
    if (!voters.includes(this.config.self)) return false;
    for (const p of this.replicationTargets()) {
      if (p !== this.config.self && (!voters.includes(p) || !this.peerLive(p))) return false;
    }
    return true;
  }

  /** Every follower agreed at a quiet heartbeat: stop heartbeating; the lease lapses on its own. */
  private goQuietIfAgreed(): void {
    if (this.quiet || !this.quiescible()) return;
    for (const p of this.replicationTargets()) if (p !== this.config.self && !this.quietAcks.has(p)) return;
    this.quiet = true;
  }

  /**
   * Something needs this group (a proposal, a client's request, a peer's message): it leaves
   * quiescence and may not go quiet again for quiesceAfterUs.
   */
  protected noteActivity(): void {
    this.lastActivityUs = this.nowUs;
    this.quietAcks.clear();
    if (this.quiet) this.leaveQuiet();
  }

  /**
   * A quiet leader heartbeats at once (its lease comes back with the acks), crediting the peers
   * its node hears as heard now so check-quorum gives them an election timeout to answer. A
   * quiet follower asks its leader to wake.
   */
  protected leaveQuiet(): void {
    this.quiet = false;
    if (this.role === 'leader') {
      for (const p of this.activePeers()) if (this.peerLive(p)) this.lease.hear(p, this.nowUs);
      this.sendHeartbeats();
    } else if (this.leaderBallot !== null && this.leaderBallot.node !== this.config.self) {
      this.send(this.leaderBallot.node, { type: 'wake', ballot: this.leaderBallot });
      this.lastLeaderContactUs = this.nowUs;
      this.electionDeadlineUs = this.nowUs + this.electionTimeout();
    }
  }

  /** `from` accepted `slots` (ascending) at our ballot: extend the run it holds from its match. */
  private noteAcceptedRun(from: string, slots: readonly number[]): void {
    let match = this.matchUpTo.get(from) ?? 0;
    for (const s of slots) if (s === match) match++;
    while (this.inflight.get(match)?.acks.has(from)) match++;
    this.raiseMatch(from, match);
  }

  /** Records progress only for replication targets, so the map is bounded by the configurations. */
  private raiseMatch(node: string, upTo: number): void {
    if (upTo <= (this.matchUpTo.get(node) ?? 0) || !this.replicationTargets().includes(node)) return;
    this.matchUpTo.set(node, upTo);
  }

  /**
   * Whether `node` was heard from within an election timeout: its acks, or its node's beats when
   * a quiet leader woke (leaveQuiet credits the peers its node hears).
   */
  protected heardLately(node: string): boolean {
    return transferTargetHeard(this.config, this.nowUs - (this.lease.heardAt(node) ?? Number.NEGATIVE_INFINITY) < this.config.electionTimeoutUs);
  }

  /** Leader: what `node` holds (exclusive), as far as acks and heartbeat acks tell. */
  protected matchOf(node: string): number {
    return node === this.config.self ? this.nextSlot : (this.matchUpTo.get(node) ?? 0);
  }

  /**
   * Leader transfer (docs/paxos.md "Learners and leader transfer"): give up at the deadline (and
   * assign slots again), or hand over once the target holds every slot assigned and the lease,
   * no longer extended since the transfer began, has run out.
   */
  protected progressTransfer(): void {
    const t = this.transfer;
    if (this.role !== 'leader' || t === null) return;
    // A target cut off after the transfer began cannot take over: lead on rather than stall.
    if (this.nowUs >= t.deadlineUs || !this.heardLately(t.to)) {
      this.transfer = null;
      this.flushQueue();
      return;
    }
    if (this.reproposals.length > 0 || this.matchOf(t.to) < this.nextSlot) return;
    // The transaction layer may have used timestamps up to the lease end it was told (reads and
    // prepares at future timestamps): no successor may lead before that end has passed.
    const end = this.leaseEnd();
    if (end !== null && this.nowUs < end && !handsOverUnderLease(this.config)) return;
    this.handOff(t.to);
  }

  /**
   * Ends this leadership first — leaseEnd() is null from this Ready on, and the lease it reported
   * has already run out — and only then releases the voters' lease votes for our ballot and
   * tells `to` to campaign. A release thus never reaches anyone while this ballot backs a lease.
   */
  private handOff(to: string): void {
    const b = this.myBallot;
    const voters = this.activePeers();
    this.transfer = null;
    if (!keepsLeadAfterHandOff(this.config)) {
      this.stepDown();
      this.handedOffTo = to;
      this.releaseBallot(b);
    }
    for (const p of voters) if (p !== this.config.self && p !== to) this.send(p, { type: 'leaseRelease', ballot: b });
    this.send(to, { type: 'timeoutNow', ballot: b });
  }

  private recordVote(from: string, sentAtUs: number): void {
    const at = voteTimeUs(this.config, sentAtUs, this.nowUs);
    // While handing over, the lease is not extended: it drains (docs/paxos.md "Learners and leader transfer").
    this.lease.recordVote(from, this.transfer === null ? at : Math.min(at, this.transfer.startUs), this.nowUs);
  }

  protected onForward(m: ForwardMsg): void {
    if (this.role !== 'leader' || this.transfer !== null) return; // the client retries; re-forwarding could loop
    this.noteActivity();
    // The forwarder checked sizes; a command over the limit here is dropped, never batched.
    const fresh = m.cmds.filter((c) => !this.dedupe.has(c.id) && commandBytes(c) <= this.config.maxCommandBytes);
    this.enqueue(fresh);
    this.flushQueue();
  }

  protected enqueue(cmds: Command[]): void {
    for (const c of cmds) {
      if (this.queuedIds.has(c.id)) continue;
      this.queuedIds.add(c.id);
      this.queue.push(c);
    }
  }

  /** Assigns slots to the queued reconfiguration and command batches while the window has room. */
  protected flushQueue(): void {
    if (this.role !== 'leader') return;
    const entries: SlotValue[] = [];
    // Phase 1's results go out first, within the window like any value: a long suffix re-sent
    // at once would bury the followers (and their acks, and so this leadership) under it.
    let n = 0;
    while (n < this.reproposals.length && this.reproposals[n]!.slot < this.chosenPrefix + this.config.window) {
      const e = this.reproposals[n++]!;
      this.inflight.set(e.slot, { value: e.value, acks: new Set(), sentAtUs: this.nowUs });
      entries.push(e);
    }
    if (n > 0) this.reproposals = this.reproposals.slice(n);
    // A leader handing over assigns no new slot: its target must catch up with a fixed end.
    const room = (): boolean => this.transfer === null && this.reproposals.length === 0 && this.nextSlot - this.chosenPrefix < this.config.window;
    const assign = (value: Value): void => {
      const slot = this.nextSlot++;
      this.inflight.set(slot, { value, acks: new Set(), sentAtUs: this.nowUs });
      entries.push({ slot, value });
    };
    if (this.queuedConfig !== null && room()) {
      const value = this.queuedConfig;
      this.queuedConfig = null;
      this.configs.propose(this.nextSlot, value, this.config.window);
      assign(value);
    }
    while (this.queue.length > 0 && room()) {
      assign({ kind: 'batch', cmds: this.queue.splice(0, fitInBudget(this.queue, 0, commandBytes, this.config.maxBatch, this.messageBudget())) });
    }
    this.sendAccepts(entries);
  }

  /**
   * An applied configuration governs only from its slot + window: a leader idle for a tick (no
   * queue, nothing in flight) fills the gap with no-ops, or the change would wait for traffic
   * (and the next change, or a learner's promotion, answer busy meanwhile).
   */
  protected fillPendingConfigGap(): void {
    const pendingFrom = this.configs.appliedPendingFrom(this.chosenPrefix);
    if (pendingFrom === null || this.transfer !== null || this.queue.length > 0 || this.inflight.size > 0 || this.reproposals.length > 0) return;
    const entries: SlotValue[] = [];
    while (this.nextSlot < pendingFrom && this.nextSlot - this.chosenPrefix < this.config.window) {
      const slot = this.nextSlot++;
      this.inflight.set(slot, { value: NOOP, acks: new Set(), sentAtUs: this.nowUs });
      entries.push({ slot, value: NOOP });
    }
    this.sendAccepts(entries);
  }

  /** Sends Accepts for `entries` to every active peer, own acceptor first (through the loopback). */
  private sendAccepts(entries: SlotValue[]): void {
    if (entries.length === 0) return;
    const peers = this.replicationTargets();
    this.selfVote();
    for (const part of this.acceptChunks(entries)) {
      this.sendAccept(this.config.self, part);
      for (const p of peers) if (p !== this.config.self) this.sendAccept(p, part);
    }
  }

  /** Resends in-flight slots not acked within two heartbeats, to each peer that has not acked them. */
  protected resendStaleAccepts(): void {
    const staleBefore = this.nowUs - 2 * this.config.heartbeatIntervalUs;
    const perPeer = new Map<string, SlotValue[]>();
    const peers = this.replicationTargets();
    for (const [slot, f] of this.inflight) {
      if (f.sentAtUs > staleBefore) continue;
      f.sentAtUs = this.nowUs;
      for (const p of peers) {
        if (f.acks.has(p)) continue;
        let list = perPeer.get(p);
        if (!list) perPeer.set(p, (list = []));
        list.push({ slot, value: f.value });
      }
    }
    for (const [peer, list] of perPeer) for (const part of this.acceptChunks(list)) this.sendAccept(peer, part);
  }

  private acceptChunks(entries: readonly SlotValue[]): SlotValue[][] {
    return chunkByBudget(entries, slotValueBytes, this.config.maxEntriesPerMessage, this.messageBudget());
  }

  /** Assertion (c): a leader sends Accepts only at the ballot phase 1 won, never below its own acceptor's promise. */
  private sendAccept(to: string, entries: SlotValue[]): void {
    invariant(this.role === 'leader' && compareBallot(this.promised, this.myBallot) <= 0, 'a leader sends Accepts only at its promised ballot', () =>
      `${this.role} ${this.config.self} at ${formatBallot(this.myBallot)} has promised ${formatBallot(this.promised)}`,
    );
    this.send(to, { type: 'accept', ballot: this.myBallot, entries, chosenUpTo: this.chosenPrefix, sentAtUs: this.nowUs });
  }

  protected sendHeartbeats(): void {
    // Due on the heartbeat grid rather than one interval after the last beat: every group a
    // process leads then beats in the same tick, and the transport carries them to each peer
    // in one message (docs/paxos.md, "Many groups per process").
    const interval = this.config.heartbeatIntervalUs;
    this.nextHeartbeatUs = (Math.floor(this.nowUs / interval) + 1) * interval;
    this.selfVote();
    const quiet = this.quiescible();
    if (!quiet) this.quietAcks.clear();
    for (const p of this.replicationTargets()) {
      if (p !== this.config.self) this.send(p, { type: 'heartbeat', ballot: this.myBallot, chosenUpTo: this.chosenPrefix, sentAtUs: this.nowUs, ...(quiet ? { quiet: true } : {}) });
    }
  }

  /** The leader's own acceptor votes for it whenever it asks the others. */
  private selfVote(): void {
    if (!this.mayVoteFor(this.myBallot)) return;
    this.grantVote(this.myBallot);
    this.recordVote(this.config.self, this.nowUs);
  }

  /** Lease duration as the leader may count it on its own clock: shorter than any vote in real time. */
  private leaderLeaseUs(): number {
    const l = this.config.leaseDurationUs;
    if (leaseIgnoresDrift(this.config)) return l;
    const d = this.config.maxDriftPpm;
    // Voter's clock may run at (1+d), ours at (1-d): L(1-d)/(1+d) of ours is at most L of theirs.
    return Math.floor((l * (1_000_000 - d)) / (1_000_000 + d)) - 2;
  }

  /** When this leader's lease ends: a q2 quorum of the configurations of its first and last unchosen slot voted. */
  protected leaseEnd(): number | null {
    if (this.role !== 'leader') return null;
    // Quiet, nothing renews the votes: the lease lapses as they do (the broken variant keeps it).
    const kept = this.quiet ? quietLeaseEnd(this.config, this.nowUs, this.leaderLeaseUs()) : null;
    if (kept !== null) return kept;
    return this.lease.end(this.leaseConfigs(), this.leaderLeaseUs());
  }

  /** The configurations a lease needs a q2 quorum of: those of the first and last unchosen slot. */
  private leaseConfigs(): Membership[] {
    const cfgs = [this.configs.at(this.chosenPrefix)];
    const last = this.configs.at(Math.max(this.chosenPrefix, this.nextSlot - 1));
    if (last !== cfgs[0]) cfgs.push(last);
    return cfgs;
  }

  /**
   * When an idle leader's tick next has work: its next heartbeat, or the moment check-quorum
   * would depose it. 0 (now) while anything is queued, in flight, being re-proposed, handed
   * over or filled in: those duties run at every tick.
   */
  protected leaderDueUs(): number {
    if (this.quiet) return Number.POSITIVE_INFINITY; // only an input wakes a quiet leader
    if (this.queue.length > 0 || this.inflight.size > 0 || this.reproposals.length > 0 || this.transfer !== null) return 0;
    if (this.configs.appliedPendingFrom(this.chosenPrefix) !== null) return 0;
    const checksQuorum = this.config.features.checkQuorum && !readsWithoutLease(this.config);
    const quorumLostAt = checksQuorum ? this.lease.quorumHeardUntil(this.configs.at(this.chosenPrefix), this.config.self, this.nowUs, this.config.electionTimeoutUs) : Number.POSITIVE_INFINITY;
    return Math.max(0, Math.min(this.nextHeartbeatUs, quorumLostAt));
  }

  /** Check-quorum: has the leader heard from a phase-2 quorum within the election timeout? */
  protected quorumHeard(): boolean {
    if (!this.config.features.checkQuorum || readsWithoutLease(this.config)) return true;
    return this.lease.quorumHeard(this.configs.at(this.chosenPrefix), this.config.self, this.nowUs, this.config.electionTimeoutUs);
  }
}
