import type { Command } from '@synod/paxos';
import type { History } from './checkers.js';
import { describePayload, type SimPayload } from './messages.js';
import type { SimNetwork } from './network.js';
import type { Prng } from './prng.js';
import type { Scheduler } from './scheduler.js';

export interface ClientTiming {
  timeoutUs: number;
  thinkMaxUs: number;
}

/**
 * A client issuing one command at a time to one group. It retries on timeout
 * or NOT_LEADER with the same command id, so every retry exercises
 * exactly-once application.
 */
export class SimClient {
  private seq = 0;
  private current: { cmd: Command; attempt: number; issuedAtUs: number } | null = null;
  private target: number;
  private stopped = false;
  acked = 0;

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
  ) {
    this.target = rng.int(replicas.length);
    net.register(id, dc, (_from, payload) => this.receive(payload as SimPayload));
  }

  start(): void {
    this.sched.after(this.rng.int(this.timing.thinkMaxUs + 1), () => this.issueNext());
  }

  /** No new commands after this; the outstanding one keeps being retried. */
  stopIssuing(): void {
    this.stopped = true;
  }

  get pending(): Command | null {
    return this.current?.cmd ?? null;
  }

  private issueNext(): void {
    if (this.stopped || this.current) return;
    this.seq++;
    const cmd: Command = { id: `${this.id}:${this.seq}`, payload: { client: this.id, seq: this.seq } };
    this.history.recordProposed(cmd);
    this.current = { cmd, attempt: 0, issuedAtUs: this.sched.nowUs };
    this.trace(`${this.id} issue ${cmd.id}`);
    this.sendCurrent();
  }

  private sendCurrent(): void {
    const cur = this.current;
    if (!cur) return;
    const attempt = ++cur.attempt;
    const to = this.replicas[this.target % this.replicas.length]!;
    const payload: SimPayload = { kind: 'propose', group: this.group, cmd: cur.cmd };
    this.net.send(this.id, to, payload, describePayload(payload));
    this.sched.after(this.timing.timeoutUs, () => {
      if (this.current === cur && cur.attempt === attempt) {
        this.trace(`${this.id} timeout ${cur.cmd.id}`);
        this.target++;
        this.sendCurrent();
      }
    });
  }

  private receive(p: SimPayload): void {
    const cur = this.current;
    if (p.kind !== 'reply' || !cur || p.id !== cur.cmd.id) return;
    if (p.ok) {
      this.acked++;
      this.current = null;
      this.trace(`${this.id} ack ${p.id}`);
      this.sched.after(this.rng.int(this.timing.thinkMaxUs + 1), () => this.issueNext());
      return;
    }
    const hinted = p.leaderHint === null ? -1 : this.replicas.indexOf(p.leaderHint);
    this.target = hinted >= 0 ? hinted : this.target + 1;
    const attempt = cur.attempt;
    // Without a hint there may be an election in progress: give it a moment.
    const delay = hinted >= 0 ? 0 : this.timing.timeoutUs / 4;
    this.sched.after(delay, () => {
      if (this.current === cur && cur.attempt === attempt) this.sendCurrent();
    });
  }
}
