import { NATS_MAX_PAYLOAD_BYTES } from '@synod/limits';
import { WireNoRespondersError, WirePayloadTooLargeError, WireTimeoutError, type Respond, type Wire, type WireHandler } from './wire.js';

export interface MemoryHubOptions {
  /** Largest payload, like a NATS server's max_payload (default: what synod configures NATS with). */
  maxPayloadBytes?: number;
}

/** How long deliveries may chain as microtasks before the rest wait for a later event-loop turn. */
export const MICROTASK_TURN_MS = 5;

/**
 * An in-process message hub with NATS subject semantics, including the `*` (one token) and
 * `>` (the rest) wildcards the bus subscribes with (a node's peer inbox, docs/transport.md):
 * every matching subscriber gets every message, asynchronously, in publish order. Like a
 * NATS connection, its wires throw synchronously on a payload over the max, so tests over it
 * meet the same failure a real process does.
 *
 * Messages and replies arrive as microtasks, but once deliveries have run for
 * MICROTASK_TURN_MS without the event loop turning, the rest arrive in later turns
 * (setImmediate), as a socket read would: a request answered at once would otherwise make a
 * client's request loop one endless microtask chain that starves every timer and I/O callback
 * of the process (leases lapsed for half a second at a time in spanserver.test.ts).
 */
export class MemoryHub {
  private readonly subs = new Map<string, Set<WireHandler>>();
  readonly maxPayloadBytes: number;
  /** Deliveries waiting for a later turn, in publish order. */
  private queue: Array<() => void> = [];
  private scheduled = false;
  /** When deliveries began in this turn of the event loop; null until one does. */
  private turnStartMs: number | null = null;

  constructor(opts: MemoryHubOptions = {}) {
    this.maxPayloadBytes = opts.maxPayloadBytes ?? NATS_MAX_PAYLOAD_BYTES;
  }

  wire(): Wire {
    return new MemoryWire(this);
  }

  /** @internal */
  subscribe(subject: string, h: WireHandler): () => void {
    let set = this.subs.get(subject);
    if (!set) this.subs.set(subject, (set = new Set()));
    set.add(h);
    return () => set!.delete(h);
  }

  /** @internal */
  checkSize(data: Uint8Array): void {
    if (data.byteLength > this.maxPayloadBytes) throw new WirePayloadTooLargeError(data.byteLength, this.maxPayloadBytes);
  }

  /** @internal */
  deliver(subject: string, data: Uint8Array, respond: Respond | undefined): number {
    this.checkSize(data);
    const handlers: WireHandler[] = [];
    for (const [pattern, set] of this.subs) if (set.size > 0 && subjectMatches(pattern, subject)) handlers.push(...set);
    for (const h of handlers) {
      const copy = data.slice();
      this.enqueue(() => h(copy, respond, subject));
    }
    return handlers.length;
  }

  /** @internal Runs `fn` after everything enqueued before it: a microtask, or a later turn once this one is spent. */
  enqueue(fn: () => void): void {
    if (this.queue.length === 0 && this.turnLasts()) {
      queueMicrotask(fn);
      return;
    }
    this.queue.push(fn);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.drain);
  }

  /** Whether deliveries in this event-loop turn have run for less than MICROTASK_TURN_MS. */
  private turnLasts(): boolean {
    const now = performance.now();
    if (this.turnStartMs === null) {
      this.turnStartMs = now;
      setImmediate(() => (this.turnStartMs = null));
    }
    return now - this.turnStartMs < MICROTASK_TURN_MS;
  }

  /** Runs what was queued, in order; what those deliveries publish goes by the same rule as any delivery. */
  private readonly drain = (): void => {
    const batch = this.queue;
    this.queue = [];
    this.scheduled = false;
    let i = 0;
    try {
      for (; i < batch.length; i++) batch[i]!();
    } finally {
      // A handler that threw (an uncaught error, as a listener's would be) loses no other delivery.
      if (i + 1 < batch.length) this.queue = batch.slice(i + 1).concat(this.queue);
      if (this.queue.length > 0 && !this.scheduled) {
        this.scheduled = true;
        setImmediate(this.drain);
      }
    }
  };
}

/** NATS matching: `*` matches one token, a final `>` one or more. */
export function subjectMatches(pattern: string, subject: string): boolean {
  if (pattern === subject) return true;
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return i === p.length - 1 && s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

class MemoryWire implements Wire {
  private readonly unsubs = new Set<() => void>();
  private closed = false;
  constructor(private readonly hub: MemoryHub) {}

  maxPayloadBytes(): number {
    return this.hub.maxPayloadBytes;
  }

  publish(subject: string, data: Uint8Array): void {
    if (!this.closed) this.hub.deliver(subject, data, undefined);
  }

  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        done = true;
        reject(new WireTimeoutError(subject));
      }, timeoutMs);
      const respond: Respond = (reply) => {
        // The responder's publish of its reply is what NATS would refuse.
        this.hub.checkSize(reply);
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.hub.enqueue(() => resolve(reply));
      };
      let listeners: number;
      try {
        listeners = this.hub.deliver(subject, data, respond);
      } catch (err) {
        clearTimeout(timer);
        reject(err);
        return;
      }
      if (listeners === 0) {
        clearTimeout(timer);
        reject(new WireNoRespondersError(subject));
      }
    });
  }

  subscribe(subject: string, handler: WireHandler): () => void {
    const off = this.hub.subscribe(subject, handler);
    this.unsubs.add(off);
    return () => {
      off();
      this.unsubs.delete(off);
    };
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
    for (const off of this.unsubs) off();
    this.unsubs.clear();
  }
}
