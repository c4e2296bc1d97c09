import { Bus, type BusOptions } from './bus.js';
import { NatsWire } from './nats-wire.js';

/** Connects a node to the cluster over NATS and starts its bus. */
export async function connectBus(natsUrl: string, opts: BusOptions): Promise<Bus> {
  const wire = await NatsWire.connect(natsUrl, { name: `${opts.cluster ?? 'synod'}/${opts.nodeId}` });
  const bus = new Bus(wire, opts);
  await bus.start();
  return bus;
}
