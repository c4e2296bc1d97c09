/** The strict Prometheus text parser the metrics tests scrape with: it accepts prom-client's output and rejects malformed expositions. */
import { describe, expect, it } from 'vitest';
import { Metrics } from '@synod/config';
import { parsePromText, sumOf } from './prom-text.js';

describe('parsePromText', () => {
  it("accepts the registry's own exposition (counters, gauges, histograms, process metrics)", async () => {
    const m = new Metrics();
    m.collectProcessMetrics();
    m.inc('synod_bus_dropped_total', { reason: 'a "quoted" \\ reason\nwith a newline' });
    m.set('synod_truetime_epsilon_us', 412.5);
    m.observe('synod_commit_latency_seconds', 0.004, { outcome: 'ok' });
    const f = parsePromText(await m.render());
    expect(f.get('synod_bus_dropped_total')!.type).toBe('counter');
    expect(f.get('synod_bus_dropped_total')!.samples[0]!.labels.reason).toBe('a "quoted" \\ reason\nwith a newline');
    expect(sumOf(f, 'synod_truetime_epsilon_us')).toBe(412.5);
    expect(sumOf(f, 'synod_commit_latency_seconds', { outcome: 'ok' }, 'synod_commit_latency_seconds_count')).toBe(1);
    expect(f.get('process_cpu_user_seconds_total')?.type).toBe('counter');
  });

  const bad: Array<[string, string]> = [
    ['no TYPE before the sample', 'x_total 1\n'],
    ['garbage line', '# TYPE x counter\nx 1\nthis is not a sample\n'],
    ['unquoted label value', '# TYPE x counter\nx{a=b} 1\n'],
    ['bad value', '# TYPE x gauge\nx 1,5\n'],
    ['negative counter', '# TYPE x counter\nx -1\n'],
    ['duplicate series', '# TYPE x gauge\nx{a="1"} 1\nx{a="1"} 2\n'],
    ['unknown type', '# TYPE x meter\nx 1\n'],
    ['no trailing newline', '# TYPE x gauge\nx 1'],
    ['non-cumulative buckets', '# TYPE h histogram\nh_bucket{le="1"} 5\nh_bucket{le="+Inf"} 3\nh_sum 1\nh_count 3\n'],
    ['+Inf bucket not the count', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n'],
    ['bad escape', '# TYPE x gauge\nx{a="\\t"} 1\n'],
  ];
  for (const [what, text] of bad) it(`rejects: ${what}`, () => expect(() => parsePromText(text)).toThrow());
});
