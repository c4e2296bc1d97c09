import type { SnapshotChunkMsg } from './messages.js';
import type { Snapshot, SnapshotTransfer } from './output.js';

/**
 * Sending side of a snapshot transfer: the encoded text of the current snapshot, cut into
 * `chunkChars` pieces on demand. The receiver pulls one chunk at a time (and resumes after loss).
 */
export class SnapshotSender {
  /** Encoded text of the current snapshot, computed at the first chunk asked for; null until then (or after `invalidate`). */
  private text: string | null = null;

  constructor(
    /** How a snapshot becomes text (the shell may add state kept outside `data`). */
    private readonly transfer: SnapshotTransfer,
    /** Max characters per chunk. */
    private readonly chunkChars: number,
  ) {}

  /** The snapshot changed: the cached text is stale. */
  invalidate(): void {
    this.text = null;
  }

  /** Chunk `chunk` of `snap`, or null if there is no such chunk. */
  chunk(snap: Snapshot, chunk: number): Omit<SnapshotChunkMsg, 'group' | 'from'> | null {
    this.text ??= this.transfer.encode(snap);
    const chunks = Math.max(1, Math.ceil(this.text.length / this.chunkChars));
    if (chunk < 0 || chunk >= chunks) return null;
    const data = this.text.slice(chunk * this.chunkChars, (chunk + 1) * this.chunkChars);
    return { type: 'snapshotChunk', upTo: snap.upTo, chunk, chunks, data };
  }
}

/** The snapshot being assembled from chunks. */
interface Incoming {
  /** The snapshot's index. */
  upTo: number;
  /** How many chunks it has. */
  chunks: number;
  /** Chunks received so far, in order. */
  parts: string[];
  /** Who sent the latest chunk: where the pull resumes. */
  from: string;
}

/** What the receiver should do after a chunk: nothing, pull the next one, or install the snapshot. */
export type ChunkOutcome = { kind: 'ignored' } | { kind: 'more' } | { kind: 'complete'; snapshot: Snapshot };

/** Receiving side of a snapshot transfer: assembles chunks in order, says what to pull next. */
export class SnapshotReceiver {
  /** The transfer in progress, or null. */
  private incoming: Incoming | null = null;

  constructor(
    /** How the assembled text becomes a Snapshot again. */
    private readonly transfer: SnapshotTransfer,
  ) {}

  /** Whether a transfer is in progress. */
  active(): boolean {
    return this.incoming !== null;
  }

  /** Drops a transfer the log overtook (the replica applied up to its index by other means). */
  dropIfCovered(appliedUpTo: number): void {
    if (this.incoming !== null && this.incoming.upTo <= appliedUpTo) this.incoming = null;
  }

  /** The request that resumes the transfer: who to ask, for which snapshot and chunk; null if none is in progress. */
  pull(): { from: string; upTo: number; chunk: number } | null {
    const inc = this.incoming;
    return inc === null ? null : { from: inc.from, upTo: inc.upTo, chunk: inc.parts.length };
  }

  /** Takes chunk `m` with every slot below `appliedUpTo` applied here. */
  receive(m: SnapshotChunkMsg, appliedUpTo: number): ChunkOutcome {
    this.dropIfCovered(appliedUpTo);
    if (m.upTo <= appliedUpTo) return { kind: 'ignored' };
    let inc = this.incoming;
    if (inc === null || inc.upTo !== m.upTo || inc.chunks !== m.chunks) {
      if (m.chunk !== 0 || (inc !== null && inc.upTo > m.upTo)) return { kind: 'ignored' };
      inc = this.incoming = { upTo: m.upTo, chunks: m.chunks, parts: [], from: m.from };
    }
    if (m.chunk !== inc.parts.length) return { kind: 'ignored' }; // duplicate or out of order: the pull resumes it
    inc.parts.push(m.data);
    inc.from = m.from;
    if (inc.parts.length < inc.chunks) return { kind: 'more' };
    this.incoming = null;
    return { kind: 'complete', snapshot: this.transfer.decode(inc.parts.join('')) };
  }
}
