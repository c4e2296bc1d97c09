import { SynodError, decode, encode, type ChaosState, type DropReason, type Envelope, type MessageBody, type MessageInput, type MessageKind, type SenderInterval } from '@synod/codec';
import { Metrics, RateLimitedLog, type Logger } from '@synod/config';
import { exportRequestBatchStats } from './request-batch-metrics.js';
import { MAX_BATCH_BYTES } from '@synod/limits';
import { decodeBatch, encodeBatch, isBatch } from './batch-frame.js';
import { EMPTY_CHAOS, judge } from './chaos.js';
import { NodeBeats, type NodeBeatsOptions, type PeerTraffic } from './node-beats.js';
import { Outbox, type OutFrame } from './outbox.js';
import { CHAOS_KINDS, PEER_KINDS, SUBJECT_TOKEN, subjects } from './subjects.js';
import { WireNoRespondersError, WirePayloadTooLargeError, WireTimeoutError, type Respond, type Wire, type WireRefusal } from './wire.js';

/**
 * Why the bus refused a well-formed message for the subject it arrived on (docs/transport.md
 * "Credentials"), counted beside the decode reasons in `synod_bus_dropped_total{reason}`:
 *  - spoofed_sender: on a peer subject, the envelope's `from` is not the subject's sender token;
 *  - peer_kind_off_peer_subject: a peer kind (PEER_KINDS) on a client subject;
 *  - chaos_kind_off_chaos_subject: a fault-picture or clock-fault kind outside the chaos subject.
 */
export type RefusalReason = 'spoofed_sender' | 'peer_kind_off_peer_subject' | 'chaos_kind_off_chaos_subject';

/**
 * Why the bus dropped a whole batch of coalesced messages (docs/transport.md "Coalescing"),
 * counted in `synod_bus_dropped_total{reason}`:
 *  - bad_batch: its framing is broken (see decodeBatch), or it arrived as a request.
 */
export type BatchDropReason = 'bad_batch';

/** The clock reading shared by the frames of one received batch (Bus.readingFor). */
interface Receipt {
  reading: SenderInterval | null;
}

/** Where a message arrived, which decides what it may carry. */
export type Via = { on: 'peer'; sender: string } | { on: 'client' } | { on: 'chaos' };

export interface OutMessage<K extends MessageKind = MessageKind> {
  kind: K;
  body: MessageInput<K>;
  group?: string;
}

/**
 * What a request handler returns: the reply message. Throwing a SynodError replies with it;
 * throwing anything else is a bug or a broken invariant and stops the process (BusOptions.onFatal).
 */
export type Handler = (env: Envelope) => OutMessage | void | Promise<OutMessage | void>;

export type BusLogger = Pick<Logger, 'warn' | 'info' | 'error'> & Partial<Pick<Logger, 'fatal'>>;

/** What the bus knows when a handler fails fatally. */
export interface FatalContext {
  kind: MessageKind;
  from: string;
  group: string;
}

/**
 * Proof that one of two clocks is wrong: a message from `from` was stamped with an `earliest`
 * (at send) above the receiver's `latest` (at receipt). True time cannot run backwards between
 * a send and its receipt, so at least one of the two intervals excludes true time.
 *  - `receiver`: this bus received such a message from `from`;
 *  - `sender`: `from` sent `clock.suspect`: a message of ours reached it stamped ahead of its clock.
 * Neither says whose clock is wrong: both sides resync with the time masters, and only the
 * masters' verdict stops a node (docs/transport.md, "Clock evidence").
 */
export interface ClockEvidence {
  side: 'receiver' | 'sender';
  from: string;
  /** The kind of the message that showed it ('clock.suspect' on the sender side). */
  kind: MessageKind;
  senderEarliest: number;
  receiverLatest: number;
}

/** The bus's view of the local TrueTime: stamps outgoing messages and checks incoming ones. */
export interface BusClock {
  /** The local interval now, or null when the clock is not serving (then nothing is stamped or checked). */
  now(): SenderInterval | null;
  /** Called (rate-limited: at once, then at most once per `evidenceIntervalMs`, coalesced) on clock evidence. */
  onEvidence?(e: ClockEvidence): void;
}

export interface BusOptions {
  nodeId: string;
  dc: string;
  cluster?: string;
  logger?: BusLogger;
  /**
   * Called once when a handler throws (or rejects with) something other than a SynodError: a
   * bug or a broken invariant, after which the process must not limp on (DESIGN §3.6). The bus
   * delivers and sends nothing more after it. Default: log at fatal level and exit with 70.
   */
  onFatal?: (err: unknown, context: FatalContext) => void;
  metrics?: Metrics;
  /** Randomness for loss and jitter; injectable for reproducible tests. */
  rand?: () => number;
  /** Whether to apply the simulated-DC faults (on by default; off for pure benchmarks of the raw path). */
  simulateDcs?: boolean;
  /** Stamp and check TrueTime intervals (also settable later with `useClock`). */
  clock?: BusClock;
  /** Minimum spacing of onEvidence calls and of clock.suspect messages to one peer, ms (default 100). */
  evidenceIntervalMs?: number;
  /**
   * node (default): subscribes its peer and client inboxes and answers fault-picture queries.
   * client: a bus that only sends requests (the gateway, CLI clients): it subscribes nothing but
   * the fault picture, as a client credential allows nothing more (docs/transport.md "Credentials").
   */
  role?: 'node' | 'client';
  /**
   * Coalesce one-way peer messages (`send` of a PEER_KINDS kind): those queued for one node in
   * one event-loop turn leave as one NATS message (docs/transport.md "Coalescing"). Default on;
   * off sends each message alone, as benchmarks compare. Receiving batches is always on.
   */
  coalesce?: boolean;
}

