import { ballotEquals, compareBallot, formatBallot, ZERO_BALLOT, type Ballot } from './ballot.js';
import { resolveConfig, type ReplicaConfig, type ResolvedConfig } from './config.js';
import { invariant } from './invariant.js';
import type {
  AcceptMsg,
  AcceptedMsg,
  CatchupReplyMsg,
  CatchupRequestMsg,
  ForwardMsg,
  HeartbeatMsg,
  MessageBody,
  NackMsg,
  PaxosMessage,
  PrepareMsg,
  PromiseMsg,
} from './messages.js';
import type {
  AppliedState,
  ApplyEntry,
  DurableState,
  LeadershipChange,
  ProposalResult,
  Ready,
} from './output.js';
import type { Rng } from './rng.js';
import { NOOP, valuesEqual, type AcceptedEntry, type Command, type SlotValue, type Value } from './value.js';

export type Role = 'follower' | 'candidate' | 'leader';

interface InFlight {
  value: Value;
  acks: Set<string>;
  sentAtUs: number;
}

/**
 * One replica of one Multi-Paxos group: acceptor, learner and potential
 * proposer, as a deterministic sans-I/O state machine.
 *
 * Every public mutator (`step`, `tick`, `propose`) takes the current time in
 * integer microseconds and returns the `Ready` the shell must carry out
 * (persist, then send, then apply — see `Ready`). Messages a replica sends to
 * itself are delivered internally and never appear in `Ready.send`.
 *
 * Slots start at 0; `chosenUpTo()` / `appliedUpTo()` are exclusive bounds.
 */
export class Replica {
  readonly config: ResolvedConfig;
  private readonly rng: Rng;
  private readonly others: string[];

  // Durable acceptor state (mirrors what the shell persisted).
  private promised: Ballot;
  private readonly log = new Map<number, { ballot: Ballot; value: Value }>();

  // Learner state: volatile, re-learned after restart.
  private readonly chosen = new Map<number, Value>();
  private chosenPrefix: number;
  private applied: number;
  private readonly appliedIds: Set<string>;
  /** Highest chosenUpTo a leader advertised, and who: where catch-up fetches from. */
  private knownChosenUpTo = 0;
  private catchupSource: string | null = null;
  private catchupRetryAtUs = 0;

  // Proposer state.
  private role: Role = 'follower';
  private myBallot: Ballot = ZERO_BALLOT;
  private maxRoundSeen: number;
  private leaderBallot: Ballot | null = null;
  private lastLeaderContactUs = Number.NEGATIVE_INFINITY;
  private electionDeadlineUs: number;
  private nowUs: number;
  private readonly promises = new Map<string, PromiseMsg>();
  private prepareFromSlot = 0;
  private nextSlot = 0;
  private readonly inflight = new Map<number, InFlight>();
  private queue: Command[] = [];
  private readonly queuedIds = new Set<string>();
  private nextHeartbeatUs = 0;

  // The Ready being accumulated by the current call.
  private out: Ready = emptyReady();
  private persistAccepted = new Map<number, AcceptedEntry>();
  private readonly loopback: PaxosMessage[] = [];
  private lastLeadership: { isLeader: boolean; hint: string | null } = { isLeader: false, hint: null };

  constructor(
    config: ReplicaConfig,
    rng: Rng,
    opts: { durable?: DurableState; applied?: AppliedState; nowUs?: number } = {},
  ) {
    this.config = resolveConfig(config);
    this.rng = rng;
    this.others = this.config.peers.filter((p) => p !== this.config.self);
    this.nowUs = opts.nowUs ?? 0;

    const durable = opts.durable;
    this.promised = durable && !this.config.broken.forgetPromiseOnRestart ? durable.promised : ZERO_BALLOT;
    if (durable) {
      const entries: Iterable<[number, { ballot: Ballot; value: Value }]> = Array.isArray(durable.accepted)
        ? (durable.accepted as AcceptedEntry[]).map((e) => [e.slot, { ballot: e.ballot, value: e.value }])
        : (durable.accepted as ReadonlyMap<number, { ballot: Ballot; value: Value }>).entries();
      const forgetBallots = this.config.broken.forgetAcceptedBallotsOnRestart === true;
      for (const [slot, e] of entries) {
        this.log.set(slot, { ballot: forgetBallots ? ZERO_BALLOT : e.ballot, value: e.value });
      }
    }
    let maxRound = this.promised.round;
    for (const e of this.log.values()) maxRound = Math.max(maxRound, e.ballot.round);
    this.maxRoundSeen = maxRound;

    this.applied = opts.applied?.upTo ?? 0;
    this.chosenPrefix = this.applied;
    this.appliedIds = new Set(opts.applied?.commandIds ?? []);
    this.nextSlot = this.chosenPrefix;
    this.electionDeadlineUs = this.nowUs + this.electionTimeout();
  }

