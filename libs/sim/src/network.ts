import { sizeBound } from '@synod/limits';
import type { Prng } from './prng.js';
import type { Scheduler } from './scheduler.js';

export interface NetworkFaults {
  lossProb: number;
  dupProb: number;
  /** Uniform extra delay in [0, jitterUs): reorders messages. */
  jitterUs: number;
  /** Occasional very late delivery (a stuck queue, a retransmit): probability and delay. */
  longDelayProb: number;
  longDelayUs: number;
}

export const NO_NETWORK_FAULTS: NetworkFaults = {
  lossProb: 0,
  dupProb: 0,
  jitterUs: 0,
  longDelayProb: 0,
  longDelayUs: 0,
};

/**
 * Datacenter-aware lossy network. Latency depends on the (from DC, to DC)
 * pair; partitions are per direction, so one-way cuts are just one entry.
 * A message is dropped if its direction is cut when sent or when it lands.
 */
export class SimNetwork {
  faults: NetworkFaults = { ...NO_NETWORK_FAULTS };
  private readonly dcOf = new Map<string, string>();
  private readonly latency = new Map<string, number>();
  private readonly cut = new Set<string>();
  private readonly handlers = new Map<string, (from: string, payload: unknown) => void>();
  sent = 0;
  dropped = 0;

  constructor(
    private readonly sched: Scheduler,
    private readonly rng: Prng,
    private readonly onTrace: (line: string) => void,
    /** Largest Paxos message body the network carries (see SimOptions.maxMessageBytes). */
    private readonly maxMessageBytes = Number.POSITIVE_INFINITY,
    private readonly onOversize: (detail: string) => void = () => undefined,
  ) {}

  register(addr: string, dc: string, handler: (from: string, payload: unknown) => void): void {
    this.dcOf.set(addr, dc);
    this.handlers.set(addr, handler);
  }

  setLatency(dcA: string, dcB: string, oneWayUs: number): void {
    this.latency.set(`${dcA}>${dcB}`, oneWayUs);
    this.latency.set(`${dcB}>${dcA}`, oneWayUs);
  }

  /** The one-way latency between two DCs (before jitter). */
  latencyBetween(fromDc: string, toDc: string): number {
    return fromDc === toDc ? 100 : (this.latency.get(`${fromDc}>${toDc}`) ?? 1_000);
  }

  /** Cuts traffic from `fromDc` to `toDc` (one direction). */
  cutLink(fromDc: string, toDc: string): void {
    this.cut.add(`${fromDc}>${toDc}`);
  }

  isolate(dc: string, allDcs: readonly string[]): void {
    for (const other of allDcs) {
      if (other === dc) continue;
      this.cutLink(dc, other);
      this.cutLink(other, dc);
    }
  }

  healAll(): void {
    this.cut.clear();
  }

  describeCuts(): string {
    return [...this.cut].sort().join(',');
  }

  send(from: string, to: string, payload: unknown, label: string): void {
    this.sent++;
    const fromDc = this.dcOf.get(from);
    const toDc = this.dcOf.get(to);
    if (fromDc === undefined || toDc === undefined) throw new Error(`unknown address ${from} or ${to}`);
    const f = this.faults;
    const msg = (payload as { kind?: string; msg?: unknown }).kind === 'paxos' ? (payload as { msg: unknown }).msg : undefined;
    if (msg !== undefined && sizeBound(msg) > this.maxMessageBytes) {
      // NATS refuses such a publish; here it is a bug in the replica's budgets and fails the run.
      this.dropped++;
      this.onOversize(`${from}>${to} ${label}: ${sizeBound(msg)} bytes > ${this.maxMessageBytes}`);
      return;
    }
    if (this.cut.has(`${fromDc}>${toDc}`) || this.rng.chance(f.lossProb)) {
      this.dropped++;
      this.onTrace(`drop ${from}>${to} ${label}`);
      return;
    }
    // Serialise now: the receiver gets a fresh copy, as over a real wire.
    const wire = JSON.stringify(payload);
    const copies = this.rng.chance(f.dupProb) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      let delay = this.latencyBetween(fromDc, toDc);
      if (f.jitterUs > 0) delay += this.rng.int(f.jitterUs);
      if (this.rng.chance(f.longDelayProb)) delay += f.longDelayUs;
      this.sched.after(delay, () => this.land(from, to, fromDc, toDc, wire, label));
    }
  }

  private land(from: string, to: string, fromDc: string, toDc: string, wire: string, label: string): void {
    if (this.cut.has(`${fromDc}>${toDc}`)) {
      this.dropped++;
      this.onTrace(`drop-late ${from}>${to} ${label}`);
      return;
    }
    const h = this.handlers.get(to);
    this.onTrace(`deliver ${from}>${to} ${label}`);
    if (h) h(from, JSON.parse(wire) as unknown);
  }
}
