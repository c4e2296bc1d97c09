/**
 * The raw byte pipe under the bus: subjects, publish, subscribe, request/reply. Two
 * implementations: NATS for real processes, in-memory for tests. Everything synod-specific
 * (envelopes, validation, simulated DCs) lives above this line, once, in the bus.
 */
export type Respond = (data: Uint8Array) => void;
export type WireHandler = (data: Uint8Array, respond: Respond | undefined) => void;

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

export interface Wire {
  publish(subject: string, data: Uint8Array): void;
  /** Rejects with WireTimeoutError or WireNoRespondersError. */
  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  subscribe(subject: string, handler: WireHandler): () => void;
  flush(): Promise<void>;
  close(): Promise<void>;
}
