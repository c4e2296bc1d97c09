import { SynodClient } from '@synod/client';
import { PaxosHost, type PaxosHostOptions } from '@synod/paxos-host';
import type { RangeMap } from '@synod/placement';
import { openStorage, type Storage } from '@synod/storage';
import { Bus, type MemoryHub } from '@synod/transport';
import { Spanserver, type SpanserverOptions } from './spanserver.js';
import { LocalTrueTime } from './time-source.js';

/** One spanserver on an in-memory hub with its own LMDB, as the spanserver's tests run it. */
export interface InMemoryNode {
  id: string;
  bus: Bus;
  storage: Storage;
  host: PaxosHost;
  server: Spanserver;
  /** Stops the server, its host, bus and storage, in that order. */
  stop: () => Promise<void>;
}

/**
 * Starts a spanserver with test timing (5 ms ticks, 50 ms heartbeats, 500 ms elections, a fixed
 * 1 ms ε, no fsync); `server` overrides any SpanserverOptions, `host` any PaxosHostOptions (e.g.
 * quiesceAfterUs), `onFatal` goes to host and server.
 */
export async function startInMemoryNode(
  hub: MemoryHub,
  node: { id: string; dc: string; path: string; rangeMap: RangeMap },
  extra: { server?: Partial<SpanserverOptions>; host?: Partial<Omit<PaxosHostOptions, 'bus' | 'storage'>>; onFatal?: (err: unknown) => void } = {},
): Promise<InMemoryNode> {
  const bus = new Bus(hub.wire(), { nodeId: node.id, dc: node.dc });
  await bus.start();
  const storage = openStorage({ path: node.path, fsync: false });
  const host = new PaxosHost({ bus, storage, tickMs: 5, ...(extra.onFatal ? { onFatal: extra.onFatal } : {}), ...extra.host });
  const server = new Spanserver({
    nodeId: node.id,
    dc: node.dc,
    bus,
    storage,
    host,
    tt: new LocalTrueTime(1_000),
    rangeMap: node.rangeMap,
    heartbeatMs: 50,
    electionTimeoutMs: 500,
    ...(extra.onFatal ? { onFatal: extra.onFatal } : {}),
    ...extra.server,
  });
  await server.start();
  const stop = async (): Promise<void> => {
    await server.close();
    await host.close();
    await bus.close();
    await storage.close();
  };
  return { id: node.id, bus, storage, host, server, stop };
}

/**
 * Client options for tests against in-memory nodes. Every node of such a cluster shares one event
 * loop: a stall of it (a starved CPU) outlasts the 500 ms election timeout on all of them at once,
 * and the election that follows can outlast the default 12 attempts (NOT_LEADER surfaced in
 * spanserver.test.ts under CPU load). More attempts (bounded: at most 500 ms apart) ride it out;
 * what the tests assert of the answers is unchanged.
 */
export const TEST_CLIENT_OPTIONS = { maxAttempts: 48 } as const;

/** A client on its own bus in `dc`; `close` closes that bus. */
export async function startInMemoryClient(hub: MemoryHub, id: string, dc: string, rangeMap: RangeMap): Promise<{ client: SynodClient; close: () => Promise<void> }> {
  const bus = new Bus(hub.wire(), { nodeId: id, dc });
  await bus.start();
  return { client: new SynodClient(bus, rangeMap, TEST_CLIENT_OPTIONS), close: () => bus.close() };
}
