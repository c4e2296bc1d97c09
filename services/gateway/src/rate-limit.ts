/**
 * A token bucket per client (docs/gateway.md, "Limits"): each client may send `burst` requests at
 * once and `perSecond` sustained. Buckets are kept for at most `maxClients` clients; past that the
 * least recently seen is forgotten (it comes back with a full bucket), so memory stays bounded
 * however many addresses call.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly perSecond: number,
    readonly burst: number,
    private readonly maxClients = 10_000,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(perSecond > 0) || !(burst >= 1)) throw new Error(`rate limit needs perSecond > 0 and burst >= 1 (got ${perSecond}, ${burst})`);
  }

  /** Takes one token for `client`: 0 when allowed, else the seconds until a token is due. */
  take(client: string): number {
    const t = this.now();
    const b = this.buckets.get(client) ?? { tokens: this.burst, at: t };
    // Re-inserting keeps the Map in least-recently-seen order for eviction.
    this.buckets.delete(client);
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.perSecond);
    b.at = t;
    this.buckets.set(client, b);
    if (this.buckets.size > this.maxClients) this.buckets.delete(this.buckets.keys().next().value!);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return (1 - b.tokens) / this.perSecond;
  }

  get clients(): number {
    return this.buckets.size;
  }
}