const silentLog: BusLogger = { warn() {}, info() {}, error() {} };

/** How a publish went: the bus never lets a wire's exception escape a send. */
type Emitted = 'sent' | 'oversize' | 'failed';

/**
 * The synod message bus: one node's view of the cluster network. Owns encoding, validation of
 * every inbound byte, request/reply, and the simulated-DC layer. Faults are applied where a
 * message arrives, because only there are both endpoints' DCs known (the envelope carries the
 * sender's); replies are judged the same way on their way back.
 */
export class Bus {
  readonly nodeId: string;
  readonly dc: string;
  readonly cluster: string;
  readonly metrics: Metrics;
  private readonly subj: ReturnType<typeof subjects>;
  private readonly handlers = new Map<MessageKind, Handler>();
  private readonly chaosListeners = new Set<(s: ChaosState) => void>();
  private readonly log: BusLogger;
  private readonly badInput: RateLimitedLog;
  private readonly badOutput: RateLimitedLog;
  private readonly onFatal: (err: unknown, context: FatalContext) => void;
  private readonly rand: () => number;
  private readonly simulateDcs: boolean;
  private readonly unsubs: Array<() => void> = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private chaosState: ChaosState = EMPTY_CHAOS;
  /** Whether this process has asked for the fault picture at start and has an answer (or learned nobody has one). */
  private chaosSettled = false;
  private clock: BusClock | undefined;
  private readonly evidenceIntervalMs: number;
  private readonly clockLog: RateLimitedLog;
  private evidenceLastMs = -Infinity;
  private evidencePending: ClockEvidence | undefined;
  private readonly suspectSentMs = new Map<string, number>();
  private closed = false;
  /** Set once a handler failed fatally: nothing is delivered or sent after that. */
  private halted = false;
  readonly role: 'node' | 'client';
  private readonly refusedLog: RateLimitedLog;
  /** Queued one-way peer messages; undefined when coalescing is off. */
  private readonly outbox: Outbox | undefined;
  /** Told of peer traffic in and out (node liveness and beats, docs/transport.md "Node beats and liveness"). */
  private peerTraffic: PeerTraffic | undefined;

  constructor(
    readonly wire: Wire,
    opts: BusOptions,
  ) {
    // The id is a subject token (the sender token of peer subjects): a dot would shift tokens.
    if (!SUBJECT_TOKEN.test(opts.nodeId)) throw new SynodError('INVALID_ARGUMENT', `node id ${JSON.stringify(opts.nodeId).slice(0, 80)} is not one NATS subject token (1..63 characters, no dots, wildcards or spaces)`);
    this.nodeId = opts.nodeId;
    this.role = opts.role ?? 'node';
    this.dc = opts.dc;
    this.cluster = opts.cluster ?? 'synod';
    this.metrics = opts.metrics ?? new Metrics();
    this.subj = subjects(this.cluster);
    this.log = opts.logger ?? silentLog;
    this.badInput = new RateLimitedLog(this.log);
    this.badOutput = new RateLimitedLog(this.log);
    this.onFatal = opts.onFatal ?? ((err, context) => defaultFatal(opts.logger, err, context));
    this.rand = opts.rand ?? Math.random;
    this.simulateDcs = opts.simulateDcs ?? true;
    this.clock = opts.clock;
    this.evidenceIntervalMs = opts.evidenceIntervalMs ?? 100;
    this.clockLog = new RateLimitedLog(this.log, 1_000);
    this.refusedLog = new RateLimitedLog(this.log);
    wire.onRefused?.((r) => this.serverRefused(r));
    // A wire shared by many buses (SharedConnection) hides its counters from each and exports them once itself.
    if (wire.batchStats) exportRequestBatchStats(this.metrics, wire.batchStats);
    if (opts.coalesce ?? true)
      this.outbox = new Outbox({
        publish: (to, frames) => this.publishFrames(to, frames),
        // setImmediate runs after the poll phase, so sends from every timer and I/O callback of one loop iteration share a flush.
        // Then the wire may send everything of this turn at once: after the microtask in which nats.js
        // hands the batches just published to its socket, so they leave in the same write.
        schedule: (fn) => {
          const h = setImmediate(() => {
            fn();
            queueMicrotask(() => this.wire.endTurn?.());
          });
          return () => clearImmediate(h);
        },
      });
  }

