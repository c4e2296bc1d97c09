import type { z } from 'zod';
import { SynodError, type Envelope, type paxosMessageSchema } from '@synod/codec';
import type { Logger } from '@synod/config';
import { majority, ReadyPipeline, Replica, validateLearners, validateMembership, ZERO_BALLOT, type AppliedState, type PeerProgress, type Ready, type SnapshotTransfer, type ApplyEntry, type Command, type PaxosMessage, type ReplicaConfig, type Rng } from '@synod/paxos';
import type { PaxosStore, Storage } from '@synod/storage';
import type { Bus, NodeBeats } from '@synod/transport';

// The wire schema and the core's message type must agree; this line stops the build if they drift.
const _schemaMatchesCore = (m: z.infer<typeof paxosMessageSchema>): PaxosMessage => m;
void _schemaMatchesCore;

/** Monotonic microseconds for the cores' ticks (not TrueTime: only durations are read from it). */
export const monotonicMicros = () => Math.round((performance.timeOrigin + performance.now()) * 1000);

export interface PaxosHostOptions {
  bus: Bus;
  storage: Storage;
  /**
   * A due replica is ticked within this long (default 10 ms), and the host ticks at most this
   * often. Between those ticks it sleeps until the earliest replica is due (nextTickUs).
   */
  tickMs?: number;
  rng?: Rng;
  clock?: () => number;
  logger?: Pick<Logger, 'info' | 'warn' | 'error' | 'fatal'>;
  /** Called when durable state could not be written: the process must not go on. */
  onFatal?: (err: unknown) => void;
  /**
   * While this returns true the host stops ticking its replicas: no heartbeats, no elections,
   * no lease renewals, so a leader steps aside and this node does not campaign. The process
   * still answers as an acceptor. Spanservers pause while their clock is out of bounds.
   */
  paused?: () => boolean;
  /**
   * Quiescent groups (docs/paxos.md, "Quiescent groups"): a group idle this long, every follower
   * caught up and live, stops heartbeating. Given to every replica as `quiesceAfterUs` (unless its
   * GroupSpec config sets its own). Default 0: never. When > 0 the host keeps node liveness and
   * sends node beats over its bus (docs/transport.md, "Node beats and liveness") and hands the
   * replicas that liveness.
   */
  quiesceAfterUs?: number;
  /** How often each peer node must hear from this one (node beats), ms; the groups' heartbeat interval. Default 50. */
  beatIntervalMs?: number;
  /** A peer node not heard from for this long is not live, ms; the groups' election timeout. Default 500. */
  livenessTimeoutMs?: number;
}

export interface GroupSpec {
  config: ReplicaConfig;
  /** The state machine: called once per chosen entry, in slot order. */
  apply?: (entry: ApplyEntry) => void;
  /**
   * Needed when `config.snapshotIntervalEntries > 0`: `snapshot` captures the state machine
   * (JSON-able) after the entry the replica marked; `restore` replaces it with a snapshot's
   * data — at start-up from the durable snapshot, and when a snapshot arrives from a peer.
   */
  snapshot?: () => unknown;
  restore?: (data: unknown) => void;
  /**
   * The shell's durable applied state, for a state machine that applies durably (the
   * spanserver): the replica resumes at `applied.upTo` and re-applies nothing below it, and
   * the host does not call `restore` at start-up (the shell's own state is already there).
   * The shell persists `appliedRecordOf(entry)` with every entry it applies.
   */
  applied?: AppliedState;
  /** How snapshots travel to peers; default JSON of the Snapshot (see SnapshotTransfer). */
  snapshotTransfer?: SnapshotTransfer;
}

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
}

/** Longest the ticker sleeps when no replica is due sooner: a bound, whatever the replicas report. */
const MAX_TICK_SLEEP_MS = 1_000;

/** Most reconfigure or transferLeadership calls one group waits on at once (the core takes one change at a time). */
const MAX_GROUP_WAITERS = 64;

export interface MembershipChange {
  peers: string[];
  learners?: string[];
  q1?: number;
  q2?: number;
}

