import type { ApplyEntry } from '@synod/paxos';

/** What the simulated state machine's snapshot holds. */
export interface SmSnapshot {
  upTo: number;
  hash: number;
  lastSeq: Array<[string, number]>;
}

/**
 * The simulated state machine of one group on one node: for each client key, the
 * highest command seq applied (what lease reads return), plus a running hash of
 * every applied slot and fresh command id, so two replicas at the same index can
 * be compared cheaply (snapshot + tail must equal applying every entry).
 */
export class SimStateMachine {
  upTo = 0;
  hash = 0x811c9dc5;
  readonly lastSeq = new Map<string, number>();

  apply(e: ApplyEntry): void {
    let h = mix(this.hash, e.slot);
    for (const c of e.commands) {
      for (let i = 0; i < c.id.length; i++) h = mix(h, c.id.charCodeAt(i));
      const p = c.payload as { client?: unknown; seq?: unknown } | null;
      if (p && typeof p.client === 'string' && typeof p.seq === 'number') {
        this.lastSeq.set(p.client, Math.max(this.lastSeq.get(p.client) ?? 0, p.seq));
      }
    }
    if (e.value.kind === 'config') h = mix(h, 0xc0f1);
    this.hash = h;
    this.upTo = e.slot + 1;
  }

  read(key: string): number {
    return this.lastSeq.get(key) ?? 0;
  }

  export(): SmSnapshot {
    return { upTo: this.upTo, hash: this.hash, lastSeq: [...this.lastSeq].sort((a, b) => (a[0] < b[0] ? -1 : 1)) };
  }

  /** Restores from a snapshot the replica says covers slots below `upTo`. */
  static restore(data: unknown, upTo: number): SimStateMachine {
    const s = data as SmSnapshot;
    const sm = new SimStateMachine();
    sm.upTo = upTo;
    sm.hash = s.hash;
    for (const [k, v] of s.lastSeq) sm.lastSeq.set(k, v);
    return sm;
  }
}

function mix(h: number, x: number): number {
  return Math.imul(h ^ x, 0x01000193) >>> 0;
}
