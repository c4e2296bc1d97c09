import type { Command } from '@synod/paxos';
import type { History } from './checkers.js';
import { describePayload, type SimPayload } from './messages.js';
import type { SimNetwork } from './network.js';
import type { Prng } from './prng.js';
import type { Scheduler } from './scheduler.js';

export interface ClientTiming {
  timeoutUs: number;
  thinkMaxUs: number;
  /** Probability that the next operation is a lease read rather than a write. */
  readRatio: number;
  /** Each write carries 0..padMaxBytes of padding, so that message byte budgets bind. */
  padMaxBytes: number;
  /** No new operation in the first lullUs of every lullEveryUs (0: never): the groups go idle. */
  lullEveryUs?: number;
  lullUs?: number;
}

type Op =
  | { kind: 'write'; id: string; cmd: Command; attempt: number }
  | { kind: 'read'; id: string; key: string; ackedAtStart: number; attempt: number };

/**
 * A client issuing one operation at a time to one group. Writes are retried on
 * timeout or NOT_LEADER with the same command id, so every retry exercises
 * exactly-once application. Reads (lease reads of another client's key) are
 * retried until a leader serves one under its lease.
 */
export class SimClient {
  private seq = 0;
  private reads = 0;
  private current: Op | null = null;
  private target: number;
  private stopped = false;
  acked = 0;
  readsServed = 0;

  constructor(
    readonly id: string,
    readonly dc: string,
    private readonly group: string,
    private readonly replicas: readonly string[],
    private readonly sched: Scheduler,
    private readonly net: SimNetwork,
    private readonly rng: Prng,
    private readonly history: History,
    private readonly timing: ClientTiming,
    private readonly trace: (line: string) => void,
    /** Keys (client ids of the group) this client may read. */
    private readonly keys: readonly string[] = [],
  ) {
    this.target = rng.int(replicas.length);
    net.register(id, dc, (_from, payload) => this.receive(payload as SimPayload));
  }

  start(): void {
    this.sched.after(this.rng.int(this.timing.thinkMaxUs + 1), () => this.issueNext());
  }

  /** No new operations after this; the outstanding one keeps being retried. */
  stopIssuing(): void {
    this.stopped = true;
  }

  get pending(): { id: string } | null {
    return this.current;
  }

  private issueNext(): void {
    if (this.stopped || this.current) return;
    const every = this.timing.lullEveryUs ?? 0;
    const lull = this.timing.lullUs ?? 0;
    if (every > 0 && this.sched.nowUs % every < lull) {
      this.sched.after(lull - (this.sched.nowUs % every), () => this.issueNext());
      return;
    }
    if (this.keys.length > 0 && this.rng.chance(this.timing.readRatio)) {
      this.reads++;
      const key = this.rng.pick(this.keys);
      this.current = { kind: 'read', id: `${this.id}:r${this.reads}`, key, ackedAtStart: this.history.ackedSeq(key), attempt: 0 };
      this.trace(`${this.id} read ${this.current.id} ${key}`);
    } else {
      this.seq++;
      const pad = this.timing.padMaxBytes > 0 ? this.rng.int(this.timing.padMaxBytes + 1) : 0;
      const payload = pad > 0 ? { client: this.id, seq: this.seq, pad: 'p'.repeat(pad) } : { client: this.id, seq: this.seq };
      const cmd: Command = { id: `${this.id}:${this.seq}`, payload };
      this.history.recordProposed(cmd);
      this.history.recordIssued(this.id, this.seq);
      this.current = { kind: 'write', id: cmd.id, cmd, attempt: 0 };
      this.trace(`${this.id} issue ${cmd.id}`);
    }
    this.sendCurrent();
  }

  private sendCurrent(): void {
    const cur = this.current;
    if (!cur) return;
    const attempt = ++cur.attempt;
    const to = this.replicas[this.target % this.replicas.length]!;
    const payload: SimPayload =
      cur.kind === 'write'
        ? { kind: 'propose', group: this.group, cmd: cur.cmd }
        : { kind: 'read', group: this.group, id: cur.id, key: cur.key };
    this.net.send(this.id, to, payload, describePayload(payload));
    this.sched.after(this.timing.timeoutUs, () => {
      if (this.current === cur && cur.attempt === attempt) {
        this.trace(`${this.id} timeout ${cur.id}`);
        this.target++;
        this.sendCurrent();
      }
    });
  }

  private done(): void {
    this.current = null;
    this.sched.after(this.rng.int(this.timing.thinkMaxUs + 1), () => this.issueNext());
  }

  private receive(p: SimPayload): void {
    const cur = this.current;
    if ((p.kind !== 'reply' && p.kind !== 'readReply') || !cur || p.id !== cur.id) return;
    if (p.ok) {
      if (cur.kind === 'write') {
        this.acked++;
        this.history.recordAcked(this.id, this.seq, cur.id);
        this.trace(`${this.id} ack ${p.id}`);
      } else if (p.kind === 'readReply') {
        this.readsServed++;
        this.trace(`${this.id} read-ok ${p.id} ${cur.key}=${p.value}`);
        this.history.checkRead(this.group, this.id, cur.key, p.value, cur.ackedAtStart);
      }
      this.done();
      return;
    }
    const hinted = p.leaderHint === null ? -1 : this.replicas.indexOf(p.leaderHint);
    this.target = hinted >= 0 ? hinted : this.target + 1;
    const attempt = cur.attempt;
    // Without a hint there may be an election in progress: give it a moment. A leader
    // hinting at itself has no lease yet: also wait.
    const delay = hinted >= 0 && !(cur.kind === 'read' && attempt > 1) ? 0 : this.timing.timeoutUs / 4;
    this.sched.after(delay, () => {
      if (this.current === cur && cur.attempt === attempt) this.sendCurrent();
    });
  }
}