class HostedGroup {
  /** The group's Ready pipeline: persist → send → install snapshot → apply → settle (docs/paxos.md). */
  pipeline!: ReadyPipeline;
  /** The latest persist handed to storage; close() waits for it. */
  lastPersist: Promise<void> = Promise.resolve();
  readonly waiters = new Map<string, Waiter[]>();
  /** Commands proposed during the current event-loop turn, handed to the replica together. */
  proposalQueue: Command[] = [];
  /** reconfigure() calls waiting for their configuration to be applied here. */
  readonly configWaiters = new Set<Waiter & { key: string }>();
  /** transferLeadership() calls waiting to learn that their target leads. */
  readonly leaderWaiters = new Set<Waiter & { to: string }>();
  /** removeGroup() ran: nothing more enters or leaves this group's pipeline. */
  removed = false;
  /**
   * The replica's nextTickUs() as of its last input: every call into it goes through runIn, which
   * refreshes this, so the ticker reads a field per group instead of asking each replica (a leader
   * computes its membership to answer). tickAll also re-reads every replica once a second.
   */
  dueUs = 0;
  constructor(
    readonly replica: Replica,
    readonly store: PaxosStore,
    readonly spec: GroupSpec,
  ) {}
}

/**
 * The thin shell around Paxos replicas: feeds them messages from the bus and ticks from a
 * timer, makes their state durable before their messages leave, applies chosen entries, and
 * completes client proposals once their commands are applied here.
 */
export class PaxosHost {
  private readonly groups = new Map<string, HostedGroup>();
  private readonly bus: Bus;
  private readonly storage: Storage;
  private readonly clock: () => number;
  private readonly rng: Rng;
  private readonly log: PaxosHostOptions['logger'];
  private readonly onFatal: (err: unknown) => void;
  private readonly paused: () => boolean;
  private ticker: NodeJS.Timeout | undefined;
  /** Host-clock µs the armed ticker fires at; +Infinity while none is armed. */
  private tickAtUs = Number.POSITIVE_INFINITY;
  /** Host-clock µs of the last tick of every replica (tickAll). */
  private lastTickUs = Number.NEGATIVE_INFINITY;
  /** Host-clock µs tickAll last re-read every replica's nextTickUs. */
  private lastRescanUs = Number.NEGATIVE_INFINITY;
  private readonly tickUs: number;
  private wakes = 0;
  /** Quiet followers re-armed without a tick (Replica.rearmQuiet). */
  private quietRearms = 0;
  private closed = false;
  private readonly quiesceAfterUs: number;
  /** Node liveness and beats; undefined while quiescence is off. */
  private readonly beats: NodeBeats | undefined;
  /** The peer set of the beats is recomputed before the next beat round (a group came, went or changed members). */
  private peersDirty = false;

  constructor(opts: PaxosHostOptions) {
    this.bus = opts.bus;
    this.storage = opts.storage;
    this.clock = opts.clock ?? monotonicMicros;
    this.rng = opts.rng ?? { next: Math.random };
    this.log = opts.logger;
    this.onFatal =
      opts.onFatal ??
      ((err) => {
        this.log?.fatal({ err }, 'durable write failed; stopping');
        process.exit(70);
      });
    this.paused = opts.paused ?? (() => false);
    this.bus.on('paxos', (env) => this.onPaxos(env));
    this.bus.on('paxos.propose', async (env) => {
      const body = env.body;
      const group = this.groups.get(env.group);
      if (!group) throw new SynodError('UNAVAILABLE', `${this.bus.nodeId} hosts no replica of group ${env.group}`);
      await this.propose(env.group, body.cmds, body.timeoutMs);
      return { kind: 'paxos.proposed', body: { ids: body.cmds.map((c) => c.id), appliedUpTo: group.replica.appliedUpTo() } };
    });
    this.tickUs = (opts.tickMs ?? 10) * 1000;
    this.quiesceAfterUs = opts.quiesceAfterUs ?? 0;
    if (!Number.isInteger(this.quiesceAfterUs) || this.quiesceAfterUs < 0) throw new Error(`quiesceAfterUs must be a non-negative integer, got ${this.quiesceAfterUs}`);
    if (this.quiesceAfterUs > 0) {
      const beats = this.bus.nodeBeats({
        clock: this.clock,
        timeoutUs: (opts.livenessTimeoutMs ?? 500) * 1000,
        intervalUs: (opts.beatIntervalMs ?? 50) * 1000,
        paused: this.paused,
        beforeBeat: () => {
          if (this.peersDirty) this.refreshPeers();
        },
      });
      this.beats = beats.start();
    }
    this.bus.metrics.onCollect(() => this.bus.metrics.set('synod_paxos_quiet_groups', this.quietGroups()));
    this.armTick(this.clock());
  }

