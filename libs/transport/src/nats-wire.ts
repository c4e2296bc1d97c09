import type { Socket } from 'node:net';
import { ErrorCode, connect, type ConnectionOptions, type NatsConnection, type NatsError } from 'nats';
import { WireNoRespondersError, WirePayloadTooLargeError, WireTimeoutError, type Wire, type WireHandler, type WireRefusal } from './wire.js';

/** Where nats.js 2.x keeps its socket (not public API: nats-wire.test.ts checks the path still leads to one). */
interface NatsInternals {
  protocol?: { transport?: { socket?: Socket } };
}

/** nats-server's own default max_payload: assumed while no server INFO is known (before the first connect). */
const NATS_DEFAULT_MAX_PAYLOAD = 1024 * 1024;

export class NatsWire implements Wire {
  private readonly refusalListeners = new Set<(r: WireRefusal) => void>();
  /** Refusals before anyone listened (at most a few: the bus listens as soon as it exists). */
  private readonly earlyRefusals: WireRefusal[] = [];

  /** The socket held corked for this event-loop turn, if any (see holdWrites). */
  private corked: Socket | undefined;

  private constructor(readonly nc: NatsConnection) {
    // The status iterator ends when the connection closes; a failure of it would hide refusals, so it is reported.
    this.watchStatus().catch((err: unknown) => process.stderr.write(`synod: NATS status watcher failed; refused publishes will go unreported: ${(err as Error)?.stack ?? String(err)}\n`));
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

  static async connect(servers: string, opts: Omit<ConnectionOptions, 'servers'> = {}): Promise<NatsWire> {
    // Reconnect forever: a NATS restart must not kill a replica.
    const nc = await connect({ servers, maxReconnectAttempts: -1, reconnectTimeWait: 250, ...opts });
    return new NatsWire(nc);
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

  async request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    this.holdWrites();
    try {
      const msg = await this.nc.request(subject, data, { timeout: timeoutMs });
      return msg.data;
    } catch (err) {
      const code = (err as NatsError).code;
      if (code === ErrorCode.NoResponders) throw new WireNoRespondersError(subject);
      if (code === ErrorCode.Timeout) throw new WireTimeoutError(subject);
      throw this.translate(err, data);
    }
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
