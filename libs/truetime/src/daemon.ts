/**
 * The time-sync daemon: the thin shell around ClockSync. Every sync interval it asks the time
 * masters of each configured DC (and any masters named by node id) for their time over the bus,
 * turns each reply into a Sample (read the local physical clock before and after), and applies
 * the round. It owns the timer, the logs and the metrics; all arithmetic is in sync.ts.
 *
 * Metrics (gauges unless noted):
 *   synod_truetime_epsilon_us            ε right after the last sync attempt
 *   synod_truetime_epsilon_presync_us    ε just before it (the sawtooth's peak)
 *   synod_truetime_offset_us             masters' midpoint minus ours at the last sync
 *   synod_truetime_sync_rtt_us           smallest round trip among the last sync's replies
 *   synod_truetime_serving               1 serving, 0 not
 *   synod_truetime_syncs_total{result}   counter: ok | no-samples | no-agreement | clock-excursion | inconclusive | unexplained-step
 *   synod_truetime_masters_rejected_total{master}  counter: replies Marzullo rejected as liars
 *   synod_truetime_samples_discarded_total{master} counter: replies with impossible round trips
 */
import type { Logger } from '@synod/config';
import { Metrics } from '@synod/config';
import { SynodError, type MessageBody } from '@synod/codec';
import { subjects, type Bus } from '@synod/transport';
import type { Sample } from './interval.js';
import type { SyncOutcome, SyncStatus } from './sync.js';
import type { TrueTime } from './truetime.js';

export interface DaemonOptions {
  bus: Bus;
  truetime: TrueTime;
  /** DCs whose time masters to poll (subject `<c>.timemaster.<dc>`). */
  masterDcs: readonly string[];
  /** Masters to poll directly by node id (their inbox), in addition to the DCs. */
  masterNodes?: readonly string[];
  /** Spanner: 30 s. */
  syncIntervalMs: number;
  requestTimeoutMs: number;
  /**
   * Requests to each master per round, one after the other (default SYNC_PROBES); the round uses
   * each master's narrowest reply (narrowestPerSource).
   */
  probes?: number;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  metrics?: Metrics;
}

const silent = { info() {}, warn() {}, error() {} };

/**
 * Requests to each master per sync round, one after the other. A reply's round trip widens the
 * interval it gives, and on a busy machine one request may wait several ms in the event loops and
 * run queues at both ends: with one request per master, spanservers under load synced to ε of
 * 1.5-2.9 ms, 0.6-1.4 ms with these probes (docs/truetime.md, "Probes"). The narrowest of a few
 * is usually a quick one; back to back, the later ones also find the master and nats-server awake
 * (a request to idle processes took 0.7-1.1 ms here, one right after another 0.4-0.5 ms).
 */
export const SYNC_PROBES = 4;

export class TimeSyncDaemon {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<SyncOutcome> | undefined;
  private wasServing: boolean | undefined;
  private readonly log: Pick<Logger, 'info' | 'warn' | 'error'>;
  private readonly metrics: Metrics;
  last: SyncOutcome | undefined;
  syncs = 0;

  constructor(private readonly opts: DaemonOptions) {
    this.log = opts.logger ?? silent;
    this.metrics = opts.metrics ?? opts.bus.metrics;
  }