  // ---------------------------------------------------------------- queries

  isLeader(): boolean {
    return this.role === 'leader';
  }

  getRole(): Role {
    return this.role;
  }

  /** Who this replica believes leads the group (itself if leader), or null. */
  leaderHint(): string | null {
    if (this.role === 'leader') return this.config.self;
    if (this.role === 'candidate') return null;
    return this.leaderBallot?.node ?? null;
  }

  /** Exclusive: slots below this are known chosen here. */
  chosenUpTo(): number {
    return this.chosenPrefix;
  }

  /** Exclusive: slots below this have been handed to the shell for applying. */
  appliedUpTo(): number {
    return this.applied;
  }

  /** Highest ballot this replica has promised (durable). */
  ballot(): Ballot {
    return this.promised;
  }

  /** The ballot this replica leads (or campaigns) with; ZERO_BALLOT if it never tried. */
  ownBallot(): Ballot {
    return this.myBallot;
  }

  chosenValue(slot: number): Value | undefined {
    return this.chosen.get(slot);
  }

  isApplied(commandId: string): boolean {
    return this.appliedIds.has(commandId);
  }

  // ---------------------------------------------------------------- inputs

  step(msg: PaxosMessage, nowUs: number): Ready {
    this.advanceClock(nowUs);
    if (msg.group === this.config.group && this.config.peers.includes(msg.from)) this.handle(msg);
    return this.finish();
  }

  tick(nowUs: number): Ready {
    this.advanceClock(nowUs);
    if (this.role === 'leader') {
      if (this.nowUs >= this.nextHeartbeatUs) this.sendHeartbeats();
      this.resendStaleAccepts();
      this.flushQueue();
    } else if (this.nowUs >= this.electionDeadlineUs) {
      this.startElection();
    }
    if (this.chosenPrefix < this.knownChosenUpTo) this.requestCatchup();
    return this.finish();
  }

  propose(cmds: Command[], nowUs: number): Ready {
    this.advanceClock(nowUs);
    const fresh = cmds.filter((c) => !this.appliedIds.has(c.id));
    const results: ProposalResult[] = [];
    const hint = this.leaderHint();
    if (fresh.length < cmds.length) {
      results.push({
        ids: cmds.filter((c) => this.appliedIds.has(c.id)).map((c) => c.id),
        status: 'already_applied',
        leaderHint: hint,
      });
    }
    if (fresh.length > 0) {
      const ids = fresh.map((c) => c.id);
      if (this.role === 'leader') {
        this.enqueue(fresh);
        this.flushQueue();
        results.push({ ids, status: 'queued', leaderHint: this.config.self });
      } else if (hint !== null && hint !== this.config.self && this.leaderIsLive()) {
        this.send(hint, { type: 'forward', cmds: fresh });
        results.push({ ids, status: 'forwarded', leaderHint: hint });
      } else {
        results.push({ ids, status: 'not_leader', leaderHint: hint });
      }
    }
    this.out.proposalResults = results;
    return this.finish();
  }

  // ---------------------------------------------------------------- dispatch

  private handle(msg: PaxosMessage): void {
    switch (msg.type) {
      case 'prepare':
        return this.onPrepare(msg);
      case 'promise':
        return this.onPromise(msg);
      case 'nack':
        return this.onNack(msg);
      case 'accept':
        return this.onAccept(msg);
      case 'accepted':
        return this.onAccepted(msg);
      case 'heartbeat':
        return this.onHeartbeat(msg);
      case 'catchupRequest':
        return this.onCatchupRequest(msg);
      case 'catchupReply':
        return this.onCatchupReply(msg);
      case 'forward':
        return this.onForward(msg);
    }
  }