  /** nats-server refused a publish or subscribe of ours (permissions): counted and logged, never silent. */
  private serverRefused(r: WireRefusal): void {
    this.metrics.inc('synod_bus_server_refused_total', { operation: r.operation });
    this.refusedLog.warn(`${r.operation}:${r.subject}`, { ...r, nodeId: this.nodeId }, 'nats-server refused an operation: this credential lacks the permission');
  }

  /**
   * Stamps every outgoing message with `clock.now()` and checks every stamped incoming one
   * against it (see ClockEvidence). A process sets it once its TrueTime exists (which needs the bus).
   */
  useClock(clock: BusClock | undefined): void {
    this.clock = clock;
  }

  /**
   * Tells `traffic` of every message delivered from a peer node on its peer subject (`heard`),
   * and of every one-way peer message this bus sends (`sent`): what NodeBeats keeps node
   * liveness and beats with. One at a time; undefined stops it.
   */
  trackPeers(traffic: PeerTraffic | undefined): void {
    this.peerTraffic = traffic;
  }

  /**
   * Node liveness and beats over this bus (docs/transport.md, "Node beats and liveness"): beats
   * are `node.beat` messages, and this bus reports its peer traffic to the returned NodeBeats
   * (replacing any tracker set before). Not started: call `start()` for the beat timer.
   */
  nodeBeats(opts: Omit<NodeBeatsOptions, 'self' | 'send'>): NodeBeats {
    const beats = new NodeBeats({
      ...opts,
      self: this.nodeId,
      send: (to) => {
        this.metrics.inc('synod_bus_node_beats_total');
        return this.send(to, 'node.beat', {});
      },
    });
    this.trackPeers(beats);
    return beats;
  }

  /** Subscribes the node's inbox and the chaos subjects, then asks peers for the current fault picture. */
  async start(): Promise<void> {
    // A client receives nothing but replies and the fault picture: its credential may subscribe nothing else.
    if (this.role === 'node') {
      this.unsubs.push(this.wire.subscribe(this.subj.node(this.nodeId), (d, r) => this.receive(d, r, { on: 'client' })));
      this.unsubs.push(this.wire.subscribe(this.subj.peerInbox(this.nodeId), (d, r, subject) => this.receive(d, r, { on: 'peer', sender: senderToken(subject) })));
      this.unsubs.push(this.wire.subscribe(this.subj.all, (d, r) => this.receive(d, r, { on: 'client' })));
    }
    // Chaos traffic is never faulted, so a fault can always be lifted (chaos.state, clock.fault).
    this.unsubs.push(this.wire.subscribe(this.subj.chaos, (d) => this.receive(d, undefined, { on: 'chaos' })));
    if (this.role === 'node')
      this.unsubs.push(
        this.wire.subscribe(this.subj.chaosGet, (_d, respond) => {
          // A process answers once its own start-up question is settled (an answer, or nobody had a picture): its
          // picture is then the current one, even version 0, so a newcomer (a CLI command) need not wait out the
          // timeout on a cluster without faults. One still starting stays silent: it could not know. First answer wins.
          this.metrics.inc('synod_bus_wire_received_total');
          if (respond && this.chaosSettled) this.emit('chaos.state', this.subj.chaosGet, this.pack('chaos.state', this.chaosState, ''), respond);
        }),
      );
    await this.wire.flush();
    try {
      const reply = decode(await this.wire.request(this.subj.chaosGet, this.pack('chaos.get', {}, ''), 300));
      if (reply.ok && reply.envelope.kind === 'chaos.state') this.applyChaos(reply.envelope.body as ChaosState);
    } catch {
      // Nobody knows of any faults yet.
    }
    this.chaosSettled = true;
  }

  get chaos(): ChaosState {
    return this.chaosState;
  }

  on<K extends MessageKind>(kind: K, handler: (env: Envelope<K>) => OutMessage | void | Promise<OutMessage | void>): void {
    this.handlers.set(kind, handler as Handler);
  }

  onChaos(listener: (s: ChaosState) => void): () => void {
    this.chaosListeners.add(listener);
    return () => this.chaosListeners.delete(listener);
  }

  /**
   * Sends a one-way message. Never throws for the wire: a message over the wire's max payload
   * or one the wire refuses (e.g. a closed connection) is counted, logged (rate-limited) and
   * dropped, and send returns false. Callers may treat it like a message lost in transit.
   * A peer kind is queued for the end of this event-loop turn when coalescing (true: queued);
   * a failure to publish its batch later is counted the same way (docs/transport.md "Coalescing").
   */
  send<K extends MessageKind>(to: string, kind: K, body: MessageInput<K>, group = ''): boolean {
    if (this.closed || this.halted) return false;
    const subject = this.subjectFor(to, kind);
    const bytes = this.pack(kind, body, group);
    const peerKind = PEER_KINDS.has(kind);
    if (peerKind) this.peerTraffic?.sent(to);
    if (this.outbox && peerKind && this.outbox.add(to, { kind, bytes }, this.batchBudget())) return true;
    this.outbox?.flush(to);
    return this.emit(kind, subject, bytes, (b) => this.wire.publish(subject, b)) === 'sent';
  }