  /** Runs the first sync now, then one every interval (measured start to start). */
  async start(): Promise<void> {
    await this.syncNow();
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  status(): SyncStatus {
    const s = this.opts.truetime.status();
    this.noteServing(s);
    return s;
  }

  /** One sync round; concurrent callers share the round in flight. */
  syncNow(): Promise<SyncOutcome> {
    this.running ??= this.round().finally(() => (this.running = undefined));
    return this.running;
  }

  /**
   * A sync round started after this call, at once: on clock evidence from a peer (a message
   * stamped ahead of a clock, transport's ClockEvidence). A round already in flight may have
   * sampled before the evidence, so a fresh one follows it. Only the masters' verdict can stop
   * this process; the peer's word alone never does.
   */
  resyncNow(reason: string): Promise<SyncOutcome> {
    this.metrics.inc('synod_truetime_resyncs_total');
    this.log.info({ reason }, 'clock evidence: resyncing with the time masters now');
    const inFlight = this.running;
    return inFlight ? inFlight.then(() => this.syncNow()) : this.syncNow();
  }

  /** Next round `ms` from now; rounds are spaced start to start by the sync interval. */
  private schedule(ms = this.opts.syncIntervalMs): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      const started = Date.now();
      void this.syncNow().finally(() => this.schedule(Math.max(0, this.opts.syncIntervalMs - (Date.now() - started))));
    }, ms);
  }

  private async ask(target: { subject?: string; node?: string }): Promise<Sample | undefined> {
    const { bus, truetime, requestTimeoutMs } = this.opts;
    const clock = truetime.clock;
    const sentLocal = clock.nowUs();
    try {
      const env = target.subject
        ? await bus.requestSubject(target.subject, 'time.get', {}, { timeoutMs: requestTimeoutMs })
        : await bus.request(target.node!, 'time.get', {}, { timeoutMs: requestTimeoutMs });
      const receivedLocal = clock.nowUs();
      if (env.kind !== 'time.now') return undefined;
      const body = env.body as MessageBody<'time.now'>;
      return { source: env.from, sentLocal, receivedLocal, earliest: body.earliest, latest: body.latest };
    } catch (err) {
      if (!(err instanceof SynodError)) this.log.error({ err }, 'time master request failed');
      return undefined;
    }
  }

  private async round(): Promise<SyncOutcome> {
    const { bus, truetime } = this.opts;
    const subj = subjects(bus.cluster);
    const targets = [...this.opts.masterDcs.map((dc) => ({ subject: subj.timemaster(dc) })), ...(this.opts.masterNodes ?? []).map((node) => ({ node }))];
    const probes = this.opts.probes ?? SYNC_PROBES;
    const probe = async (t: (typeof targets)[number]): Promise<Sample[]> => {
      const got: Sample[] = [];
      for (let i = 0; i < probes && !this.stopped; i++) {
        const s = await this.ask(t);
        // A master that did not answer in time is not asked again this round (the round would wait out every timeout).
        if (s === undefined) break;
        got.push(s);
      }
      return got;
    };
    const samples = (await Promise.all(targets.map(probe))).flat();
    const outcome = truetime.applySync(samples);
    this.syncs++;
    this.last = outcome;
    this.record(outcome);
    return outcome;
  }

  private record(o: SyncOutcome): void {
    const m = this.metrics;
    m.inc('synod_truetime_syncs_total', { result: o.ok ? 'ok' : o.failure! });
    m.set('synod_truetime_epsilon_presync_us', o.epsilonBeforeUs);
    m.set('synod_truetime_epsilon_us', o.epsilonAfterUs);
    if (o.offsetUs !== undefined) m.set('synod_truetime_offset_us', o.offsetUs);
    if (o.rttUs !== undefined) m.set('synod_truetime_sync_rtt_us', o.rttUs);
    for (const master of o.rejected) m.inc('synod_truetime_masters_rejected_total', { master });
    for (const master of o.discarded) m.inc('synod_truetime_samples_discarded_total', { master });
    if (o.failure === 'unexplained-step')
      this.log.error({ unexplainedStepUs: o.unexplainedStepUs, masters: o.masters, agreeing: o.agreeing }, 'time masters refused: their reading is a step our elapsed monotonic time cannot explain; keeping the anchor');
    if (o.rejected.length > 0) this.log.warn({ rejected: o.rejected, agreeing: o.agreeing }, 'time masters rejected as liars');
    if (!o.ok && o.failure !== 'clock-excursion' && o.failure !== 'unexplained-step') this.log.warn({ failure: o.failure, epsilonUs: o.epsilonAfterUs, discarded: o.discarded }, 'time sync failed; ε keeps growing');
    this.status();
  }

  private noteServing(s: SyncStatus): void {
    this.metrics.set('synod_truetime_serving', s.serving ? 1 : 0);
    if (s.serving === this.wasServing) return;
    const first = this.wasServing === undefined;
    this.wasServing = s.serving;
    if (s.serving) {
      this.log.info({ epsilonUs: s.epsilonUs }, first ? 'TrueTime serving' : 'TrueTime back within bounds: resumed serving');
    } else if (!(first && s.reason === 'unsynced')) {
      this.metrics.inc('synod_truetime_stopped_serving_total', { reason: s.reason! });
      this.log.error({ reason: s.reason, detail: s.detail, epsilonUs: s.epsilonUs }, `TrueTime stopped serving: ${s.detail}`);
    }
  }
}