  // ---------------------------------------------------------------- acceptor

  private onPrepare(m: PrepareMsg): void {
    this.observeRound(m.ballot.round);
    const fromSelf = m.from === this.config.self;
    // Leader stickiness: a replica that merely lost touch must not depose a
    // leader the rest of us still hear from (dueling proposers).
    if (
      !fromSelf &&
      this.config.features.leaderStickiness &&
      this.leaderIsLive() &&
      m.from !== this.leaderHint()
    ) {
      return;
    }
    if (compareBallot(m.ballot, this.promised) < 0) {
      this.send(m.from, { type: 'nack', ballot: m.ballot, promised: this.promised });
      return;
    }
    this.setPromised(m.ballot);
    let preempted = false;
    if (!fromSelf) {
      if (this.role !== 'follower' && compareBallot(m.ballot, this.myBallot) > 0) {
        this.stepDown();
        preempted = true;
      }
      // Give the candidate we just promised a chance to win before we run ourselves.
      else if (this.role === 'follower') this.electionDeadlineUs = this.nowUs + this.electionTimeout();
    }
    const accepted: AcceptedEntry[] = [];
    for (const [slot, e] of this.log) {
      if (slot >= m.fromSlot) accepted.push({ slot, ballot: e.ballot, value: e.value });
    }
    accepted.sort((a, b) => a.slot - b.slot);
    this.send(m.from, {
      type: 'promise',
      ballot: m.ballot,
      fromSlot: m.fromSlot,
      accepted,
      chosenUpTo: this.chosenPrefix,
    });
    // Without backoff a preempted proposer fights back at once: the naive
    // behaviour that produces dueling proposers.
    if (preempted && !this.config.features.backoff) this.startElection();
  }

  private onAccept(m: AcceptMsg): void {
    this.observeRound(m.ballot.round);
    if (compareBallot(m.ballot, this.promised) < 0) {
      this.send(m.from, { type: 'nack', ballot: m.ballot, promised: this.promised });
      return;
    }
    this.setPromised(m.ballot);
    this.noteLeader(m.ballot);
    const slots: number[] = [];
    for (const e of m.entries) {
      this.log.set(e.slot, { ballot: m.ballot, value: e.value });
      this.persistAccepted.set(e.slot, { slot: e.slot, ballot: m.ballot, value: e.value });
      slots.push(e.slot);
    }
    this.send(m.from, { type: 'accepted', ballot: m.ballot, slots });
    this.learnFromLeader(m.ballot, m.chosenUpTo, m.from);
  }

  private onHeartbeat(m: HeartbeatMsg): void {
    this.observeRound(m.ballot.round);
    if (compareBallot(m.ballot, this.promised) < 0) {
      this.send(m.from, { type: 'nack', ballot: m.ballot, promised: this.promised });
      return;
    }
    this.noteLeader(m.ballot);
    this.learnFromLeader(m.ballot, m.chosenUpTo, m.from);
  }

  private setPromised(b: Ballot): void {
    const cmp = compareBallot(b, this.promised);
    invariant(cmp >= 0, 'promised ballot never decreases', () =>
      `${formatBallot(this.promised)} -> ${formatBallot(b)} at ${this.config.self}`,
    );
    if (cmp > 0) {
      this.promised = b;
      this.out.persist = { ...this.out.persist, promised: b };
    }
  }

  // ---------------------------------------------------------------- learner

  /**
   * The ballot-match rule: an accepted entry whose ballot equals the leader's
   * ballot holds the value that leader proposed, which is the chosen one for
   * every slot below its chosenUpTo. Anything else must be fetched.
   */
  private learnFromLeader(ballot: Ballot, leaderChosenUpTo: number, from: string): void {
    if (from === this.config.self) return;
    const matchAny = this.config.broken.learnWithoutBallotMatch === true;
    for (let s = this.chosenPrefix; s < leaderChosenUpTo; s++) {
      if (this.chosen.has(s)) continue;
      const e = this.log.get(s);
      if (e && (matchAny || ballotEquals(e.ballot, ballot))) this.markChosen(s, e.value);
    }
    this.knownChosenUpTo = Math.max(this.knownChosenUpTo, leaderChosenUpTo);
    this.catchupSource = from;
    this.advanceChosenPrefix();
    if (this.chosenPrefix < this.knownChosenUpTo) this.requestCatchup();
  }

