import type { MessageKind } from '@synod/codec';
import { MAX_BATCH_FRAMES, MAX_OUTBOX_PEERS } from '@synod/limits';
import { BATCH_FRAME_OVERHEAD_BYTES, BATCH_HEADER_BYTES } from './batch-frame.js';

/** One encoded message waiting for its batch; the kind is kept for the per-kind failure counters. */
export interface OutFrame {
  kind: MessageKind;
  bytes: Uint8Array;
}

export interface OutboxOptions<F extends { bytes: Uint8Array } = OutFrame> {
  /** Publishes one destination's frames, in the order they were added. Must not throw. */
  publish(to: string, frames: F[]): void;
  /** Runs `fn` once after the current event-loop turn (the bus: setImmediate); returns its cancel. */
  schedule(fn: () => void): () => void;
  /** Bytes of framing in front of each frame (default: a peer batch's length prefix; a tagged batch's id and length). */
  frameOverheadBytes?: number;
}

interface Queue<F> {
  frames: F[];
  /** The batch's encoded size so far, framing included. */
  bytes: number;
}

/**
 * Per-destination queues of frames (the bus's one-way peer messages; NatsWire's batched requests
 * and replies, docs/transport.md "Request batching"), flushed as one publish per destination once
 * the event-loop turn that queued them ends (docs/transport.md "Coalescing"). Bounded three ways:
 * a queue that would pass MAX_BATCH_FRAMES frames or the byte budget is published first, and a
 * new destination beyond MAX_OUTBOX_PEERS flushes every queue first.
 */
export class Outbox<F extends { bytes: Uint8Array } = OutFrame> {
  private queues = new Map<string, Queue<F>>();
  private cancelScheduled: (() => void) | undefined;
  private readonly overhead: number;

  constructor(private readonly opts: OutboxOptions<F>) {
    this.overhead = opts.frameOverheadBytes ?? BATCH_FRAME_OVERHEAD_BYTES;
  }

  /** Destinations with frames queued. */
  get peers(): number {
    return this.queues.size;
  }

  /** Frames queued for `to`. */
  queued(to: string): number {
    return this.queues.get(to)?.frames.length ?? 0;
  }

  /**
   * Queues `frame` for `to`, in batches of at most `budgetBytes` encoded. Returns false, queuing
   * nothing, when the frame could not fit even in a batch of its own: the caller flushes `to` and
   * sends it alone, so it still follows what was queued before it.
   */
  add(to: string, frame: F, budgetBytes: number): boolean {
    const cost = this.overhead + frame.bytes.byteLength;
    if (BATCH_HEADER_BYTES + cost > budgetBytes) return false;
    let q = this.queues.get(to);
    if (q && (q.frames.length >= MAX_BATCH_FRAMES || q.bytes + cost > budgetBytes)) {
      this.flush(to);
      q = undefined;
    }
    if (!q) {
      if (this.queues.size >= MAX_OUTBOX_PEERS) this.flushAll();
      q = { frames: [], bytes: BATCH_HEADER_BYTES };
      this.queues.set(to, q);
    }
    q.frames.push(frame);
    q.bytes += cost;
    this.cancelScheduled ??= this.opts.schedule(() => {
      this.cancelScheduled = undefined;
      this.flushAll();
    });
    return true;
  }

  /** Publishes `to`'s queue now: before anything else is sent to `to`, so nothing overtakes it. */
  flush(to: string): void {
    const q = this.queues.get(to);
    if (!q) return;
    this.queues.delete(to);
    this.opts.publish(to, q.frames);
  }

  /** Publishes every queue, destinations in the order their first frame was queued. */
  flushAll(): void {
    this.cancel();
    const queues = this.queues;
    this.queues = new Map();
    for (const [to, q] of queues) this.opts.publish(to, q.frames);
  }

  /** Forgets every queued frame without sending it; returns how many there were. */
  discard(): number {
    this.cancel();
    let n = 0;
    for (const q of this.queues.values()) n += q.frames.length;
    this.queues.clear();
    return n;
  }

  private cancel(): void {
    this.cancelScheduled?.();
    this.cancelScheduled = undefined;
  }
}