  /** Hosted replicas that are quiescent now (docs/paxos.md, "Quiescent groups"). */
  quietGroups(): number {
    let n = 0;
    for (const g of this.groups.values()) if (g.replica.isQuiet()) n++;
    return n;
  }

  /** Node liveness as this host's replicas see it (undefined while quiescence is off). */
  get liveness(): Pick<NodeBeats, 'isLive' | 'lastHeardUs' | 'beats'> | undefined {
    return this.beats;
  }

  /**
   * A client's request reached `groupId`'s replica here (docs/paxos.md, "Quiescent groups"): the
   * activity is recorded, so the group does not go quiet for quiesceAfterUs, and a quiet replica
   * is woken (a leader heartbeats at once, a follower asks its leader to). Cheap unless quiet.
   */
  touch(groupId: string): void {
    const g = this.groups.get(groupId);
    if (!g || g.removed || this.closed) return;
    const now = this.clock();
    g.replica.touch(now);
    // A paused host does not lead (see `paused`): it does not wake a group either.
    if (g.replica.isQuiet() && !this.paused()) this.runIn(g, () => g.replica.wake(now));
  }

  /** The beats go to every node sharing a group with this one: the voters and learners of every hosted group. */
  private refreshPeers(): void {
    this.peersDirty = false;
    const peers = new Set<string>();
    for (const g of this.groups.values()) {
      const m = g.replica.membership();
      for (const p of m.peers) peers.add(p);
      for (const p of m.learners ?? []) peers.add(p);
    }
    this.beats?.setPeers(peers);
  }

  async addGroup(spec: GroupSpec): Promise<Replica> {
    const { group } = spec.config;
    if (this.groups.has(group)) throw new Error(`group ${group} already hosted`);
    if ((spec.config.snapshotIntervalEntries ?? 0) > 0 && (!spec.snapshot || !spec.restore))
      throw new Error(`group ${group}: snapshots need both snapshot() and restore() in the GroupSpec`);
    const store = this.storage.paxos(group);
    const state = await store.load();
    // Restart = the durable snapshot + the log tail after it.
    const snapshot = state.snapshot;
    if (snapshot && !spec.applied) spec.restore?.(snapshot.data);
    const quiesceAfterUs = spec.config.quiesceAfterUs ?? this.quiesceAfterUs;
    const replica = new Replica({ ...spec.config, quiesceAfterUs }, this.rng, {
      durable: { promised: state.promised ?? ZERO_BALLOT, accepted: state.accepted, snapshot },
      nowUs: this.clock(),
      ...(this.beats ? { liveness: this.beats } : {}),
      ...(spec.applied ? { applied: spec.applied } : {}),
      ...(spec.snapshotTransfer ? { snapshotTransfer: spec.snapshotTransfer } : {}),
    });
    const g = new HostedGroup(replica, store, spec);
    g.pipeline = this.pipelineFor(g);
    g.dueUs = replica.nextTickUs();
    this.groups.set(group, g);
    this.peersDirty = true;
    this.armTick(g.dueUs);
    // Until it leads, nobody waits promptly on what this replica applies (Storage.deferApplies).
    this.storage.deferApplies(group, !replica.isLeader());
    return replica;
  }

  /** How often the ticker has fired (for tests: it sleeps until a replica is due). */
  get tickerWakes(): number {
    return this.wakes;
  }

  /** How many times a quiet follower's deadline was re-armed without a tick (for tests). */
  get quietRearmCount(): number {
    return this.quietRearms;
  }

  /** The group's replica, to read: every call that changes it goes through the host (its pipeline and ticker). */
  replica(group: string): Replica | undefined {
    return this.groups.get(group)?.replica;
  }

