import { afterEach } from 'vitest';
import { Bus, type BusOptions } from './bus.js';
import type { Wire } from './wire.js';

/**
 * Test buses that answer `ping` with `pong`, started on `wire` and closed after each test of the
 * file that calls this (at module level).
 */
export function testNodes(): (wire: Wire, nodeId: string, opts?: Partial<BusOptions>) => Promise<Bus> {
  const buses: Bus[] = [];
  afterEach(async () => {
    await Promise.all(buses.splice(0).map((b) => b.close()));
  });
  return async (wire, nodeId, opts = {}) => {
    const bus = new Bus(wire, { nodeId, dc: `dc-${nodeId}`, ...opts });
    bus.on('ping', (env) => ({ kind: 'pong', body: { nonce: env.body.nonce } }));
    await bus.start();
    buses.push(bus);
    return bus;
  };
}
