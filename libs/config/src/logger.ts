import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

export interface LoggerOptions {
  service: string;
  nodeId?: string;
  dc?: string;
  level?: string;
  /** Write to stderr (fd 2) so stdout stays free for a command's own output. */
  destination?: 1 | 2;
}

/** The one logger factory: JSON lines via pino, tagged with the process's identity. */
export function createLogger(opts: LoggerOptions): Logger {
  const base: Record<string, string> = { service: opts.service };
  if (opts.nodeId) base.node = opts.nodeId;
  if (opts.dc) base.dc = opts.dc;
  return pino({ level: opts.level ?? 'info', base }, pino.destination({ fd: opts.destination ?? 2, sync: false }));
}

/**
 * Logs at most once per `intervalMs` per key, counting what it suppressed, so a flood of bad
 * input cannot become a flood of log lines. `now` is injected to keep it testable.
 */
export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();
  constructor(
    private readonly log: Pick<Logger, 'warn'>,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  warn(key: string, fields: Record<string, unknown>, msg: string): void {
    const t = this.now();
    const seen = this.last.get(key);
    if (seen && t - seen.at < this.intervalMs) {
      seen.suppressed++;
      return;
    }
    this.last.set(key, { at: t, suppressed: 0 });
    this.log.warn({ ...fields, suppressedSinceLast: seen?.suppressed ?? 0 }, msg);
  }
}