  private requestCatchup(): void {
    if (this.catchupSource === null || this.nowUs < this.catchupRetryAtUs) return;
    if (this.catchupSource === this.config.self) return;
    this.catchupRetryAtUs = this.nowUs + 2 * this.config.heartbeatIntervalUs;
    const toSlot = Math.min(this.knownChosenUpTo, this.chosenPrefix + this.config.maxEntriesPerMessage);
    this.send(this.catchupSource, { type: 'catchupRequest', fromSlot: this.chosenPrefix, toSlot });
  }

  private onCatchupRequest(m: CatchupRequestMsg): void {
    const entries: SlotValue[] = [];
    const end = Math.min(m.toSlot, m.fromSlot + this.config.maxEntriesPerMessage);
    for (let s = Math.max(0, m.fromSlot); s < end; s++) {
      const v = this.chosen.get(s);
      if (v !== undefined) entries.push({ slot: s, value: v });
    }
    this.send(m.from, { type: 'catchupReply', entries, chosenUpTo: this.chosenPrefix });
  }

  private onCatchupReply(m: CatchupReplyMsg): void {
    for (const e of m.entries) this.markChosen(e.slot, e.value);
    this.advanceChosenPrefix();
    this.catchupRetryAtUs = 0;
    if (m.entries.length > 0 && this.chosenPrefix < this.knownChosenUpTo) this.requestCatchup();
  }

  private markChosen(slot: number, value: Value): void {
    const prev = this.chosen.get(slot);
    if (prev !== undefined) {
      invariant(valuesEqual(prev, value), 'a chosen slot never changes value', () =>
        `slot ${slot} at ${this.config.self}: ${JSON.stringify(prev)} vs ${JSON.stringify(value)}`,
      );
      return;
    }
    if (slot < this.chosenPrefix) return; // below an applied-state restore point: value not kept
    this.chosen.set(slot, value);
  }

  private advanceChosenPrefix(): void {
    while (this.chosen.has(this.chosenPrefix)) this.chosenPrefix++;
    this.applyChosen();
  }

  private applyChosen(): void {
    while (this.applied < this.chosenPrefix) {
      const slot = this.applied;
      const value = this.chosen.get(slot);
      invariant(value !== undefined, 'applied entries are chosen', () => `slot ${slot} at ${this.config.self}`);
      const entry: ApplyEntry = { slot, value, commands: [], duplicates: [] };
      if (value.kind === 'batch') {
        for (const c of value.cmds) {
          if (this.appliedIds.has(c.id)) entry.duplicates.push(c.id);
          else {
            this.appliedIds.add(c.id);
            entry.commands.push(c);
          }
          this.queuedIds.delete(c.id);
        }
      }
      const next = slot + 1;
      invariant(next > this.applied, 'applied index only grows', () => `${this.applied} -> ${next}`);
      this.applied = next;
      this.out.apply.push(entry);
    }
  }

  // ---------------------------------------------------------------- proposer

  private startElection(): void {
    const round = Math.max(this.maxRoundSeen, this.promised.round, this.myBallot.round) + 1;
    this.maxRoundSeen = round;
    if (this.role === 'leader') this.clearLeaderState();
    this.role = 'candidate';
    this.myBallot = { round, node: this.config.self };
    this.promises.clear();
    this.prepareFromSlot = this.chosenPrefix;
    // If phase 1 stalls (lost messages, ignored by sticky acceptors) try again later.
    this.electionDeadlineUs = this.nowUs + this.electionTimeout();
    this.broadcast({ type: 'prepare', ballot: this.myBallot, fromSlot: this.prepareFromSlot }, true);
  }

  private onPromise(m: PromiseMsg): void {
    if (this.role !== 'candidate' || !ballotEquals(m.ballot, this.myBallot)) return;
    this.promises.set(m.from, m);
    if (this.promises.size >= this.config.q1) this.becomeLeader();
  }

