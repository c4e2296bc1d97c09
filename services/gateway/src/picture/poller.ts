/**
 * Gathers the live picture (docs/picture.md) once per interval: node.status from every node of
 * the range map, the fault picture the bus holds, clock faults the nodes report, and the
 * placement service's map; turns it into a snapshot (model.ts) and hands it to subscribers.
 * One poll at a time (the next is scheduled when one ends), a bounded history of samples.
 */
import type { SynodClient } from '@synod/client';
import { SynodError } from '@synod/codec';
import { FAULT_QUERY, FAULT_REPORT_PREFIX } from '@synod/truetime';
import { buildPicture, commitSample, type CommitFigures, type NodeStatus, type PictureSnapshot, type Sample } from './model.js';

export const PICTURE_DEFAULTS = {
  everyMs: 1_000,
  /** Five minutes of one-second samples. */
  historySamples: 300,
  /** Below the poll interval, so a poll never waits on a node longer than one interval. */
  statusTimeoutMs: 800,
  mapRefreshEveryMs: 5_000,
  /** Without a placement service, asking every 5 s would only count failures. */
  mapRefreshNoServiceMs: 60_000,
  clockQueryEveryMs: 5_000,
  /** Clock-fault reports kept per query round: one per process, bounded against a flood. */
  maxClockReports: 1_000,
} as const;

export interface PicturePollerOptions {
  everyMs?: number;
  historySamples?: number;
  statusTimeoutMs?: number;
  now?: () => number;
}

type Reply = { status: NodeStatus } | { error: string };
type ClockReport = { node: string; skewMs: number; driftPpm: number };

export class PicturePoller {
  private readonly everyMs: number;
  private readonly historySamples: number;
  private readonly statusTimeoutMs: number;
  private readonly now: () => number;
  private readonly series: Sample[] = [];
  private readonly listeners = new Set<(p: PictureSnapshot) => void>();
  private prevCommits = new Map<string, CommitFigures>();
  private prevAt: number | undefined;
  private snapshot: PictureSnapshot | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private nextMapRefresh = 0;
  private nextClockQuery = 0;
  /** The last complete round of clock-fault reports, and the round being collected. */
  private clockFaults: ClockReport[] = [];
  private clockRound = new Map<string, ClockReport>();

  constructor(
    private readonly client: SynodClient,
    opts: PicturePollerOptions = {},
  ) {
    this.everyMs = opts.everyMs ?? PICTURE_DEFAULTS.everyMs;
    this.historySamples = opts.historySamples ?? PICTURE_DEFAULTS.historySamples;
    this.statusTimeoutMs = Math.min(opts.statusTimeoutMs ?? PICTURE_DEFAULTS.statusTimeoutMs, this.everyMs);
    this.now = opts.now ?? Date.now;
    // The bus has one handler per kind: this poller owns clock.fault on the gateway's bus (the
    // gateway has no clock of its own to fault).
    client.bus.on('clock.fault', (env) => {
      const f = env.body;
      if (!f.node.startsWith(FAULT_REPORT_PREFIX)) {
        // A new fault was just broadcast: ask again at the next poll rather than in 5 s.
        this.nextClockQuery = 0;
        return;
      }
      if (this.clockRound.size >= PICTURE_DEFAULTS.maxClockReports) return;
      const node = f.node.slice(FAULT_REPORT_PREFIX.length);
      this.clockRound.set(node, { node, skewMs: f.skewMs ?? 0, driftPpm: f.driftPpm ?? 0 });
    });
  }

  /** The newest snapshot, once the first poll ended. */
  latest(): PictureSnapshot | undefined {
    return this.snapshot;
  }

  subscribe(fn: (p: PictureSnapshot) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Polls now and every `everyMs` after each poll ends, until stop. */
  start(onError: (err: unknown) => void): void {
    const tick = () => {
      this.poll().then(again, (err) => {
        onError(err);
        again();
      });
    };
    const again = () => {
      if (!this.stopped) this.timer = setTimeout(tick, this.everyMs);
    };
    tick();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** One poll: gathers, adds a sample, publishes the snapshot. */
  async poll(): Promise<PictureSnapshot> {
    const at = this.now();
    await Promise.all([this.refreshMap(at), this.queryClocks(at)]);
    const map = this.client.rangeMap;
    const nodes = map.nodes();
    const replies = new Map<string, Reply>(await Promise.all(nodes.map(async (n) => [n.id, await this.status(n.id)] as const)));
    const commits = new Map<string, CommitFigures>();
    for (const [id, r] of replies) if ('status' in r && r.status.commits) commits.set(id, r.status.commits);
    if (this.prevAt !== undefined) {
      this.series.push(commitSample(at, at - this.prevAt, this.prevCommits, commits));
      if (this.series.length > this.historySamples) this.series.splice(0, this.series.length - this.historySamples);
    }
    this.prevAt = at;
    this.prevCommits = commits;
    this.snapshot = buildPicture({
      at,
      nodes,
      generation: map.generation,
      splits: map.all().map((s) => ({ id: s.id, start: s.start, end: s.end, replicas: s.replicas, learners: s.learners, generation: s.generation })),
      replies,
      chaos: this.client.bus.chaos,
      // This round's reports as they arrive over the last round's: a new fault shows at once,
      // one no longer reported goes when its round closes.
      clockFaults: [...new Map([...this.clockFaults, ...this.clockRound.values()].map((f) => [f.node, f])).values()],
      series: this.series,
    });
    for (const fn of this.listeners) fn(this.snapshot);
    return this.snapshot;
  }

  private async status(node: string): Promise<Reply> {
    try {
      const r = await this.client.bus.request(node, 'node.status', {}, { timeoutMs: this.statusTimeoutMs });
      return { status: r.body as NodeStatus };
    } catch (err) {
      // A node that does not answer is part of the picture; anything else is a bug and surfaces.
      if (!(err instanceof SynodError)) throw err;
      return { error: `${err.code}: ${err.message}`.slice(0, 200) };
    }
  }

  private async refreshMap(at: number): Promise<void> {
    if (at < this.nextMapRefresh) return;
    const r = await this.client.refreshMap();
    this.nextMapRefresh = at + (r.failed === 'NO_SERVICE' ? PICTURE_DEFAULTS.mapRefreshNoServiceMs : PICTURE_DEFAULTS.mapRefreshEveryMs);
  }

  /** Ends the last query round (its reports become the picture's) and starts a new one; answers arrive over the next polls. */
  private async queryClocks(at: number): Promise<void> {
    if (at < this.nextClockQuery) return;
    this.nextClockQuery = at + PICTURE_DEFAULTS.clockQueryEveryMs;
    this.clockFaults = [...this.clockRound.values()];
    this.clockRound = new Map();
    await this.client.bus.broadcastChaos('clock.fault', { node: FAULT_QUERY, skewMs: 0 });
  }
}
