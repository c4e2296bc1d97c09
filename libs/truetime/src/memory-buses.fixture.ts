import { afterEach } from 'vitest';
import { Metrics } from '@synod/config';
import { Bus, type MemoryHub } from '@synod/transport';

/**
 * Buses on an in-memory hub for the daemon's end-to-end tests, each closed (with anything
 * else registered through `cleanup`) after every test, newest first.
 */
export function memoryBuses() {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  const cleanup = (c: () => unknown): void => {
    cleanups.push(c);
  };
  const bus = async (hub: MemoryHub, nodeId: string, dc: string): Promise<Bus> => {
    const b = new Bus(hub.wire(), { nodeId, dc, metrics: new Metrics() });
    await b.start();
    cleanup(() => b.close());
    return b;
  };
  return { bus, cleanup };
}