  private becomeLeader(): void {
    const best = new Map<number, AcceptedEntry>();
    let maxSlot = this.prepareFromSlot - 1;
    for (const p of this.promises.values()) {
      for (const e of p.accepted) {
        if (e.slot < this.prepareFromSlot) continue;
        maxSlot = Math.max(maxSlot, e.slot);
        const cur = best.get(e.slot);
        if (!cur || compareBallot(e.ballot, cur.ballot) > 0) best.set(e.slot, e);
      }
    }
    this.promises.clear();
    this.role = 'leader';
    this.leaderBallot = this.myBallot;
    this.lastLeaderContactUs = this.nowUs;
    this.inflight.clear();
    const reproposals: SlotValue[] = [];
    const ignoreValues = this.config.broken.ignorePromiseValues === true;
    for (let s = this.prepareFromSlot; s <= maxSlot; s++) {
      const known = this.chosen.get(s);
      const reported = best.get(s);
      // Highest-ballot value or, for holes, a no-op. A slot we already know
      // chosen keeps its value (it must equal the highest-ballot one anyway).
      const value = ignoreValues ? NOOP : (known ?? reported?.value ?? NOOP);
      if (known !== undefined && s < this.chosenPrefix) continue;
      reproposals.push({ slot: s, value });
      this.inflight.set(s, { value, acks: new Set(), sentAtUs: this.nowUs });
    }
    this.nextSlot = Math.max(maxSlot + 1, this.chosenPrefix);
    this.sendAccepts(reproposals);
    this.sendHeartbeats();
    this.flushQueue();
  }

  private onAccepted(m: AcceptedMsg): void {
    if (this.role !== 'leader' || !ballotEquals(m.ballot, this.myBallot)) return;
    let progressed = false;
    for (const slot of m.slots) {
      const f = this.inflight.get(slot);
      if (!f) continue;
      f.acks.add(m.from);
      if (f.acks.size >= this.config.q2) {
        this.inflight.delete(slot);
        this.markChosen(slot, f.value);
        progressed = true;
      }
    }
    if (progressed) {
      this.advanceChosenPrefix();
      this.flushQueue();
    }
  }

  private onNack(m: NackMsg): void {
    this.observeRound(m.promised.round);
    if (this.role === 'follower' || !ballotEquals(m.ballot, this.myBallot)) return;
    if (compareBallot(m.promised, this.myBallot) <= 0) return;
    this.stepDown();
    if (!this.config.features.backoff) this.startElection();
  }

  private onForward(m: ForwardMsg): void {
    if (this.role !== 'leader') return; // the client retries; re-forwarding could loop
    const fresh = m.cmds.filter((c) => !this.appliedIds.has(c.id));
    this.enqueue(fresh);
    this.flushQueue();
  }

  private enqueue(cmds: Command[]): void {
    for (const c of cmds) {
      if (this.queuedIds.has(c.id)) continue;
      this.queuedIds.add(c.id);
      this.queue.push(c);
    }
  }

  private flushQueue(): void {
    if (this.role !== 'leader') return;
    const entries: SlotValue[] = [];
    while (this.queue.length > 0 && this.nextSlot - this.chosenPrefix < this.config.window) {
      const cmds = this.queue.splice(0, this.config.maxBatch);
      const slot = this.nextSlot++;
      const value: Value = { kind: 'batch', cmds };
      this.inflight.set(slot, { value, acks: new Set(), sentAtUs: this.nowUs });
      entries.push({ slot, value });
    }
    this.sendAccepts(entries);
  }

  private sendAccepts(entries: SlotValue[]): void {
    const max = this.config.maxEntriesPerMessage;
    for (let i = 0; i < entries.length; i += max) {
      this.broadcast(
        { type: 'accept', ballot: this.myBallot, entries: entries.slice(i, i + max), chosenUpTo: this.chosenPrefix },
        true,
      );
    }
  }

