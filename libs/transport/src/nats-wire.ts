import { ErrorCode, connect, type ConnectionOptions, type NatsConnection, type NatsError } from 'nats';
import { WireNoRespondersError, WireTimeoutError, type Wire, type WireHandler } from './wire.js';

export class NatsWire implements Wire {
  private constructor(readonly nc: NatsConnection) {}

  static async connect(servers: string, opts: Omit<ConnectionOptions, 'servers'> = {}): Promise<NatsWire> {
    // Reconnect forever: a NATS restart must not kill a replica.
    const nc = await connect({ servers, maxReconnectAttempts: -1, reconnectTimeWait: 250, ...opts });
    return new NatsWire(nc);
  }

  publish(subject: string, data: Uint8Array): void {
    this.nc.publish(subject, data);
  }

  async request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    try {
      const msg = await this.nc.request(subject, data, { timeout: timeoutMs });
      return msg.data;
    } catch (err) {
      const code = (err as NatsError).code;
      if (code === ErrorCode.NoResponders) throw new WireNoRespondersError(subject);
      if (code === ErrorCode.Timeout) throw new WireTimeoutError(subject);
      throw err;
    }
  }

  subscribe(subject: string, handler: WireHandler): () => void {
    const sub = this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return;
        handler(msg.data, msg.reply ? (d) => void msg.respond(d) : undefined);
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
}