  /**
   * Changes the group's membership through its leader (this replica must lead): `peers` vote,
   * `learners` only receive (docs/paxos.md "Learners and leader transfer"). Resolves once the
   * configuration is applied here. Rejects INVALID_ARGUMENT for a membership that breaks the
   * quorum rules, NOT_LEADER (hint `leader`), UNAVAILABLE with hint `reason`: `busy` (a change
   * or transfer under way) or `behind` (a learner to promote is not caught up: retry once
   * `progress()` shows it close), and TIMEOUT.
   */
  reconfigure(groupId: string, change: MembershipChange, timeoutMs = 10_000): Promise<void> {
    const g = this.groups.get(groupId);
    if (!g) return Promise.reject(new SynodError('UNAVAILABLE', `no replica of group ${groupId} here`));
    const learners = change.learners ?? [];
    try {
      // Checked here too: the core throws on a bad membership, and a throw inside the pipeline is fail-stop.
      validateMembership(change.peers, change.q1 ?? majority(change.peers.length), change.q2 ?? majority(change.peers.length));
      validateLearners(change.peers, learners);
    } catch (err) {
      return Promise.reject(new SynodError('INVALID_ARGUMENT', (err as Error).message));
    }
    if (g.configWaiters.size >= MAX_GROUP_WAITERS) return Promise.reject(new SynodError('UNAVAILABLE', `too many membership changes waiting in group ${groupId}`, { reason: 'busy' }));
    const key = membershipKey(change.peers, learners);
    return this.waitFor(g.configWaiters, { key }, timeoutMs, `configuration not applied within ${timeoutMs} ms`, () => {
      const r = this.runIn(g, () => g.replica.reconfigure({ ...change, learners }, this.clock()))?.reconfigureResult;
      if (r === undefined) return new SynodError('UNAVAILABLE', `replica of group ${groupId} stopped`);
      if (r.status === 'queued') return null;
      if (r.status === 'not_leader') return new SynodError('NOT_LEADER', `${this.bus.nodeId} does not lead group ${groupId}`, r.leaderHint ? { leader: r.leaderHint } : undefined);
      return new SynodError('UNAVAILABLE', r.status === 'behind' ? 'a learner to promote is not caught up yet' : 'a membership change or leader transfer is under way', { reason: r.status });
    });
  }

  /**
   * Hands the group's leadership from this replica to voter `to`; resolves when this replica
   * learns that `to` leads (at once if this replica is `to` and leads). Rejects NOT_LEADER,
   * INVALID_ARGUMENT (`to` votes in no governing configuration), UNAVAILABLE `busy`,
   * `unreachable` (`to` not heard from lately) or `transfer_gave_up` (the core gave up, at its
   * deadline or because `to` fell silent, and this replica leads on), and TIMEOUT.
   */
  transferLeadership(groupId: string, to: string, timeoutMs = 5_000): Promise<void> {
    const g = this.groups.get(groupId);
    if (!g) return Promise.reject(new SynodError('UNAVAILABLE', `no replica of group ${groupId} here`));
    if (g.leaderWaiters.size >= MAX_GROUP_WAITERS) return Promise.reject(new SynodError('UNAVAILABLE', `too many transfers waiting in group ${groupId}`, { reason: 'busy' }));
    let alreadyLeads = false;
    const waiting = this.waitFor(g.leaderWaiters, { to }, timeoutMs, `${to} did not take over group ${groupId} within ${timeoutMs} ms`, () => {
      const r = this.runIn(g, () => g.replica.transferLeadership(to, this.clock()))?.transferResult;
      if (r === undefined) return new SynodError('UNAVAILABLE', `replica of group ${groupId} stopped`);
      if (r.status === 'started') return null;
      if (r.status === 'already_leader') {
        alreadyLeads = true;
        return null;
      }
      if (r.status === 'not_leader') return new SynodError('NOT_LEADER', `${this.bus.nodeId} does not lead group ${groupId}`, r.leaderHint ? { leader: r.leaderHint } : undefined);
      if (r.status === 'not_voter') return new SynodError('INVALID_ARGUMENT', `${to} is not a voter of group ${groupId}`);
      if (r.status === 'unreachable') return new SynodError('UNAVAILABLE', `${to} was not heard from within an election timeout`, { reason: 'unreachable' });
      return new SynodError('UNAVAILABLE', 'a leader transfer is under way', { reason: 'busy' });
    });
    if (alreadyLeads) this.settleLeaderWaiters(g, to);
    return waiting;
  }

