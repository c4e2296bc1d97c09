import type { Metrics } from '@synod/config';
import type { RequestBatchStats } from './wire.js';

/**
 * Exports a wire's request-batching counters (docs/transport.md "Request batching") into
 * `metrics` at every scrape, as the growth since the last one. Call once per wire: the bus that
 * owns it, or the SharedConnection whose buses share it.
 */
export function exportRequestBatchStats(metrics: Metrics, stats: RequestBatchStats): void {
  const seen: RequestBatchStats = { ...stats };
  const grown = (k: keyof RequestBatchStats): number => {
    const d = stats[k] - seen[k];
    seen[k] = stats[k];
    return d;
  };
  metrics.onCollect(() => {
    metrics.inc('synod_bus_request_batches_total', { direction: 'out' }, grown('batchesOut'));
    metrics.inc('synod_bus_request_batches_total', { direction: 'in' }, grown('batchesIn'));
    metrics.inc('synod_bus_request_batch_frames_total', { direction: 'out' }, grown('framesOut'));
    metrics.inc('synod_bus_request_batch_frames_total', { direction: 'in' }, grown('framesIn'));
    metrics.inc('synod_bus_batch_replies_lost_total', {}, grown('repliesLost'));
    metrics.inc('synod_bus_batch_replies_bad_total', {}, grown('badReplies'));
  });
}
