/**
 * The one metrics registry: counters and gauges with labels, rendered in the Prometheus text
 * format by the gateway later. Deliberately tiny; no histogram until something needs one.
 */
export type Labels = Record<string, string>;

const keyOf = (name: string, labels: Labels) => {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${labels[k]}"`);
  return parts.length ? `${name}{${parts.join(',')}}` : name;
};

export class Metrics {
  private readonly counters = new Map<string, number>();
  private readonly gauges = new Map<string, number>();

  inc(name: string, labels: Labels = {}, by = 1): void {
    const k = keyOf(name, labels);
    this.counters.set(k, (this.counters.get(k) ?? 0) + by);
  }

  set(name: string, value: number, labels: Labels = {}): void {
    this.gauges.set(keyOf(name, labels), value);
  }

  get(name: string, labels: Labels = {}): number {
    const k = keyOf(name, labels);
    return this.counters.get(k) ?? this.gauges.get(k) ?? 0;
  }

  /** Sum of a counter over all label sets. */
  total(name: string): number {
    let sum = 0;
    for (const [k, v] of this.counters) if (k === name || k.startsWith(`${name}{`)) sum += v;
    return sum;
  }

  render(): string {
    const lines: string[] = [];
    for (const [k, v] of this.counters) lines.push(`${k} ${v}`);
    for (const [k, v] of this.gauges) lines.push(`${k} ${v}`);
    return lines.sort().join('\n') + '\n';
  }
}