  private resendStaleAccepts(): void {
    const staleBefore = this.nowUs - 2 * this.config.heartbeatIntervalUs;
    const perPeer = new Map<string, SlotValue[]>();
    for (const [slot, f] of this.inflight) {
      if (f.sentAtUs > staleBefore) continue;
      f.sentAtUs = this.nowUs;
      for (const p of this.config.peers) {
        if (f.acks.has(p)) continue;
        let list = perPeer.get(p);
        if (!list) perPeer.set(p, (list = []));
        list.push({ slot, value: f.value });
      }
    }
    for (const [peer, list] of perPeer) {
      const max = this.config.maxEntriesPerMessage;
      for (let i = 0; i < list.length; i += max) {
        this.send(peer, {
          type: 'accept',
          ballot: this.myBallot,
          entries: list.slice(i, i + max),
          chosenUpTo: this.chosenPrefix,
        });
      }
    }
  }

  private sendHeartbeats(): void {
    this.nextHeartbeatUs = this.nowUs + this.config.heartbeatIntervalUs;
    this.broadcast({ type: 'heartbeat', ballot: this.myBallot, chosenUpTo: this.chosenPrefix }, false);
  }

  // ---------------------------------------------------------------- leadership

  private noteLeader(b: Ballot): void {
    if (this.leaderBallot === null || compareBallot(b, this.leaderBallot) >= 0) {
      this.leaderBallot = b;
      if (b.node !== this.config.self || this.role === 'leader') this.lastLeaderContactUs = this.nowUs;
    }
    if (this.role !== 'follower' && compareBallot(b, this.myBallot) > 0) this.stepDown();
    if (this.role === 'follower' && ballotEquals(b, this.leaderBallot)) {
      this.electionDeadlineUs = this.nowUs + this.electionTimeout();
    }
  }

  private stepDown(): void {
    if (this.role === 'leader') this.clearLeaderState();
    this.role = 'follower';
    this.promises.clear();
    const backoff = this.config.features.backoff
      ? Math.floor(this.rng.next() * this.config.electionTimeoutUs)
      : 0;
    this.electionDeadlineUs = this.nowUs + this.electionTimeout() + backoff;
  }

  private clearLeaderState(): void {
    this.inflight.clear();
    this.queue = [];
    this.queuedIds.clear();
    if (this.leaderBallot && this.leaderBallot.node === this.config.self) this.leaderBallot = null;
  }

  private leaderIsLive(): boolean {
    if (this.role === 'leader') return true;
    return this.leaderBallot !== null && this.nowUs - this.lastLeaderContactUs < this.config.electionTimeoutUs;
  }

  private electionTimeout(): number {
    const base = this.config.electionTimeoutUs;
    return this.config.features.randomizedTimeouts ? base + Math.floor(this.rng.next() * base) : base;
  }

  private observeRound(round: number): void {
    if (round > this.maxRoundSeen) this.maxRoundSeen = round;
  }

  // ---------------------------------------------------------------- plumbing

  private advanceClock(nowUs: number): void {
    if (nowUs > this.nowUs) this.nowUs = nowUs;
  }

  private send(to: string, body: MessageBody): void {
    const msg = { ...body, group: this.config.group, from: this.config.self } as PaxosMessage;
    if (to === this.config.self) this.loopback.push(msg);
    else this.out.send.push({ to, msg });
  }

  private broadcast(body: MessageBody, includeSelf: boolean): void {
    for (const p of includeSelf ? this.config.peers : this.others) this.send(p, body);
  }

  private finish(): Ready {
    // Self-addressed messages are handled here, inside the same Ready, so that
    // their persists precede every send of this output.
    while (this.loopback.length > 0) this.handle(this.loopback.shift() as PaxosMessage);
    if (this.persistAccepted.size > 0) {
      this.out.persist = {
        ...this.out.persist,
        accepted: [...this.persistAccepted.values()].sort((a, b) => a.slot - b.slot),
      };
    }
    const hint = this.leaderHint();
    const isLeader = this.role === 'leader';
    if (isLeader !== this.lastLeadership.isLeader || hint !== this.lastLeadership.hint) {
      const change: LeadershipChange = {
        isLeader,
        ballot: isLeader ? this.myBallot : (this.leaderBallot ?? this.promised),
        leaderHint: hint,
      };
      this.out.leadership = change;
      this.lastLeadership = { isLeader, hint };
    }
    const ready = this.out;
    this.out = emptyReady();
    this.persistAccepted = new Map();
    return ready;
  }
}

function emptyReady(): Ready {
  return { send: [], apply: [] };
}
