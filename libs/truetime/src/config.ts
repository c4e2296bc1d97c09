/** Flags shared by every process that runs a time-sync daemon (for `loadConfig` from @synod/config). */
import { z } from 'zod';
import { DEFAULT_SYNC_CONFIG, type SyncConfig } from './sync.js';

const list = z.string().transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));

export const timeSyncFlags = {
  /** DCs whose time masters to poll. */
  masterDcs: list.default(['dc-a', 'dc-b', 'dc-c']),
  /** Extra masters to poll by node id. */
  masterNodes: list.default([]),
  syncIntervalMs: z.coerce.number().int().positive().default(30_000),
  requestTimeoutMs: z.coerce.number().int().positive().default(1_000),
  driftBoundPpm: z.coerce.number().min(0).max(100_000).default(DEFAULT_SYNC_CONFIG.driftBoundPpm),
  initialEpsilonMs: z.coerce.number().positive().default(DEFAULT_SYNC_CONFIG.initialEpsilonUs / 1000),
  maxEpsilonMs: z.coerce.number().positive().default(DEFAULT_SYNC_CONFIG.maxEpsilonUs / 1000),
  /** Lying masters tolerated per sync; a sync needs more replies than this (0 for a single master). */
  maxLiars: z.coerce.number().int().min(0).max(10).default(DEFAULT_SYNC_CONFIG.maxLiars),
  /** Fault injection at start: the physical clock's step offset and rate error. */
  clockSkewMs: z.coerce.number().default(0),
  clockDriftPpm: z.coerce.number().min(-500_000).max(500_000).default(0),
};

export function syncConfigFrom(c: { driftBoundPpm: number; initialEpsilonMs: number; maxEpsilonMs: number; requestTimeoutMs: number; maxLiars: number }): Partial<SyncConfig> {
  return {
    maxLiars: c.maxLiars,
    driftBoundPpm: c.driftBoundPpm,
    initialEpsilonUs: Math.round(c.initialEpsilonMs * 1000),
    maxEpsilonUs: Math.round(c.maxEpsilonMs * 1000),
    // A true round trip cannot outlast the request timeout, so a longer measured one means the clock stepped.
    maxRttUs: Math.ceil(c.requestTimeoutMs * 1000 * (1 + c.driftBoundPpm / 1e6)),
  };
}
