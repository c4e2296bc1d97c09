/**
 * Every metric a synod process exports: name, type, labels, help and (histograms) buckets. The
 * registry (metrics.ts) builds its prom-client metrics from this list, so a metric's help text and
 * label names are declared once; docs/metrics.md documents each entry (a test checks both ways).
 */
export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricDef {
  type: MetricType;
  help: string;
  labels?: readonly string[];
  /** Histograms: upper bounds in the metric's unit (seconds). */
  buckets?: readonly number[];
}

/**
 * Latency buckets in seconds, 100 µs to 10 s: commit wait is ~2ε (hundreds of µs to a few ms on
 * one host, docs/truetime.md), an fsync'd commit a few ms, a read behind a lagging t_safe up to
 * its wait bound (2 s, docs/spanserver.md).
 */
export const LATENCY_BUCKETS_S = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

export const METRIC_CATALOG = {
  // libs/transport (the bus)
  synod_bus_received_total: { type: 'counter', help: 'Messages this process received from the bus (before decoding).' },
  synod_bus_dropped_total: { type: 'counter', help: 'Received messages dropped as malformed or refused, by reason (docs/architecture.md, "Untrusted bytes").', labels: ['reason'] },
  synod_bus_fault_dropped_total: { type: 'counter', help: 'Messages dropped by the simulated-DC fault layer (chaos), by why.', labels: ['why'] },
  synod_bus_handler_fatal_total: { type: 'counter', help: 'Handlers that threw a non-SynodError (a bug), by message kind.', labels: ['kind'] },
  synod_bus_server_refused_total: { type: 'counter', help: 'Publishes and subscribes nats-server refused for lack of permission, by operation (docs/transport.md, "Credentials").', labels: ['operation'] },
  synod_bus_oversize_total: { type: 'counter', help: 'Outgoing messages refused for exceeding their byte budget, by kind (docs/limits.md).', labels: ['kind'] },
  synod_bus_publish_failed_total: { type: 'counter', help: 'Outgoing messages the NATS connection failed to publish, by kind.', labels: ['kind'] },
  synod_bus_wire_published_total: { type: 'counter', help: 'NATS messages this bus published (messages, batches, requests, replies); a batch of peer messages counts once, batched requests and replies one each (docs/transport.md, "Coalescing", "Request batching").' },
  synod_bus_wire_received_total: { type: 'counter', help: 'NATS messages this bus received (messages, batches, requests, replies), before decoding; a batch counts once.' },
  synod_bus_batches_total: { type: 'counter', help: 'Batches of coalesced peer messages published (out) or received with valid framing (in), by direction (docs/transport.md, "Coalescing").', labels: ['direction'] },
  synod_bus_batch_frames_total: { type: 'counter', help: 'Messages (frames) carried in those batches, by direction; divided by synod_bus_batches_total, the mean batch size.', labels: ['direction'] },
  synod_bus_request_batches_total: { type: 'counter', help: 'Batches of requests this process\'s NATS connection published (out) or received with valid framing (in), by direction (docs/transport.md, "Request batching").', labels: ['direction'] },
  synod_bus_request_batch_frames_total: { type: 'counter', help: 'Requests carried in those batches, by direction; divided by synod_bus_request_batches_total, the mean batch size.', labels: ['direction'] },
  synod_bus_batch_replies_lost_total: { type: 'counter', help: 'Replies to batched requests that could not be published (the connection had closed): lost in transit, their requesters time out.' },
  synod_bus_batch_replies_bad_total: { type: 'counter', help: 'Messages on a batch\'s reply subject that were not a well-formed batch of replies: dropped.' },
  synod_bus_node_beats_total: { type: 'counter', help: 'Node beats sent: one to a peer node in a heartbeat interval in which nothing else went to it (docs/transport.md, "Node beats and liveness").' },
  synod_chaos_version: { type: 'gauge', help: 'Version of the fault picture (chaos broadcast) in force here.' },
  synod_clock_evidence_total: { type: 'counter', help: 'Clock evidence seen: a message stamped ahead of this clock (receiver) or a peer saying ours is (sender) (docs/transport.md).', labels: ['side'] },
  synod_clock_evidence_coalesced_total: { type: 'counter', help: 'Clock evidence folded into a resync already running.' },
  // libs/truetime
  synod_clock_skew_us: { type: 'gauge', help: 'Injected step of this process clock, µs (synod chaos skew).' },
  synod_clock_drift_ppm: { type: 'gauge', help: 'Injected rate error of this process clock, ppm (synod chaos drift).' },
  synod_truetime_epsilon_us: { type: 'gauge', help: 'TrueTime ε (half the interval width) right after the last sync attempt, µs.' },
  synod_truetime_epsilon_presync_us: { type: 'gauge', help: 'ε just before the last sync attempt (the sawtooth peak), µs.' },
  synod_truetime_offset_us: { type: 'gauge', help: "Masters' midpoint minus this clock at the last sync, µs." },
  synod_truetime_sync_rtt_us: { type: 'gauge', help: "Smallest round trip among the last sync's replies, µs." },
  synod_truetime_serving: { type: 'gauge', help: '1 while TrueTime is within bounds (this process serves), else 0.' },
  synod_truetime_syncs_total: { type: 'counter', help: 'Sync rounds by result (ok, no-samples, no-agreement, clock-excursion, inconclusive, unexplained-step).', labels: ['result'] },
  synod_truetime_masters_rejected_total: { type: 'counter', help: 'Time-master replies rejected as liars by Marzullo, by master.', labels: ['master'] },
  synod_truetime_samples_discarded_total: { type: 'counter', help: 'Time-master replies discarded for an impossible round trip, by master.', labels: ['master'] },
  synod_truetime_stopped_serving_total: { type: 'counter', help: 'Times TrueTime stopped serving, by reason.', labels: ['reason'] },
  synod_truetime_resyncs_total: { type: 'counter', help: 'Out-of-schedule syncs started by clock evidence.' },
  synod_truetime_now_epsilon_us: { type: 'gauge', help: 'ε of TrueTime.now() at scrape time, µs (grows between syncs at the drift bound).' },
  // libs/client, libs/paxos-host
  synod_client_best_effort_failed_total: { type: 'counter', help: 'Best-effort client messages (e.g. aborts) that failed, by kind.', labels: ['kind'] },
  synod_client_map_refresh_failed_total: { type: 'counter', help: "Client range-map refreshes that failed, by error code.", labels: ['code'] },
  synod_client_map_refreshed_total: { type: 'counter', help: 'Client range-map refreshes that succeeded.' },
  synod_paxos_refused_total: { type: 'counter', help: 'Paxos messages refused: sender not a member (spoofed) or group not hosted here (unknown_group).', labels: ['why'] },
  synod_paxos_quiet_groups: { type: 'gauge', help: 'Paxos groups hosted here that are quiescent: a leader that stopped heartbeating, or a follower of one (docs/paxos.md, "Quiescent groups").' },
  // services/spanserver
  synod_split_2pc_refused_total: { type: 'counter', help: 'split.2pc messages refused: the sender is not a replica of the split it speaks for.' },
  synod_split_closed_refused_total: { type: 'counter', help: 'split.closed messages refused: the sender is not the leader replica it claims to be.' },
  synod_split_cut_missed_total: { type: 'counter', help: 'Cuts a snapshot carried this replica past without applying them, by parent split.', labels: ['split'] },
  synod_split_reapplied_entries_total: { type: 'gauge', help: 'Log entries re-applied at start-up (0 once resumed at the applied index), by split.', labels: ['split'] },
  synod_split_log_entries: { type: 'gauge', help: 'Entries in the on-disk Paxos log of the split (bounded by compaction, docs/limits.md).', labels: ['split'] },
  synod_commit_latency_seconds: { type: 'histogram', help: 'kv.commit served by a split leader: request in to reply out (incl. Paxos and commit wait), by outcome (ok or the error code).', labels: ['outcome'], buckets: LATENCY_BUCKETS_S },
  synod_commit_wait_seconds: { type: 'histogram', help: 'Commit wait of each acknowledged commit: until TT.after(ts) (docs/transactions.md).', buckets: LATENCY_BUCKETS_S },
  synod_read_latency_seconds: { type: 'histogram', help: 'Reads served: kv.read (in a read-write transaction) or kv.snapshot (read-only), request in to reply out, by kind and outcome.', labels: ['kind', 'outcome'], buckets: LATENCY_BUCKETS_S },
  synod_paxos_commit_seconds: { type: 'histogram', help: "A split's proposal: handed to Paxos until applied here (or its refusal), by outcome.", labels: ['outcome'], buckets: LATENCY_BUCKETS_S },
  synod_storage_persist_seconds: { type: 'histogram', help: 'A Paxos persist (acceptor state, log entries) from submission until it is durable: its write-ahead log record fdatasync\'d, or (a snapshot, or without the log) its group-committed LMDB batch.', buckets: LATENCY_BUCKETS_S },
  synod_split_tsafe_lag_seconds: { type: 'gauge', help: "TT.now().latest minus the split's t_safe on this replica at scrape time, seconds (how stale a snapshot read here may have to wait).", labels: ['split'] },
  synod_split_leader: { type: 'gauge', help: '1 when this replica leads the split, else 0.', labels: ['split'] },
  synod_split_leader_known: { type: 'gauge', help: '1 when this replica knows a leader of the split (itself or another), else 0.', labels: ['split'] },
  synod_split_apply_lag_entries: { type: 'gauge', help: 'Chosen but not yet applied log slots of the split on this replica.', labels: ['split'] },
  synod_split_leader_changes_total: { type: 'counter', help: 'Changes of the leader this replica knows for the split (a new non-empty leader hint).', labels: ['split'] },
  synod_txn_aborts_total: { type: 'counter', help: 'Transactions a split answered with an abort or other refusal, by cause (the stable error code).', labels: ['cause'] },
  synod_gc_passes_total: { type: 'counter', help: 'Version GC passes by outcome: completed, stopped (the process closed), busy (skipped: a pass was running), behind (horizon not ahead) (docs/spanserver.md, "Version GC").', labels: ['outcome'] },
  synod_gc_slices_total: { type: 'counter', help: 'Version GC slices run: one bounded synchronous read each (docs/limits.md).' },
  synod_gc_versions_scanned_total: { type: 'counter', help: 'MVCC versions version GC read.' },
  synod_gc_keys_scanned_total: { type: 'counter', help: 'Keys version GC read (a key read across two slices of a pass counts once).' },
  synod_gc_versions_removed_total: { type: 'counter', help: 'MVCC versions version GC deleted.' },
  synod_gc_longest_slice_seconds: { type: 'gauge', help: 'The longest synchronous slice (read and sieve) of the last version GC pass that ran, seconds.' },
  synod_event_loop_delay_p99_seconds: { type: 'gauge', help: 'p99 of how late the event loop ran its callbacks over the last completed 10 s window, seconds (docs/metrics.md, "Event-loop delay").' },
  synod_event_loop_delay_max_seconds: { type: 'gauge', help: 'Longest event-loop delay over the last completed 10 s window, seconds: a stall of every split this process hosts.' },
  // services/placement
  synod_placement_leader: { type: 'gauge', help: '1 when this placement replica leads the placement group, else 0.' },
  synod_placement_leader_known: { type: 'gauge', help: '1 when this placement replica knows a leader of its group, else 0.' },
  // services/timemaster
  synod_timemaster_answering: { type: 'gauge', help: '1 while this time master answers time.get (a drifting master whose clock disagrees stops), else 0.' },
  // services/gateway
  synod_gateway_request_seconds: { type: 'histogram', help: 'HTTP requests the gateway answered, by route, method and status.', labels: ['route', 'method', 'status'], buckets: LATENCY_BUCKETS_S },
  // libs/config itself
  synod_metrics_series_refused_total: { type: 'counter', help: 'Label sets refused because their metric already had the maximum number of series, by metric.', labels: ['metric'] },
  synod_metrics_uncataloged_total: { type: 'counter', help: 'Updates to metric names missing from the catalog (a bug: such a metric is exported with a placeholder help).', labels: ['metric'] },
} as const satisfies Record<string, MetricDef>;

export type CatalogName = keyof typeof METRIC_CATALOG;
