import type { SnapshotChunkMsg } from './messages.js';
import type { Snapshot, SnapshotTransfer } from './output.js';

/**
 * Sending side of a snapshot transfer: the encoded text of the current snapshot, cut into
 * `chunkChars` pieces on demand. The receiver pulls one chunk at a time (and resumes after loss).
 */
export class SnapshotSender {
  /** Encoded text of the current snapshot, computed at the first chunk asked for; null until then (or after `invalidate`). */
  private text: string | null = null;
  /** Where each chunk of `text` starts. */
  private starts: number[] = [];

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
    if (this.text === null) {
      this.text = this.transfer.encode(snap);
      this.starts = chunkStarts(this.text, this.chunkChars);
    }
    const chunks = this.starts.length;
    if (chunk < 0 || chunk >= chunks) return null;
    const data = this.text.slice(this.starts[chunk], this.starts[chunk + 1] ?? this.text.length);
    return { type: 'snapshotChunk', upTo: snap.upTo, chunk, chunks, data };
  }
}

/**
 * Chunk boundaries of `text`, at most `chunkChars` apart, never between the two halves of a
 * surrogate pair: a lone half does not survive UTF-8 encoding on the wire.
 */
function chunkStarts(text: string, chunkChars: number): number[] {
  const starts = [0];
  for (let at = chunkChars; at < text.length; at += chunkChars) {
    const code = text.charCodeAt(at - 1);
    if (code >= 0xd800 && code <= 0xdbff && chunkChars > 1) at--;
    starts.push(at);
  }
  return starts;
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

  /** Drops the transfer in progress (its source is no longer the one to pull from). */
  abandon(): void {
    this.incoming = null;
  }

  /** The index of the chunk expected next, or null when no transfer is in progress. */
  nextChunk(): number | null {
    return this.incoming === null ? null : this.incoming.parts.length;
  }

  /** The request that resumes the transfer: who to ask, for which snapshot and chunk; null if none is in progress. */
  pull(): { from: string; upTo: number; chunk: number } | null {
    const inc = this.incoming;
    return inc === null ? null : { from: inc.from, upTo: inc.upTo, chunk: inc.parts.length };
  }

  /**
   * Takes chunk `m` with every slot below `appliedUpTo` applied here. A transfer starts only
   * from `source`, the peer this replica catches up from (nobody else can push one), and a
   * text that does not decode is dropped, not thrown.
   */
  receive(m: SnapshotChunkMsg, appliedUpTo: number, source: string | null): ChunkOutcome {
    this.dropIfCovered(appliedUpTo);
    if (m.upTo <= appliedUpTo) return { kind: 'ignored' };
    let inc = this.incoming;
    if (inc === null || inc.upTo !== m.upTo || inc.chunks !== m.chunks) {
      if (m.chunk !== 0 || m.from !== source || (inc !== null && inc.upTo > m.upTo)) return { kind: 'ignored' };
      inc = this.incoming = { upTo: m.upTo, chunks: m.chunks, parts: [], from: m.from };
    }
    if (m.chunk !== inc.parts.length) return { kind: 'ignored' }; // duplicate or out of order: the pull resumes it
    inc.parts.push(m.data);
    inc.from = m.from;
    if (inc.parts.length < inc.chunks) return { kind: 'more' };
    this.incoming = null;
    let snapshot: Snapshot;
    try {
      snapshot = this.transfer.decode(inc.parts.join(''));
    } catch {
      return { kind: 'ignored' }; // corrupt or hostile: the pull starts over at the next catch-up
    }
    if (snapshot.upTo !== inc.upTo) return { kind: 'ignored' };
    return { kind: 'complete', snapshot };
  }
}