  /** The leader's view of every replica's progress (empty when this replica does not lead). */
  progress(groupId: string): PeerProgress[] {
    const g = this.groups.get(groupId);
    if (!g) throw new SynodError('UNAVAILABLE', `no replica of group ${groupId} here`);
    return g.replica.progress();
  }

  /**
   * Stops hosting a group: no more ticks, messages or proposals reach its replica, its waiters
   * are rejected UNAVAILABLE, and it is forgotten once its last persist settled. The caller
   * deletes its storage afterwards (a replica moved away, a split dropped).
   */
  async removeGroup(groupId: string): Promise<void> {
    const g = this.groups.get(groupId);
    if (!g) return;
    g.removed = true;
    this.groups.delete(groupId);
    this.peersDirty = true;
    const gone = new SynodError('UNAVAILABLE', `group ${groupId} is no longer hosted here`);
    for (const id of [...g.waiters.keys()]) this.settle(g, id, gone);
    for (const w of [...g.configWaiters, ...g.leaderWaiters]) w.reject(gone);
    g.configWaiters.clear();
    g.leaderWaiters.clear();
    g.proposalQueue = [];
    this.storage.deferApplies(groupId, false);
    await Promise.allSettled([g.lastPersist]);
  }

  /**
   * Registers a waiter in `set`, runs `start` (which returns an error to reject with at once,
   * or null to wait), and rejects TIMEOUT after `timeoutMs`.
   */
  private waitFor<X extends object>(set: Set<Waiter & X>, extra: X, timeoutMs: number, timeoutMessage: string, start: () => SynodError | null): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const w = {
        ...extra,
        resolve: () => {
          clearTimeout(timer);
          set.delete(w);
          resolve();
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          set.delete(w);
          reject(e);
        },
      } as Waiter & X;
      set.add(w);
      timer = setTimeout(() => w.reject(new SynodError('TIMEOUT', timeoutMessage)), timeoutMs);
      const err = start();
      if (err !== null) w.reject(err);
    });
  }

  private settleLeaderWaiters(g: HostedGroup, leader: string): void {
    for (const w of [...g.leaderWaiters]) if (w.to === leader) w.resolve();
  }

  /** Runs one call into a hosted group's replica, unless the group was removed. */
  private runIn(g: HostedGroup, call: () => Ready): Ready | undefined {
    if (g.removed) return undefined;
    const ready = g.pipeline.run(call);
    // Any input can bring the replica's next duty forward (a proposal, a lost leader): the ticker must not sleep past it.
    g.dueUs = g.replica.nextTickUs();
    this.armTick(g.dueUs);
    return ready;
  }

  /**
   * Replicates commands through the group and resolves once all of them are applied on this
   * replica. Rejects NOT_LEADER (with a hint) when this replica knows no leader, TIMEOUT otherwise.
   */
  propose(groupId: string, cmds: Command[], timeoutMs = 5_000): Promise<void> {
    const g = this.groups.get(groupId);
    if (!g) return Promise.reject(new SynodError('UNAVAILABLE', `no replica of group ${groupId} here`));
    if (cmds.length === 0) return Promise.resolve();
    // One promise and one waiter for the whole call (not one per command, a Promise.all and a
    // Promise.race): it resolves once every command was settled applied, rejects at the first
    // error or at the timeout, whichever comes first; the waiter is in the list of each command.
    const done = new Promise<void>((resolve, reject) => {
      let left = cmds.length;
      let over = false;
      const timer = setTimeout(() => {
        if (over) return;
        over = true;
        for (const c of cmds) g.waiters.delete(c.id);
        reject(new SynodError('TIMEOUT', `commands not applied within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: Waiter = {
        resolve: () => {
          if (--left > 0 || over) return;
          over = true;
          clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          if (over) return;
          over = true;
          clearTimeout(timer);
          reject(e);
        },
      };
      for (const c of cmds) {
        const list = g.waiters.get(c.id);
        if (list) list.push(waiter);
        else g.waiters.set(c.id, [waiter]);
      }
    });
    // Proposals from one turn of the event loop enter the replica together, so they can share
    // log entries and Accept messages (the replica's maxBatch bounds how many per entry).
    if (g.proposalQueue.length === 0) setImmediate(() => this.flushProposals(g));
    g.proposalQueue.push(...cmds);
    return done;
  }

  private flushProposals(g: HostedGroup): void {
    const cmds = g.proposalQueue;
    g.proposalQueue = [];
    if (!this.closed && cmds.length > 0) this.runIn(g, () => g.replica.propose(cmds, this.clock()));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.ticker);
    this.beats?.stop();
    // Storage failures were already reported through the pipeline (fail-stop); here we only wait.
    await Promise.allSettled([...this.groups.values()].map((g) => g.lastPersist));
  }

  private onPaxos(env: Envelope<'paxos'>): void {
    const msg = env.body as PaxosMessage;
    const g = this.groups.get(env.group);
    // The envelope's sender is who the transport saw; a body claiming otherwise is refused.
    if (!g || msg.from !== env.from || msg.group !== env.group) {
      this.bus.metrics.inc('synod_paxos_refused_total', { why: g ? 'spoofed' : 'unknown_group' });
      return;
    }
    this.runIn(g, () => g.replica.step(msg, this.clock()));
  }

  /**
   * Ticks `groupId`'s replica now if it is due, as the host's ticker would within `tickMs`. A
   * shell calls it when it sends something due on the same grid as a leader's heartbeats (a
   * split's closed timestamps: both on multiples of 50 ms), so both are queued in one turn and
   * the transport carries them to each peer in one NATS message instead of two, one socket write
   * instead of two. Returns whether it ticked.
   */
  tickIfDue(groupId: string): boolean {
    if (this.closed || this.paused()) return false;
    const g = this.groups.get(groupId);
    if (!g) return false;
    const now = this.clock();
    if (now < g.replica.nextTickUs()) return false;
    this.tickGroup(g, now);
    return true;
  }

  /**
   * Ticks one replica. A transfer the core gave up on (at its deadline, or its target fell
   * silent) ends on a tick, with this replica leading on: its callers learn so now rather than
   * at their timeout, and a placement op retries or fails in seconds, not after timeouts.
   */
  private tickGroup(g: HostedGroup, now: number): void {
    this.runIn(g, () => g.replica.tick(now));
    if (g.leaderWaiters.size === 0 || !g.replica.isLeader() || g.replica.transferTarget() !== null) return;
    const gaveUp = new SynodError('UNAVAILABLE', `the leader transfer of group ${g.replica.config.group} gave up; ${this.bus.nodeId} leads on`, { reason: 'transfer_gave_up' });
    for (const w of [...g.leaderWaiters]) if (w.to !== this.bus.nodeId) w.reject(gaveUp);
  }

  private tickAll(): void {
    this.wakes++;
    this.ticker = undefined;
    this.tickAtUs = Number.POSITIVE_INFINITY;
    if (this.closed) return;
    const now = this.clock();
    this.lastTickUs = now;
    // Paused, nothing is ticked; the ticker keeps looking every tickMs for the pause to end.
    let earliest = this.paused() ? now : now + MAX_TICK_SLEEP_MS * 1000;
    // A follower is ticked only once its election deadline (or a catch-up) is due: an idle
    // follower group then costs one comparison per tick (docs/paxos.md, "Many groups per process").
    // The comparison is with the due time cached at the replica's last input (HostedGroup.dueUs);
    // once a second every replica is asked again, a bound on what a stale cache could delay.
    const rescan = now - this.lastRescanUs >= MAX_TICK_SLEEP_MS * 1000;
    if (rescan && earliest > now) this.lastRescanUs = now;
    if (earliest > now)
      for (const g of this.groups.values()) {
        if (rescan) g.dueUs = g.replica.nextTickUs();
        if (now >= g.dueUs) {
          // A quiet follower whose leader's node is heard only re-arms its deadline: no tick, no Ready.
          if (!g.removed && g.replica.rearmQuiet(now)) {
            this.quietRearms++;
            g.dueUs = g.replica.nextTickUs();
          } else this.tickGroup(g, now);
        }
        earliest = Math.min(earliest, g.dueUs);
      }
    this.armTick(earliest);
  }

  /**
   * Makes sure the ticker fires by `dueUs` (host clock), but not sooner than tickMs after the last
   * tick, nor later than MAX_TICK_SLEEP_MS from now. A ticker firing every tickMs woke every
   * process 100 times a second although an idle leader has work once per heartbeat and an idle
   * follower once per election timeout.
   */
  private armTick(dueUs: number): void {
    if (this.closed) return;
    const now = this.clock();
    const at = Math.min(Math.max(dueUs, this.lastTickUs + this.tickUs), now + MAX_TICK_SLEEP_MS * 1000);
    if (at >= this.tickAtUs) return;
    clearTimeout(this.ticker);
    this.tickAtUs = at;
    this.ticker = setTimeout(this.onTicker, Math.max(0, Math.ceil((at - now) / 1000)));
  }

  private readonly onTicker = (): void => this.tickAll();

  /** The shell's side of the Ready contract; the order is the pipeline's. */
  private pipelineFor(g: HostedGroup): ReadyPipeline {
    return new ReadyPipeline({
      persist: (p, done, fail) => {
        g.lastPersist = g.store.persist(p);
        g.lastPersist.then(done, fail);
      },
      send: (messages) => {
        if (this.closed) return;
        // The bus never throws for a message it cannot carry: it counts and drops it (the
        // replica's byte budgets keep Paxos messages under the max payload).
        for (const { to, msg } of messages) this.bus.send(to, 'paxos', msg, msg.group);
      },
      deliverLocal: (messages) => {
        for (const msg of messages) this.runIn(g, () => g.replica.step(msg, this.clock()));
      },
      installSnapshot: (snap) => g.spec.restore?.(snap.data),
      apply: (entry) => {
        g.spec.apply?.(entry);
        if (entry.takeSnapshot && g.spec.snapshot) {
          // Captured right after its entry, handed back outside this release.
          const data = g.spec.snapshot();
          const upTo = entry.slot + 1;
          queueMicrotask(() => this.runIn(g, () => g.replica.snapshotTaken(upTo, data, this.clock())));
        }
        for (const c of entry.commands) this.settle(g, c.id);
        for (const id of entry.duplicates) this.settle(g, id);
        if (entry.value.kind === 'config') {
          this.peersDirty = true;
          const key = membershipKey(entry.value.peers, entry.value.learners ?? []);
          for (const w of [...g.configWaiters]) if (w.key === key) w.resolve();
        }
      },
      settle: (results) => {
        for (const r of results) {
          if (r.status === 'not_leader') {
            const err = new SynodError('NOT_LEADER', `${this.bus.nodeId} knows no leader for group ${g.replica.config.group}`, r.leaderHint ? { leader: r.leaderHint } : undefined);
            for (const id of r.ids) this.settle(g, id, err);
          } else if (r.status === 'too_large') {
            const err = new SynodError('TXN_TOO_LARGE', `command over the replicated maximum of ${g.replica.config.maxCommandBytes} bytes`, { limit: g.replica.config.maxCommandBytes });
            for (const id of r.ids) this.settle(g, id, err);
          } else if (r.status === 'already_applied') {
            for (const id of r.ids) this.settle(g, id);
          }
        }
      },
      leadership: (change) => {
        // A leader acknowledges commits once their apply is durable: its applies must not wait.
        if (!g.removed) this.storage.deferApplies(g.replica.config.group, !change.isLeader);
        this.log?.info({ group: g.replica.config.group, ballot: change.ballot, isLeader: change.isLeader, leaderHint: change.leaderHint }, 'leadership changed');
        // `to` leads once it is the hint of a ballot of its own (after a hand-off the hint is
        // null until the successor is heard from).
        if (change.leaderHint !== null && change.ballot.node === change.leaderHint) this.settleLeaderWaiters(g, change.leaderHint);
      },
      fatal: (err) => {
        this.closed = true;
        clearTimeout(this.ticker);
        this.beats?.stop();
        this.log?.fatal({ err, group: g.replica.config.group }, 'replica stopped: a broken invariant or a failed durable write (fail-stop)');
        this.onFatal(err);
      },
    });
  }

  private settle(g: HostedGroup, id: string, err?: Error): void {
    const list = g.waiters.get(id);
    if (!list) return;
    g.waiters.delete(id);
    for (const w of list) err ? w.reject(err) : w.resolve();
  }
}

/** Identifies a membership by its voters and learners (order-free), to match an applied configuration. */
function membershipKey(peers: readonly string[], learners: readonly string[]): string {
  return `${[...peers].sort().join(',')}|${[...learners].sort().join(',')}`;
}
