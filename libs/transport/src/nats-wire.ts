import type { Socket } from 'node:net';
import { ErrorCode, connect, createInbox, type ConnectionOptions, type Msg, type NatsConnection, type NatsError, type Subscription } from 'nats';
import { MAX_BATCH_BYTES } from '@synod/limits';
import { TAGGED_FRAME_OVERHEAD_BYTES, decodeTaggedBatch, encodeTaggedBatch, isTaggedBatch, taggedBatchBytes, type TaggedFrame } from './batch-frame.js';
import { Outbox } from './outbox.js';
import { WireNoRespondersError, WirePayloadTooLargeError, WireTimeoutError, WireTooManyRequestsError, type RequestBatchStats, type Respond, type Wire, type WireHandler, type WireRefusal } from './wire.js';

/** Where nats.js 2.x keeps its socket (not public API: nats-wire.test.ts checks the path still leads to one). */
interface NatsInternals {
  protocol?: { transport?: { socket?: Socket } };
}

/** nats-server's own default max_payload: assumed while no server INFO is known (before the first connect). */
const NATS_DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/**
 * Requests one wire keeps waiting for a reply at once (docs/transport.md "Request/reply"). A
 * closed loop has one per caller; a wire shared by a bench's 128 clients, or a gateway's, stays
 * far below it. Past it a request is refused at once instead of growing the table without bound.
 */
export const MAX_PENDING_REQUESTS = 65_536;

/** A request waiting for its reply: settled once, by the reply, its timer, or the wire closing. */
interface Pending {
  subject: string;
  resolve: (data: Uint8Array) => void;
  reject: (err: unknown) => void;
  timer: NodeJS.Timeout;
  /** The batch it left in, if it went in one: only that batch's replies answer it. */
  batch?: number;
}

/** The reply-subject token of a batch is `B<n>`: a plain request's token is base 36, which has no capitals. */
const BATCH_TOKEN = 'B';

export class NatsWire implements Wire {
  private readonly refusalListeners = new Set<(r: WireRefusal) => void>();
  /** Refusals before anyone listened (at most a few: the bus listens as soon as it exists). */
  private readonly earlyRefusals: WireRefusal[] = [];

  /** The socket held corked for this event-loop turn, if any (see holdWrites). */
  private corked: Socket | undefined;

  /** `<inbox>.`: every reply to this wire's requests arrives on it plus a token (see request). */
  private replyPrefix: string | undefined;
  private replySub: Subscription | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextToken = 0;
  /** Requests queued this turn, by subject; undefined when batching is off. */
  private readonly requestOutbox: Outbox<TaggedFrame> | undefined;
  /** Replies to batched requests queued this turn, by reply subject (always on: a requester may batch). */
  private readonly replyOutbox: Outbox<TaggedFrame>;
  private nextBatch = 0;
  /** What runs at the end of this turn, before the socket is uncorked (the outboxes' flushes). */
  private readonly atTurnEnd = new Set<() => void>();
  private turnEndScheduled = false;
  readonly batchStats: RequestBatchStats = { batchesOut: 0, framesOut: 0, batchesIn: 0, framesIn: 0, repliesLost: 0, badReplies: 0 };

  private constructor(
    readonly nc: NatsConnection,
    /** The prefix the server lets this connection subscribe replies under (a credential's `_INBOX.<user>`). */
    private readonly inboxPrefix: string | undefined,
    private readonly maxPending: number,
    batchRequests: boolean,
  ) {
    const schedule = (fn: () => void) => {
      this.atTurnEnd.add(fn);
      this.scheduleTurnEnd();
      return () => void this.atTurnEnd.delete(fn);
    };
    this.requestOutbox = batchRequests ? new Outbox<TaggedFrame>({ publish: (subject, frames) => this.publishRequests(subject, frames), schedule, frameOverheadBytes: TAGGED_FRAME_OVERHEAD_BYTES }) : undefined;
    this.replyOutbox = new Outbox<TaggedFrame>({ publish: (reply, frames) => this.publishReplies(reply, frames), schedule, frameOverheadBytes: TAGGED_FRAME_OVERHEAD_BYTES });
    // The status iterator ends when the connection closes; a failure of it would hide refusals, so it is reported.
    this.watchStatus().catch((err: unknown) => process.stderr.write(`synod: NATS status watcher failed; refused publishes will go unreported: ${(err as Error)?.stack ?? String(err)}\n`));
    // However the connection ends (close, drain, or closed under us), no reply can come any more.
    void nc.closed().then((err) => this.failPending(err ?? new Error('the NATS connection closed while the request waited for its reply')));
  }