  /**
   * One-way `send` to a subject rather than a node's inbox (e.g. spanservers' reports to
   * `subjects(c).placement`, which every placement replica serves); false when not published.
   */
  publish<K extends MessageKind>(subject: string, kind: K, body: MessageInput<K>, group = ''): boolean {
    if (this.closed || this.halted) return false;
    return this.emit(kind, subject, this.pack(kind, body, group), (b) => this.wire.publish(subject, b)) === 'sent';
  }

  /** `send` to every process; returns false, without throwing, when the message was not published. */
  broadcast<K extends MessageKind>(kind: K, body: MessageInput<K>, group = ''): boolean {
    if (this.closed || this.halted) return false;
    // It reaches every peer, so it must not overtake what is queued for any of them.
    this.outbox?.flushAll();
    return this.emit(kind, this.subj.all, this.pack(kind, body, group), (b) => this.wire.publish(this.subj.all, b)) === 'sent';
  }

  /** Publishes a fault picture to every process (and applies it here). */
  async publishChaos(state: ChaosState): Promise<void> {
    this.applyChaos(state);
    this.emit('chaos.state', this.subj.chaos, this.pack('chaos.state', state, ''), (b) => this.wire.publish(this.subj.chaos, b));
    await this.wire.flush();
  }

  /**
   * Publishes any control message on the chaos subject: every process receives it, and the
   * simulated-DC layer never faults it (e.g. `clock.fault`). Handlers registered with `on` get it.
   */
  async broadcastChaos<K extends MessageKind>(kind: K, body: MessageInput<K>): Promise<void> {
    if (this.closed || this.halted) return;
    this.emit(kind, this.subj.chaos, this.pack(kind, body, ''), (b) => this.wire.publish(this.subj.chaos, b));
    await this.wire.flush();
  }

  /**
   * Also receives on `subject` (e.g. `subjects(c).timemaster(dc)`), dispatching to the same
   * handlers as the inbox, faults applied. Returns the unsubscribe function.
   */
  async serve(subject: string): Promise<() => void> {
    const off = this.wire.subscribe(subject, (d, r) => this.receive(d, r, { on: 'client' }));
    this.unsubs.push(off);
    await this.wire.flush();
    return off;
  }

  /** `request`, addressed to a subject (such as a DC's time masters) rather than a node's inbox. */
  requestSubject<K extends MessageKind>(subject: string, kind: K, body: MessageInput<K>, opts: { group?: string; timeoutMs?: number } = {}): Promise<Envelope> {
    return this.requestOn(subject, subject, kind, body, opts);
  }

  /**
   * Sends a request and resolves with the reply envelope. Rejects only with SynodError:
   * TIMEOUT (no reply in time, including one lost to a simulated fault), UNAVAILABLE (no such
   * node listening, or the wire refused the request), MESSAGE_TOO_LARGE (the encoded request
   * is over the wire's max payload; nothing was sent), or the code the responder replied with.
   * Only SynodErrors, so a handler that awaits a request and lets its error through replies
   * with it instead of stopping its process as a bug would.
   */
  request<K extends MessageKind>(to: string, kind: K, body: MessageInput<K>, opts: { group?: string; timeoutMs?: number } = {}): Promise<Envelope> {
    return this.requestOn(this.subjectFor(to, kind), to, kind, body, opts);
  }

  /** Peer kinds go on the peer subject carrying our id as the sender token; the rest on the client inbox. */
  private subjectFor(to: string, kind: MessageKind): string {
    return PEER_KINDS.has(kind) ? this.subj.peer(to, this.nodeId) : this.subj.node(to);
  }

