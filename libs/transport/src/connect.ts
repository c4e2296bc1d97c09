import { SynodError } from '@synod/codec';
import { Metrics } from '@synod/config';
import { exportRequestBatchStats } from './request-batch-metrics.js';
import { Bus, type BusOptions } from './bus.js';
import { inboxPrefixFor, readCredsFile, type NatsCreds } from './credentials.js';
import { NatsWire } from './nats-wire.js';
import type { Wire } from './wire.js';

export interface ConnectBusOptions extends BusOptions {
  /**
   * A credentials file from `synod up` (docs/transport.md "Credentials"). Without it the bus
   * connects without authentication, which only a server started without credentials accepts.
   */
  natsCreds?: string | undefined;
}

/** Reads and checks a credentials file for a process of `cluster` running as `nodeId`. */
function credsFor(natsCreds: string | undefined, cluster: string, nodeId: string | undefined): NatsCreds | undefined {
  const creds = natsCreds ? readCredsFile(natsCreds) : undefined;
  if (creds) {
    // Fail here, clearly, rather than by a stream of refused publishes later.
    if (creds.role === 'node' && creds.nodeId !== nodeId) throw new SynodError('INVALID_ARGUMENT', `${natsCreds} is ${creds.nodeId}'s credential; this process runs as ${nodeId ?? 'several buses'}`);
    if (creds.cluster !== cluster) throw new SynodError('INVALID_ARGUMENT', `${natsCreds} is a credential of cluster ${creds.cluster}, not ${cluster}`);
  }
  return creds;
}

async function connectWire(natsUrl: string, name: string, creds: NatsCreds | undefined, natsCreds: string | undefined): Promise<NatsWire> {
  try {
    return await NatsWire.connect(natsUrl, { name, ...(creds ? { user: creds.user, pass: creds.password, inboxPrefix: inboxPrefixFor(creds.user) } : {}) });
  } catch (err) {
    const code = (err as { code?: string })?.code;
    if (code === 'AUTHORIZATION_VIOLATION')
      throw new SynodError('INVALID_ARGUMENT', creds ? `nats-server at ${natsUrl} refused the credentials of ${creds.user} (${natsCreds})` : `nats-server at ${natsUrl} requires credentials: pass --nats-creds <file> (synod up writes them under <data-dir>/creds/)`);
    throw err;
  }
}

/** Connects a node to the cluster over NATS and starts its bus. */
export async function connectBus(natsUrl: string, opts: ConnectBusOptions): Promise<Bus> {
  const { natsCreds, ...busOpts } = opts;
  const creds = credsFor(natsCreds, opts.cluster ?? 'synod', opts.nodeId);
  const wire = await connectWire(natsUrl, `${opts.cluster ?? 'synod'}/${opts.nodeId}`, creds, natsCreds);
  // A client credential may subscribe nothing but replies and the fault picture.
  const bus = new Bus(wire, { ...busOpts, ...(creds?.role === 'client' ? { role: 'client' as const } : {}) });
  await bus.start();
  return bus;
}

/**
 * One NATS connection under many client buses (docs/transport.md "Sharing a connection"): a
 * process that runs many SynodClients (a gateway, a benchmark driver) then pays for one socket,
 * one reply subscription and one parser instead of one each, and nats-server delivers a turn's
 * replies to it in one write. Each bus keeps its own node id, DC, metrics and handlers; the
 * connection closes when the last bus on it closes (or `close`). Only for buses that send
 * requests (role client): a node's inbox subscriptions are its own connection's. Unless a bus is
 * given its own, the buses count into one metrics registry, the connection's (one per process,
 * as everywhere else), rather than one registry per bus.
 */
export class SharedConnection {
  private open = 0;
  private closed = false;
  readonly metrics = new Metrics();

  private constructor(
    private readonly wire: NatsWire,
    private readonly cluster: string,
    private readonly creds: NatsCreds | undefined,
  ) {
    exportRequestBatchStats(this.metrics, wire.batchStats);
  }

  /** Connects once; `natsCreds` must be a client or operator credential (several node ids share it). */
  static async connect(natsUrl: string, opts: { cluster?: string; natsCreds?: string | undefined; name?: string }): Promise<SharedConnection> {
    const cluster = opts.cluster ?? 'synod';
    const creds = credsFor(opts.natsCreds, cluster, undefined);
    return new SharedConnection(await connectWire(natsUrl, `${cluster}/${opts.name ?? 'shared'}`, creds, opts.natsCreds), cluster, creds);
  }

  /** The underlying wire (for tests and metrics). */
  get natsWire(): NatsWire {
    return this.wire;
  }

  /** Buses open on this connection. */
  get buses(): number {
    return this.open;
  }

  /** Starts a client bus on this connection; its close releases the connection rather than closing it. */
  async bus(opts: Omit<BusOptions, 'role' | 'cluster'>): Promise<Bus> {
    if (this.closed) throw new SynodError('UNAVAILABLE', 'the shared NATS connection is closed');
    this.open++;
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      if (--this.open === 0) await this.close();
    };
    const w = this.wire;
    // The bus sees a wire of its own whose close only releases the shared one.
    const view: Wire = {
      onRefused: (l) => w.onRefused(l),
      maxPayloadBytes: () => w.maxPayloadBytes(),
      publish: (s, d) => w.publish(s, d),
      request: (s, d, t) => w.request(s, d, t),
      subscribe: (s, h) => w.subscribe(s, h),
      endTurn: () => w.endTurn(),
      flush: () => w.flush(),
      close: release,
    };
    const bus = new Bus(view, { metrics: this.metrics, ...opts, cluster: this.cluster, role: 'client' });
    try {
      await bus.start();
    } catch (err) {
      await release();
      throw err;
    }
    return bus;
  }

  /** Closes the connection under every bus still on it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.wire.close();
  }
}
