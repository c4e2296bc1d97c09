import type { ReplicaConfig } from '../config.js';
import type { PaxosMessage } from '../messages.js';
import type { PeerLiveness } from '../liveness.js';
import type { ApplyEntry, DurableState, Ready } from '../output.js';
import { Replica } from '../replica.js';
import type { Rng } from '../rng.js';
import type { Command } from '../value.js';

/** Deterministic Rng for unit tests (a linear congruential generator). */
export function testRng(seed = 1): Rng {
  let x = seed >>> 0 || 1;
  return {
    next() {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      return x / 2 ** 32;
    },
  };
}

export function baseConfig(self: string, peers: string[], extra: Partial<ReplicaConfig> = {}): ReplicaConfig {
  return {
    group: 'g',
    self,
    peers,
    heartbeatIntervalUs: 10_000,
    electionTimeoutUs: 100_000,
    ...extra,
  };
}

/**
 * A tiny lossless in-memory group for unit tests: messages are queued and
 * delivered in FIFO order when `deliverAll` is called; `drop` filters them.
 */
export class Harness {
  readonly replicas = new Map<string, Replica>();
  readonly applied = new Map<string, ApplyEntry[]>();
  readonly inbox: Array<{ to: string; msg: PaxosMessage }> = [];
  readonly readies: Array<{ node: string; ready: Ready }> = [];
  now = 0;
  drop: (to: string, msg: PaxosMessage) => boolean = () => false;

  constructor(
    readonly ids: string[],
    extra: Partial<ReplicaConfig> = {},
    durable: Record<string, DurableState> = {},
    liveness?: (self: string) => PeerLiveness,
  ) {
    ids.forEach((id, i) => {
      const opts = { ...(durable[id] ? { durable: durable[id] } : {}), ...(liveness ? { liveness: liveness(id) } : {}) };
      this.replicas.set(id, new Replica(baseConfig(id, ids, extra), testRng(i + 1), opts));
      this.applied.set(id, []);
    });
  }

  get(id: string): Replica {
    const r = this.replicas.get(id);
    if (!r) throw new Error(`no replica ${id}`);
    return r;
  }

  absorb(node: string, ready: Ready): Ready {
    this.readies.push({ node, ready });
    // Persists are instant here: early Accepts, the rest, then what the replica sent itself.
    for (const o of [...(ready.sendEarly ?? []), ...ready.send]) if (!this.drop(o.to, o.msg)) this.inbox.push(o);
    this.applied.get(node)?.push(...ready.apply);
    for (const msg of ready.local ?? []) this.inbox.push({ to: node, msg });
    return ready;
  }

  tick(node: string, nowUs = this.now): Ready {
    this.now = Math.max(this.now, nowUs);
    return this.absorb(node, this.get(node).tick(this.now));
  }

  propose(node: string, cmds: Command[]): Ready {
    return this.absorb(node, this.get(node).propose(cmds, this.now));
  }

  deliverAll(limit = 10_000): void {
    for (let i = 0; this.inbox.length > 0; i++) {
      if (i >= limit) throw new Error('message storm');
      const { to, msg } = this.inbox.shift()!;
      const r = this.replicas.get(to);
      if (r) this.absorb(to, r.step(msg, this.now));
    }
  }

  /** Fires `node`'s election timer and runs the protocol to quiescence. */
  elect(node: string): void {
    this.now += 1_000_000;
    this.tick(node);
    this.deliverAll();
  }

  appliedCommandIds(node: string): string[] {
    return (this.applied.get(node) ?? []).flatMap((e) => e.commands.map((c) => c.id));
  }
}

export function cmd(id: string, payload: unknown = id): Command {
  return { id, payload };
}

/** Every message a Ready sends to others: its early Accepts, then the rest. */
export function outbound(ready: Ready): Array<{ to: string; msg: PaxosMessage }> {
  return ready.sendEarly === undefined ? ready.send : [...ready.sendEarly, ...ready.send];
}
