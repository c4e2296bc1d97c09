import type { Socket } from 'node:net';
import { ErrorCode, connect, createInbox, type ConnectionOptions, type Msg, type NatsConnection, type NatsError, type Subscription } from 'nats';
import { WireNoRespondersError, WirePayloadTooLargeError, WireTimeoutError, WireTooManyRequestsError, type Wire, type WireHandler, type WireRefusal } from './wire.js';

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
}

export class NatsWire implements Wire {
  private readonly refusalListeners = new Set<(r: WireRefusal) => void>();
  /** Refusals before anyone listened (at most a few: the bus listens as soon as it exists). */
  private readonly earlyRefusals: WireRefusal[] = [];

  /** The socket held corked for this event-loop turn, if any (see holdWrites). */
  private corked: Socket | undefined;

  /** `<inbox>.`: every reply to this wire's requests arrives on it plus a token (see request). */
  private replyPrefix: string | undefined;
  private replySub: Subscription | undefined;
  private readonly pending = new Map<string, Pending>();
  private nextToken = 0;

  private constructor(
    readonly nc: NatsConnection,
    /** The prefix the server lets this connection subscribe replies under (a client credential's `_INBOX_<user>`). */
    private readonly inboxPrefix: string | undefined,
    private readonly maxPending: number,
  ) {
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

  static async connect(servers: string, opts: Omit<ConnectionOptions, 'servers'> = {}, wire: { maxPendingRequests?: number } = {}): Promise<NatsWire> {
    // Reconnect forever: a NATS restart must not kill a replica.
    const nc = await connect({ servers, maxReconnectAttempts: -1, reconnectTimeWait: 250, ...opts });
    return new NatsWire(nc, opts.inboxPrefix, wire.maxPendingRequests ?? MAX_PENDING_REQUESTS);
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
    setImmediate(() => this.endTurn());
  }

  endTurn(): void {
    const socket = this.corked;
    if (!socket) return;
    this.corked = undefined;
    socket.uncork();
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
    const token = (this.nextToken++).toString(36);
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending.delete(token)) reject(new WireTimeoutError(subject));
      }, timeoutMs);
      this.pending.set(token, { subject, resolve, reject, timer });
      this.holdWrites();
      try {
        this.nc.publish(subject, data, { reply: prefix + token });
      } catch (err) {
        clearTimeout(timer);
        this.pending.delete(token);
        reject(this.translate(err, data));
      }
    });
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
        this.replied(msg.subject.slice(prefix.length), msg);
      },
    });
    this.replySub = sub;
    this.replyPrefix = prefix;
    return prefix;
  }

  private replied(token: string, msg: Msg): void {
    const p = this.pending.get(token);
    // A reply after its request timed out (or a second one): nobody waits for it.
    if (!p) return;
    this.pending.delete(token);
    clearTimeout(p.timer);
    if (msg.data.length === 0 && msg.headers?.code === 503) p.reject(new WireNoRespondersError(p.subject));
    else p.resolve(msg.data);
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
        handler(
          msg.data,
          msg.reply
            ? (d) => {
                this.holdWrites();
                try {
                  msg.respond(d);
                } catch (e) {
                  throw this.translate(e, d);
                }
              }
            : undefined,
          msg.subject,
        );
      },
    });
    return () => sub.unsubscribe();
  }

  flush(): Promise<void> {
    return this.nc.flush();
  }

  async close(): Promise<void> {
    if (!this.nc.isClosed()) await this.nc.drain();
  }

  /** NATS's size refusal becomes the wire-neutral error the bus knows; anything else passes as is. */
  private translate(err: unknown, data: Uint8Array): unknown {
    return (err as NatsError)?.code === ErrorCode.MaxPayloadExceeded ? new WirePayloadTooLargeError(data.byteLength, this.maxPayloadBytes()) : err;
  }
}