  private async requestOn<K extends MessageKind>(subject: string, to: string, kind: K, body: MessageInput<K>, opts: { group?: string; timeoutMs?: number }): Promise<Envelope> {
    const timeoutMs = opts.timeoutMs ?? 2_000;
    if (this.closed || this.halted) throw new SynodError('UNAVAILABLE', `${this.nodeId}'s bus is ${this.halted ? 'halted' : 'closed'}`);
    const started = Date.now();
    const out = this.pack(kind, body, opts.group ?? '');
    const max = this.wire.maxPayloadBytes();
    if (out.byteLength > max) throw this.oversize(kind, subject, out.byteLength, max);
    this.outbox?.flush(to);
    let bytes: Uint8Array;
    try {
      const replied = this.wire.request(subject, out, timeoutMs);
      this.metrics.inc('synod_bus_wire_published_total');
      bytes = await replied;
    } catch (err) {
      if (err instanceof WireTimeoutError) throw new SynodError('TIMEOUT', `${kind} to ${to} timed out after ${timeoutMs} ms`);
      if (err instanceof WireNoRespondersError) throw new SynodError('UNAVAILABLE', `node ${to} is not listening`, { node: to });
      // The server's limit can shrink under us across a reconnect.
      if (err instanceof WirePayloadTooLargeError) throw this.oversize(kind, subject, err.bytes, err.maxPayloadBytes);
      this.publishFailed(kind, subject, err);
      throw new SynodError('UNAVAILABLE', `${kind} to ${to} could not be sent: ${(err as Error)?.message ?? String(err)}`.slice(0, 1000), { node: to });
    }
    this.metrics.inc('synod_bus_wire_received_total');
    const r = decode(bytes);
    if (!r.ok) {
      this.dropped(r.reason, r.detail);
      throw new SynodError('INTERNAL', `malformed reply from ${to}: ${r.reason}`);
    }
    const ours = this.readingFor(r.envelope);
    const verdict = this.judgeInbound(r.envelope);
    if (!verdict.deliver) {
      // The reply was lost on the simulated link: the caller sees what it would see in reality.
      await this.sleep(Math.max(0, timeoutMs - (Date.now() - started)));
      throw new SynodError('TIMEOUT', `${kind} to ${to} timed out after ${timeoutMs} ms`);
    }
    this.checkClock(r.envelope, ours);
    if (verdict.delayMs > 0) await this.sleep(verdict.delayMs);
    if (r.envelope.kind === 'error') throw SynodError.fromBody(r.envelope.body as MessageBody<'error'>);
    return r.envelope;
  }

  stats(): { received: number; dropped: number; droppedByFault: number } {
    return {
      received: this.metrics.total('synod_bus_received_total'),
      dropped: this.metrics.total('synod_bus_dropped_total'),
      droppedByFault: this.metrics.total('synod_bus_fault_dropped_total'),
    };
  }

  /**
   * Frames already queued are published first: `send` accepted them while the bus was open, as
   * it would have published them at once without coalescing. A halted bus sends nothing.
   */
  async close(): Promise<void> {
    if (this.halted) this.outbox?.discard();
    else this.outbox?.flushAll();
    this.closed = true;
    for (const off of this.unsubs.splice(0)) off();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.wire.close();
  }

  private pack<K extends MessageKind>(kind: K, body: MessageInput<K>, group: string): Uint8Array {
    const tt = this.clock?.now();
    return encode({ from: this.nodeId, dc: this.dc, kind, group, body, ...(tt ? { tt } : {}) });
  }

  /**
   * The local interval at receipt of a stamped message, or null when there is nothing to check.
   * A batch's frames share the first reading taken for any of them (`receipt`): every one had
   * arrived by then, and any reading after arrival is sound for the check (only one taken before
   * the send could be wrong).
   */
  private readingFor(env: Envelope, receipt?: Receipt): SenderInterval | null {
    if (!env.tt || !this.clock) return null;
    if (!receipt) return this.clock.now();
    return (receipt.reading ??= this.clock.now());
  }

  /**
   * Checks a delivered message's stamp against our interval at its receipt. On evidence, counts
   * it, tells our clock's owner, and tells the sender (`clock.suspect`) so it resyncs too. Called
   * before the message is handled, so the suspect precedes any reply to it on the wire.
   */
  private checkClock(env: Envelope, ours: SenderInterval | null): void {
    if (!env.tt || !ours || env.tt.earliest <= ours.latest) return;
    const e: ClockEvidence = { side: 'receiver', from: env.from, kind: env.kind, senderEarliest: env.tt.earliest, receiverLatest: ours.latest };
    this.metrics.inc('synod_clock_evidence_total', { side: 'receiver' });
    this.clockLog.warn(`evidence:${env.from}`, { ...e, aheadUs: e.senderEarliest - e.receiverLatest }, 'clock evidence: a message arrived stamped ahead of this clock; resyncing');
    this.raiseEvidence(e);
    if (env.kind === 'clock.suspect' || this.closed || this.halted) return;
    const now = performance.now();
    if (now - (this.suspectSentMs.get(env.from) ?? -Infinity) < this.evidenceIntervalMs) return;
    if (this.suspectSentMs.size >= 1_024) this.suspectSentMs.clear();
    this.suspectSentMs.set(env.from, now);
    this.send(env.from, 'clock.suspect', { senderEarliest: Math.floor(e.senderEarliest), receiverLatest: Math.ceil(e.receiverLatest) });
  }

  /** A peer says a message of ours arrived stamped ahead of its clock. */
  private suspected(env: Envelope<'clock.suspect'>): void {
    this.metrics.inc('synod_clock_evidence_total', { side: 'sender' });
    const e: ClockEvidence = { side: 'sender', from: env.from, kind: env.kind, ...env.body };
    this.clockLog.warn(`suspect:${env.from}`, { ...e, aheadUs: e.senderEarliest - e.receiverLatest }, 'clock evidence: a peer received a message of ours stamped ahead of its clock; resyncing');
    this.raiseEvidence(e);
  }