  /**
   * nats-server answers a publish or subscribe its permissions forbid with an asynchronous
   * -ERR; nats.js surfaces it only as a status event, so it is turned into a refusal here
   * for the bus to count and log (docs/transport.md "Credentials").
   */
  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type !== 'error' || s.data !== ErrorCode.PermissionsViolation) continue;
      const ctx = (s as { permissionContext?: { operation: string; subject: string } }).permissionContext;
      this.refused({ operation: ctx?.operation === 'subscription' ? 'subscription' : 'publish', subject: ctx?.subject ?? '?' });
    }
  }

  private refused(r: WireRefusal): void {
    if (this.refusalListeners.size === 0) {
      if (this.earlyRefusals.length < 16) this.earlyRefusals.push(r);
      return;
    }
    for (const l of this.refusalListeners) l(r);
  }

  onRefused(listener: (r: WireRefusal) => void): void {
    this.refusalListeners.add(listener);
    for (const r of this.earlyRefusals.splice(0)) listener(r);
  }

  /**
   * `wire.batchRequests` (default on; the environment's `SYNOD_REQUEST_BATCHING=off` turns the
   * default off, for benchmarks comparing both): requests to one subject queued in one turn leave
   * as one message (docs/transport.md "Request batching"). Receiving batches is always on.
   */
  static async connect(servers: string, opts: Omit<ConnectionOptions, 'servers'> = {}, wire: { maxPendingRequests?: number; batchRequests?: boolean } = {}): Promise<NatsWire> {
    // Reconnect forever: a NATS restart must not kill a replica.
    const nc = await connect({ servers, maxReconnectAttempts: -1, reconnectTimeWait: 250, ...opts });
    return new NatsWire(nc, opts.inboxPrefix, wire.maxPendingRequests ?? MAX_PENDING_REQUESTS, wire.batchRequests ?? process.env.SYNOD_REQUEST_BATCHING !== 'off');
  }

  /** Read on every call: after a reconnect the server, and so its max_payload, may differ. */
  maxPayloadBytes(): number {
    return this.nc.info?.max_payload ?? NATS_DEFAULT_MAX_PAYLOAD;
  }

  /**
   * nats.js writes its buffer to the socket in a microtask after each callback that published,
   * so a turn whose timers and I/O callbacks each send a reply makes one write syscall (and one
   * wake-up of nats-server) per callback: up to 15 in one turn of a loaded split leader. Corking
   * the socket on the first publish of a turn and uncorking it once the turn's callbacks have
   * run (setImmediate, or earlier: endTurn) sends them in one writev. Nothing waits longer than
   * the rest of the current loop iteration. A socket nats.js does not expose (another version) is
   * simply not corked.
   */
  private holdWrites(): void {
    if (this.corked) return;
    const socket = (this.nc as unknown as NatsInternals).protocol?.transport?.socket;
    if (!socket || socket.destroyed) return;
    socket.cork();
    this.corked = socket;
    this.scheduleTurnEnd();
  }

  private scheduleTurnEnd(): void {
    if (this.turnEndScheduled) return;
    this.turnEndScheduled = true;
    setImmediate(() => this.endTurn());
  }

  /** Publishes this turn's queued requests and replies, then sends everything held in one write. */
  endTurn(): void {
    this.turnEndScheduled = false;
    for (const fn of this.atTurnEnd) {
      this.atTurnEnd.delete(fn);
      fn();
    }
    const socket = this.corked;
    if (!socket) return;
    this.corked = undefined;
    // nats.js moves what the flushes above published to its socket in a microtask that those
    // publishes queued: uncorking now sent the turn's earlier writes, and then those in a second
    // write syscall of their own (41% of a loaded split leader's socket writes). Uncorking in a
    // microtask queued after nats.js's sends them all in one. A publish in between corks again
    // (cork counts nest), so every cork still meets its uncork.
    queueMicrotask(() => socket.uncork());
  }

  /** Whether nats.js's socket was found and is held corked now (for tests). */
  get holdingWrites(): boolean {
    return this.corked !== undefined;
  }

  publish(subject: string, data: Uint8Array): void {
    this.holdWrites();
    try {
      this.nc.publish(subject, data);
    } catch (err) {
      throw this.translate(err, data);
    }
  }

  /**
   * Request/reply on this wire's own reply subscription rather than nats.js's `request`: that one
   * builds three Errors with stack traces per request (an async-trace context, a timeout error made
   * up front, and a "cancelled" rejection of its settled promise on every success), two promises,
   * a race and its handlers. That was a quarter of a read-heavy client's CPU (docs/transport.md
   * "Request/reply"). Here: one subscription on `<inbox>.*` for the life of the connection
   * (nats.js renews it across reconnects), a table of pending requests by token, one timer and one
   * promise each. nats-server's no-responders status (503, empty payload) arrives on the same
   * subject, as nats.js would see it.
   */
  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (this.pending.size >= this.maxPending) return Promise.reject(new WireTooManyRequestsError(this.maxPending));
    let prefix: string;
    try {
      prefix = this.replyPrefix ?? this.subscribeReplies();
    } catch (err) {
      return Promise.reject(err);
    }
    const id = this.newId();
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => this.settle(id)?.reject(new WireTimeoutError(subject)), timeoutMs);
      this.pending.set(id, { subject, resolve, reject, timer });
      if (this.requestOutbox?.add(subject, { id, bytes: data }, this.batchBudget())) return;
      // Batching is off, or the request is too large for a batch: alone, after what is queued for the subject.
      this.requestOutbox?.flush(subject);
      this.holdWrites();
      try {
        this.nc.publish(subject, data, { reply: prefix + id.toString(36) });
      } catch (err) {
        this.settle(id);
        reject(this.translate(err, data));
      }
    });
  }

  /** A u32 request id no waiting request has (ids wrap after 2^32 requests). */
  private newId(): number {
    let id = this.nextToken;
    while (this.pending.has(id)) id = (id + 1) >>> 0;
    this.nextToken = (id + 1) >>> 0;
    return id;
  }

  private batchBudget(): number {
    return Math.min(MAX_BATCH_BYTES, this.maxPayloadBytes());
  }

  /** Removes a waiting request (its reply came, its timer fired, or it failed); undefined if it was no longer waiting. */
  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    this.pending.delete(id);
    clearTimeout(p.timer);
    return p;
  }

  /** The request outbox's publish: one request goes alone as before, more as one batch with a reply subject of its own. */
  private publishRequests(subject: string, queued: TaggedFrame[]): void {
    // A request whose timer fired while it was queued is not sent.
    const frames = queued.filter((f) => this.pending.has(f.id));
    if (frames.length === 0) return;
    let reply: string;
    let data: Uint8Array;
    let batch: number | undefined;
    try {
      const prefix = this.replyPrefix ?? this.subscribeReplies();
      if (frames.length === 1) {
        data = frames[0]!.bytes;
        reply = prefix + frames[0]!.id.toString(36);
      } else {
        data = encodeTaggedBatch(frames);
        batch = this.nextBatch;
        this.nextBatch = (this.nextBatch + 1) % Number.MAX_SAFE_INTEGER;
        reply = prefix + BATCH_TOKEN + batch.toString(36);
      }
      this.holdWrites();
      this.nc.publish(subject, data, { reply });
    } catch (err) {
      for (const f of frames) this.settle(f.id)?.reject(this.translate(err, f.bytes));
      return;
    }
    if (batch === undefined) return;
    for (const f of frames) this.pending.get(f.id)!.batch = batch;
    this.batchStats.batchesOut++;
    this.batchStats.framesOut += frames.length;
  }

  /** The reply outbox's publish: always a tagged batch, even of one, since the requester routes by id. */
  private publishReplies(reply: string, frames: TaggedFrame[]): void {
    try {
      this.holdWrites();
      this.nc.publish(reply, encodeTaggedBatch(frames));
    } catch {
      // A closed connection: as a reply lost in transit, its requesters time out.
      this.batchStats.repliesLost += frames.length;
    }
  }

  /** Subscribes `<inbox>.*` once, on the first request; returns the reply prefix. */
  private subscribeReplies(): string {
    const prefix = `${createInbox(this.inboxPrefix)}.`;
    const sub = this.nc.subscribe(`${prefix}*`, {
      callback: (err, msg) => {
        // A subscription the server refused or closed: every request still waiting fails now
        // rather than at its timeout (the status watcher reports a refusal), and the next
        // request subscribes again instead of waiting on a dead subscription until its timeout.
        if (err) {
          if (this.replySub === sub) {
            this.replySub = undefined;
            this.replyPrefix = undefined;
          }
          return this.failPending(err);
        }
        const token = msg.subject.slice(prefix.length);
        if (token.startsWith(BATCH_TOKEN)) this.repliedBatch(parseInt(token.slice(BATCH_TOKEN.length), 36), msg);
        else this.replied(parseInt(token, 36), msg);
      },
    });
    this.replySub = sub;
    this.replyPrefix = prefix;
    return prefix;
  }

  private replied(id: number, msg: Msg): void {
    // A reply after its request timed out (or a second one), or to a batched request: nobody waits for it here.
    const p = this.pending.get(id);
    if (!p || p.batch !== undefined) return;
    this.settle(id);
    if (noResponders(msg)) p.reject(new WireNoRespondersError(p.subject));
    else p.resolve(msg.data);
  }

  /** Replies to a batch, in any number of messages; a no-responders status fails every request of it still waiting. */
  private repliedBatch(batch: number, msg: Msg): void {
    if (noResponders(msg)) {
      // Rare (the node is gone), so the waiting table is searched rather than indexed by batch.
      for (const [id, p] of this.pending) {
        if (p.batch !== batch) continue;
        this.settle(id);
        p.reject(new WireNoRespondersError(p.subject));
      }
      return;
    }
    const r = decodeTaggedBatch(msg.data);
    if (!r.ok) {
      this.batchStats.badReplies++;
      return;
    }
    for (const f of r.frames) {
      // Only a request of this batch: an id in another batch's reply answers nothing.
      if (this.pending.get(f.id)?.batch !== batch) continue;
      this.settle(f.id)!.resolve(f.bytes);
    }
  }

  private failPending(err: unknown): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }

  /** Requests waiting for a reply now (for tests). */
  get pendingRequests(): number {
    return this.pending.size;
  }

  subscribe(subject: string, handler: WireHandler): () => void {
    const sub = this.nc.subscribe(subject, {
      callback: (err, msg) => {
        // nats.js closes a subscription the server refused and hands it the error once; the
        // status watcher reports it too (as a refusal), so there is nothing more to do here.
        if (err) return;
        const reply = msg.reply;
        if (reply && isTaggedBatch(msg.data)) return this.receiveRequests(msg.data, reply, msg.subject, handler);
        handler(msg.data, reply ? (d) => this.respond(reply, d) : undefined, msg.subject);
      },
    });
    return () => sub.unsubscribe();
  }

  private respond(reply: string, d: Uint8Array): void {
    this.holdWrites();
    try {
      this.nc.publish(reply, d);
    } catch (e) {
      throw this.translate(e, d);
    }
  }

  /**
   * A batch of requests: each frame goes to the handler as if it had come alone, with a respond
   * that queues its reply, tagged with its id, for the batch's reply subject; this turn's replies
   * leave together. Broken framing goes to the handler whole, which drops and answers it as the
   * malformed message it is (its requester, which routes only tagged replies, times out).
   */
  private receiveRequests(data: Uint8Array, reply: string, subject: string, handler: WireHandler): void {
    const r = decodeTaggedBatch(data);
    if (!r.ok) return handler(data, (d) => this.respond(reply, d), subject);
    this.batchStats.batchesIn++;
    this.batchStats.framesIn += r.frames.length;
    for (const f of r.frames) handler(f.bytes, this.replyTo(reply, f.id), subject);
  }

  private replyTo(reply: string, id: number): Respond {
    return (d) => {
      // The bus checked the reply against the max payload; a batch's framing must fit too. The bus answers this with a small error instead.
      if (!this.replyOutbox.add(reply, { id, bytes: d }, this.batchBudget())) throw new WirePayloadTooLargeError(taggedBatchBytes(1, d.byteLength), this.maxPayloadBytes());
    };
  }

  flush(): Promise<void> {
    // Queued requests and replies go first, so a flush covers them as it covers a publish.
    this.endTurn();
    return this.nc.flush();
  }

  async close(): Promise<void> {
    // What was queued this turn is sent first, as it would have been without batching.
    if (!this.nc.isClosed()) {
      this.endTurn();
      await this.nc.drain();
    }
  }

  /** NATS's size refusal becomes the wire-neutral error the bus knows; anything else passes as is. */
  private translate(err: unknown, data: Uint8Array): unknown {
    return (err as NatsError)?.code === ErrorCode.MaxPayloadExceeded ? new WirePayloadTooLargeError(data.byteLength, this.maxPayloadBytes()) : err;
  }
}

/** nats-server's status for a request nobody is subscribed to: 503 with an empty payload. */
function noResponders(msg: Msg): boolean {
  return msg.data.length === 0 && msg.headers?.code === 503;
}

