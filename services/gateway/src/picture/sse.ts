/**
 * Server-sent events to the picture's pages (docs/picture.md): at most `maxClients` streams; each
 * client's send queue is its socket's write buffer, bounded in bytes: a client that falls more
 * than `maxQueueBytes` behind is dropped and counted (the page reconnects and gets the newest).
 */
import type { ServerResponse } from 'node:http';

export const SSE_DEFAULTS = {
  maxClients: 32,
  /** About eight full snapshots (five minutes of samples each). */
  maxQueueBytes: 256 * 1024,
} as const;

/** The part of a response a stream writes to (a ServerResponse in the gateway, a fake in tests). */
export type SseSink = Pick<ServerResponse, 'write' | 'end' | 'destroy' | 'once' | 'writableLength'>;

export class SseHub {
  private readonly clients = new Set<SseSink>();
  /** Clients dropped for falling behind, and streams refused for the client limit. */
  dropped = 0;
  refused = 0;

  constructor(
    readonly maxClients: number = SSE_DEFAULTS.maxClients,
    readonly maxQueueBytes: number = SSE_DEFAULTS.maxQueueBytes,
  ) {}

  get size(): number {
    return this.clients.size;
  }

  /** Takes a stream whose headers were sent; false (and counted) when the hub is full. */
  add(sink: SseSink): boolean {
    if (this.clients.size >= this.maxClients) {
      this.refused++;
      return false;
    }
    this.clients.add(sink);
    sink.once('close', () => this.clients.delete(sink));
    return true;
  }

  /** Sends one event to every client; drops those already too far behind. */
  send(event: string, data: unknown): void {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const c of this.clients) this.sendTo(c, frame);
  }

  /** Sends one event to one client (the newest snapshot when it connects). */
  sendOne(sink: SseSink, event: string, data: unknown): void {
    this.sendTo(sink, `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** Ends every stream (the gateway is closing). */
  closeAll(): void {
    for (const c of this.clients) c.end();
    this.clients.clear();
  }

  private sendTo(c: SseSink, frame: string): void {
    if (c.writableLength + Buffer.byteLength(frame) > this.maxQueueBytes) {
      this.dropped++;
      this.clients.delete(c);
      c.destroy();
      return;
    }
    c.write(frame);
  }
}
