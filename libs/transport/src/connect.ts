import { SynodError } from '@synod/codec';
import { Bus, type BusOptions } from './bus.js';
import { inboxPrefixFor, readCredsFile } from './credentials.js';
import { NatsWire } from './nats-wire.js';

export interface ConnectBusOptions extends BusOptions {
  /**
   * A credentials file from `synod up` (docs/transport.md "Credentials"). Without it the bus
   * connects without authentication, which only a server started without credentials accepts.
   */
  natsCreds?: string | undefined;
}

/** Connects a node to the cluster over NATS and starts its bus. */
export async function connectBus(natsUrl: string, opts: ConnectBusOptions): Promise<Bus> {
  const { natsCreds, ...busOpts } = opts;
  const creds = natsCreds ? readCredsFile(natsCreds) : undefined;
  if (creds) {
    // Fail here, clearly, rather than by a stream of refused publishes later.
    if (creds.role === 'node' && creds.nodeId !== opts.nodeId) throw new SynodError('INVALID_ARGUMENT', `${natsCreds} is ${creds.nodeId}'s credential; this process runs as ${opts.nodeId}`);
    const cluster = opts.cluster ?? 'synod';
    if (creds.cluster !== cluster) throw new SynodError('INVALID_ARGUMENT', `${natsCreds} is a credential of cluster ${creds.cluster}, not ${cluster}`);
  }
  let wire: NatsWire;
  try {
    wire = await NatsWire.connect(natsUrl, { name: `${opts.cluster ?? 'synod'}/${opts.nodeId}`, ...(creds ? { user: creds.user, pass: creds.password, inboxPrefix: inboxPrefixFor(creds.user) } : {}) });
  } catch (err) {
    const code = (err as { code?: string })?.code;
    if (code === 'AUTHORIZATION_VIOLATION')
      throw new SynodError('INVALID_ARGUMENT', creds ? `nats-server at ${natsUrl} refused the credentials of ${creds.user} (${natsCreds})` : `nats-server at ${natsUrl} requires credentials: pass --nats-creds <file> (synod up writes them under <data-dir>/creds/)`);
    throw err;
  }
  // A client credential may subscribe nothing but replies and the fault picture.
  const bus = new Bus(wire, { ...busOpts, ...(creds?.role === 'client' ? { role: 'client' as const } : {}) });
  await bus.start();
  return bus;
}