  /** At once, then at most once per evidenceIntervalMs, the newest evidence of an interval coalesced into one trailing call. */
  private raiseEvidence(e: ClockEvidence): void {
    if (!this.clock?.onEvidence) return;
    const now = performance.now();
    const wait = this.evidenceLastMs + this.evidenceIntervalMs - now;
    if (wait <= 0) {
      this.evidenceLastMs = now;
      this.deliverEvidence(e);
      return;
    }
    this.metrics.inc('synod_clock_evidence_coalesced_total');
    const scheduled = this.evidencePending !== undefined;
    this.evidencePending = e;
    if (scheduled) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      const pending = this.evidencePending;
      this.evidencePending = undefined;
      this.evidenceLastMs = performance.now();
      if (pending && !this.closed) this.deliverEvidence(pending);
    }, wait);
    this.timers.add(t);
  }

  private deliverEvidence(e: ClockEvidence): void {
    try {
      this.clock?.onEvidence?.(e);
    } catch (err) {
      this.log.error({ err }, 'clock evidence handler failed');
    }
  }

  /** One wire message: a batch (only on a peer subject, where coalesced traffic travels) or a message. */
  private receive(bytes: Uint8Array, respond: Respond | undefined, via: Via): void {
    if (this.closed || this.halted) return;
    this.metrics.inc('synod_bus_wire_received_total');
    if (via.on === 'peer' && isBatch(bytes)) this.receiveBatch(bytes, respond, via);
    else this.receiveMessage(bytes, respond, via);
  }

  /**
   * Every frame takes the single-message path, so validation, the sender check, the simulated
   * link's verdict, the clock check and dispatch treat it as if it had come alone; a bad frame is
   * dropped and counted by itself. Broken framing drops the whole batch (docs/transport.md "Coalescing").
   */
  private receiveBatch(bytes: Uint8Array, respond: Respond | undefined, via: Via): void {
    if (respond) {
      // A bus never sends a batch as a request: there is no one reply for many messages.
      this.dropped('bad_batch', 'a batch sent as a request');
      this.reply(respond, 'error', { code: 'INVALID_ARGUMENT', message: 'bad_batch: a batch cannot be a request' }, '', undefined);
      return;
    }
    const r = decodeBatch(bytes);
    if (!r.ok) {
      this.dropped('bad_batch', r.detail);
      return;
    }
    this.metrics.inc('synod_bus_batches_total', { direction: 'in' });
    this.metrics.inc('synod_bus_batch_frames_total', { direction: 'in' }, r.frames.length);
    // At most MAX_BATCH_FRAMES; a frame whose handler fails fatally halts the bus, and receiveMessage then ignores the rest.
    // The frames arrived together: one clock reading, taken at the first stamped one, is their receipt.
    const receipt: Receipt = { reading: null };
    for (const frame of r.frames) this.receiveMessage(frame, undefined, via, receipt);
  }

  private receiveMessage(bytes: Uint8Array, respond: Respond | undefined, via: Via, receipt?: Receipt): void {
    if (this.closed || this.halted) return;
    const r = decode(bytes);
    if (!r.ok) {
      this.dropped(r.reason, r.detail);
      // A request that fails validation gets a coded answer instead of a silent timeout.
      if (respond) this.reply(respond, 'error', { code: 'INVALID_ARGUMENT', message: `${r.reason}: ${r.detail}`.slice(0, 1000) }, '', undefined);
      return;
    }
    const env = r.envelope;
    const refusal = refusalFor(env, via);
    if (refusal) {
      this.dropped(refusal, `${env.kind} from ${env.from}${via.on === 'peer' ? ` on ${via.sender}'s peer subject` : ` on a ${via.on} subject`}`);
      if (respond) this.reply(respond, 'error', { code: 'INVALID_ARGUMENT', message: `refused: ${refusal} (${env.kind})` }, '', env.from);
      return;
    }
    const ours = this.readingFor(env, receipt);
    if (env.kind === 'chaos.state') return this.applyChaos(env.body as ChaosState);
    if (via.on === 'chaos') {
      this.checkClock(env, ours);
      return this.dispatch(env, respond);
    }
    const verdict = this.judgeInbound(env);
    if (!verdict.deliver) {
      this.metrics.inc('synod_bus_fault_dropped_total', { why: verdict.why });
      return;
    }
    // Checked at receipt (the earliest, most sensitive moment that is still sound), before any
    // simulated delay: the message did arrive, the link only holds it back.
    this.checkClock(env, ours);
    if (env.kind === 'clock.suspect') return this.suspected(env as Envelope<'clock.suspect'>);
    // Only the peer subject authenticates `from` (refusalFor): only there does a message say its sender is up.
    const heard = via.on === 'peer' ? this.peerTraffic : undefined;
    if (verdict.delayMs > 0) {
      const t = setTimeout(() => {
        this.timers.delete(t);
        if (!this.closed && !this.halted) heard?.heard(env.from);
        this.dispatch(env, respond);
      }, verdict.delayMs);
      this.timers.add(t);
      return;
    }
    heard?.heard(env.from);
    this.dispatch(env, respond);
  }

  private judgeInbound(env: Envelope) {
    if (!this.simulateDcs) return { deliver: true as const, delayMs: 0 };
    return judge(this.chaosState, { node: env.from, dc: env.dc }, { node: this.nodeId, dc: this.dc }, this.rand);
  }

  private dispatch(env: Envelope, respond: Respond | undefined): void {
    // A delayed delivery can fire after a fatal failure; a halted process handles nothing more.
    if (this.closed || this.halted) return;
    this.metrics.inc('synod_bus_received_total');
    const handler = this.handlers.get(env.kind);
    if (!handler) {
      if (respond) this.reply(respond, 'error', { code: 'UNAVAILABLE', message: `${this.nodeId} does not serve ${env.kind}` }, env.group, env.from);
      return;
    }
    let out: ReturnType<Handler>;
    try {
      out = handler(env);
    } catch (err) {
      this.handlerFailed(err, env, respond);
      return;
    }
    // `replyWith` throws only if the handler's reply cannot be encoded: a bug, so fatal too.
    // The closures are made only for async handlers: a sync one (a Paxos step) allocates none.
    if (out instanceof Promise)
      out.then(
        (o) => this.replyWith(o, env, respond),
        (err: unknown) => this.handlerFailed(err, env, respond),
      ).catch((err: unknown) => this.fatal(err, fatalContext(env)));
    else if (out && respond) {
      try {
        this.replyWith(out, env, respond);
      } catch (err) {
        this.fatal(err, fatalContext(env));
      }
    }
  }

  private replyWith(out: OutMessage | void, env: Envelope, respond: Respond | undefined): void {
    if (respond && out && !this.halted) this.reply(respond, out.kind, out.body, out.group ?? env.group, env.from);
  }

  /**
   * A SynodError is an answer; anything else is a bug or a broken invariant, and answering
   * INTERNAL while carrying on would let the process limp on with state it cannot trust.
   */
  private handlerFailed(err: unknown, env: Envelope, respond: Respond | undefined): void {
    if (!(err instanceof SynodError)) return this.fatal(err, fatalContext(env));
    if (respond && !this.halted) this.reply(respond, 'error', err.toBody(), env.group, env.from);
  }

  private fatal(err: unknown, context: FatalContext): void {
    if (this.halted) return;
    if (this.closed) {
      // A handler still running at shutdown can fail on resources closed under it (storage is
      // closed after the bus); the process is stopping anyway, so this is reported, not fatal.
      this.log.error({ err, ...context }, 'handler failed after the bus closed');
      return;
    }
    this.halted = true;
    this.metrics.inc('synod_bus_handler_fatal_total', { kind: context.kind });
    this.onFatal(err, context);
  }

  /**
   * Answers a request from `to` (undefined: unknown, the request was unreadable). A reply over
   * the max payload is replaced by a small MESSAGE_TOO_LARGE error, so the requester learns why
   * instead of waiting for its timeout.
   */
  private reply<K extends MessageKind>(respond: Respond, kind: K, body: MessageInput<K>, group: string, to: string | undefined): void {
    // The reply must not overtake messages queued earlier for the requester (e.g. a clock.suspect).
    if (to !== undefined) this.outbox?.flush(to);
    const bytes = this.pack(kind, body, group);
    if (this.emit(kind, 'reply', bytes, respond) !== 'oversize') return;
    const max = this.wire.maxPayloadBytes();
    const refusal: MessageInput<'error'> = {
      code: 'MESSAGE_TOO_LARGE',
      message: `${this.nodeId}'s ${kind} reply is ${bytes.byteLength} bytes encoded, over the max payload of ${max}`,
      hint: { limit: max, actual: bytes.byteLength },
    };
    this.emit('error', 'reply', this.pack('error', refusal, group), respond);
  }

  /**
   * The one place the bus hands bytes to the wire. Checks them against the wire's max payload
   * first, because NATS refuses a larger payload by throwing synchronously, and a throw from a
   * send inside a promise chain (the Paxos host sends from one) becomes an unhandled rejection
   * that kills the process. Any other wire error (a closed or draining connection) is counted
   * and dropped the same way: a message that was not sent is a message lost in transit.
   */
  private emit(kind: MessageKind, subject: string, bytes: Uint8Array, publish: (b: Uint8Array) => void): Emitted {
    const max = this.wire.maxPayloadBytes();
    if (bytes.byteLength > max) {
      this.oversize(kind, subject, bytes.byteLength, max);
      return 'oversize';
    }
    try {
      publish(bytes);
      this.metrics.inc('synod_bus_wire_published_total');
      return 'sent';
    } catch (err) {
      if (err instanceof WirePayloadTooLargeError) {
        this.oversize(kind, subject, err.bytes, err.maxPayloadBytes);
        return 'oversize';
      }
      this.publishFailed(kind, subject, err);
      return 'failed';
    }
  }

  /** The byte budget of one batch: never more than the wire carries now (its max can shrink across a reconnect). */
  private batchBudget(): number {
    return Math.min(MAX_BATCH_BYTES, this.wire.maxPayloadBytes());
  }

  /** The outbox's publish: one frame goes as a plain message, more as one batch on `to`'s peer subject. */
  private publishFrames(to: string, frames: OutFrame[]): void {
    // Whenever they were queued, a halted process sends nothing more.
    if (this.halted) return;
    const subject = this.subj.peer(to, this.nodeId);
    const publish = (b: Uint8Array) => this.wire.publish(subject, b);
    if (frames.length === 1) {
      this.emit(frames[0]!.kind, subject, frames[0]!.bytes, publish);
      return;
    }
    const bytes = encodeBatch(frames.map((f) => f.bytes));
    try {
      // The max can have shrunk since the frames were queued; then each is checked and sent alone.
      if (bytes.byteLength > this.wire.maxPayloadBytes()) throw new WirePayloadTooLargeError(bytes.byteLength, this.wire.maxPayloadBytes());
      publish(bytes);
    } catch (err) {
      if (err instanceof WirePayloadTooLargeError) for (const f of frames) this.emit(f.kind, subject, f.bytes, publish);
      else for (const f of frames) this.publishFailed(f.kind, subject, err);
      return;
    }
    this.metrics.inc('synod_bus_wire_published_total');
    this.metrics.inc('synod_bus_batches_total', { direction: 'out' });
    this.metrics.inc('synod_bus_batch_frames_total', { direction: 'out' }, frames.length);
  }

  /** Counts and logs (rate-limited) a message refused for size; returns the error a request rejects with. */
  private oversize(kind: MessageKind, subject: string, bytes: number, max: number): SynodError {
    this.metrics.inc('synod_bus_oversize_total', { kind });
    this.badOutput.warn(`oversize:${kind}`, { kind, subject, bytes, maxPayloadBytes: max }, 'refused to publish a message over the max payload');
    return new SynodError('MESSAGE_TOO_LARGE', `${kind} is ${bytes} bytes encoded, over the max payload of ${max}`, { limit: max, actual: bytes });
  }

  private publishFailed(kind: MessageKind, subject: string, err: unknown): void {
    this.metrics.inc('synod_bus_publish_failed_total', { kind });
    this.badOutput.warn(`failed:${kind}`, { kind, subject, err }, 'publish failed; message dropped');
  }

  private applyChaos(state: ChaosState): void {
    if (state.version <= this.chaosState.version) return;
    this.chaosState = state;
    this.metrics.set('synod_chaos_version', state.version);
    this.log.info({ chaosVersion: state.version, links: state.links.length, isolated: state.isolated }, 'fault picture applied');
    for (const l of this.chaosListeners) l(state);
  }

  private dropped(reason: DropReason | RefusalReason | BatchDropReason, detail: string): void {
    this.metrics.inc('synod_bus_dropped_total', { reason });
    this.badInput.warn(reason, { reason, detail }, 'dropped a bad message');
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }
}

