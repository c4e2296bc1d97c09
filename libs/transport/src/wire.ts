/**
 * The raw byte pipe under the bus: subjects, publish, subscribe, request/reply. Two
 * implementations: NATS for real processes, in-memory for tests. Everything synod-specific
 * (envelopes, validation, simulated DCs) lives above this line, once, in the bus.
 */
/** Sends a reply; throws like `Wire.publish` does. */
export type Respond = (data: Uint8Array) => void;
/** `subject` is the message's own subject (what a wildcard subscription matched). */
export type WireHandler = (data: Uint8Array, respond: Respond | undefined, subject: string) => void;

export class WireTimeoutError extends Error {
  constructor(subject: string) {
    super(`request on ${subject} timed out`);
    this.name = 'WireTimeoutError';
  }
}
export class WireNoRespondersError extends Error {
  constructor(subject: string) {
    super(`no process is listening on ${subject}`);
    this.name = 'WireNoRespondersError';
  }
}

/** The payload is larger than the wire's max payload (NATS: MAX_PAYLOAD_EXCEEDED). */
export class WirePayloadTooLargeError extends Error {
  constructor(
    readonly bytes: number,
    readonly maxPayloadBytes: number,
  ) {
    super(`payload of ${bytes} bytes exceeds the max payload of ${maxPayloadBytes}`);
    this.name = 'WirePayloadTooLargeError';
  }
}

/** A wire refused a request because too many are already waiting for replies (a bounded table). */
export class WireTooManyRequestsError extends Error {
  constructor(readonly limit: number) {
    super(`${limit} requests are already waiting for replies on this connection`);
    this.name = 'WireTooManyRequestsError';
  }
}

/** The server refused an operation of this connection (NATS: a permissions violation, docs/transport.md "Credentials"). */
export interface WireRefusal {
  operation: 'publish' | 'subscription';
  subject: string;
}

/** What a wire's request batching did (docs/transport.md "Request batching"). */
export interface RequestBatchStats {
  /** Batches of requests published, and the requests they carried. */
  batchesOut: number;
  framesOut: number;
  /** Batches of requests received, and the requests they carried. */
  batchesIn: number;
  framesIn: number;
  /** Replies to batched requests that could not be published (the connection closed): lost in transit. */
  repliesLost: number;
  /** Replies on a batch's subject that were not a well-formed batch: dropped. */
  badReplies: number;
}

export interface Wire {
  /**
   * Tells `listener` of every operation the server refused (NATS reports a refused publish
   * asynchronously, after `publish` returned). Wires without permissions never call it.
   */
  onRefused?(listener: (r: WireRefusal) => void): void;
  /**
   * The largest payload the wire carries, in bytes (NATS: the server's max_payload). The bus
   * checks every message against it before publishing, because a wire refuses a larger one
   * by throwing synchronously.
   */
  maxPayloadBytes(): number;
  /** Throws WirePayloadTooLargeError over maxPayloadBytes(), and whatever the wire throws when closed. */
  publish(subject: string, data: Uint8Array): void;
  /** Rejects with WireTimeoutError, WireNoRespondersError or WirePayloadTooLargeError. */
  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  subscribe(subject: string, handler: WireHandler): () => void;
  /**
   * A wire may hold this turn's writes back to send them together once the turn's callbacks
   * have run (NATS: one socket write instead of one per callback). endTurn sends what it holds
   * now; the bus calls it after its own end-of-turn flush, so queued peer messages are not
   * held into the next loop iteration.
   */
  endTurn?(): void;
  flush(): Promise<void>;
  close(): Promise<void>;
  /** Counters of request batching, on a wire that batches (NatsWire); the bus exports them as metrics. */
  readonly batchStats?: RequestBatchStats;
}