function fatalContext(env: Envelope): FatalContext {
  return { kind: env.kind, from: env.from, group: env.group };
}

/** The last token of a peer subject `<c>.peer.<receiver>.<sender>`. */
function senderToken(subject: string | undefined): string {
  return subject?.slice(subject.lastIndexOf('.') + 1) ?? '';
}

/**
 * Whether a decoded message may be handled, given where it arrived (docs/transport.md
 * "Credentials"). nats-server binds the sender token of a peer subject to the publisher's
 * credentials; this binds the envelope's `from` to that token, and keeps peer and chaos kinds
 * off the subjects a client may publish on.
 */
export function refusalFor(env: Pick<Envelope, 'kind' | 'from'>, via: Via): RefusalReason | undefined {
  if (via.on === 'peer') {
    if (env.from !== via.sender) return 'spoofed_sender';
  } else if (PEER_KINDS.has(env.kind)) return 'peer_kind_off_peer_subject';
  if (via.on !== 'chaos' && CHAOS_KINDS.has(env.kind)) return 'chaos_kind_off_chaos_subject';
  return undefined;
}

/** The default of BusOptions.onFatal: the reason goes to the log (or stderr), then the process stops. */
function defaultFatal(logger: BusLogger | undefined, err: unknown, context: FatalContext): never {
  const msg = `handler for ${context.kind} from ${context.from} threw a non-SynodError (a bug or a broken invariant); stopping`;
  if (logger?.fatal) logger.fatal({ err, ...context }, msg);
  else if (logger) logger.error({ err, ...context }, msg);
  // Without a logger the reason would vanish with the process.
  else process.stderr.write(`${msg}: ${(err as Error)?.stack ?? String(err)}\n`);
  // 70 is EX_SOFTWARE, as libs/paxos-host exits when durable state cannot be written.
  process.exit(70);
}
