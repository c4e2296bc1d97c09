import { afterEach } from 'vitest';
import { Bus, type BusOptions } from './bus.js';
import type { MemoryHub } from './memory-wire.js';
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

/**
 * A wire over `hub` that fails like nats.js on a closed connection once `breakIt()` ran:
 * publish throws and request rejects.
 */
export function breakableWire(hub: MemoryHub): { wire: Wire; breakIt: () => void } {
  const inner = hub.wire();
  let broken = false;
  const wire: Wire = {
    maxPayloadBytes: () => inner.maxPayloadBytes(),
    publish: (s, d) => {
      if (broken) throw new Error('CONNECTION_CLOSED');
      inner.publish(s, d);
    },
    request: (s, d, t) => (broken ? Promise.reject(new Error('CONNECTION_CLOSED')) : inner.request(s, d, t)),
    subscribe: (s, h) => inner.subscribe(s, h),
    flush: () => inner.flush(),
    close: () => inner.close(),
  };
  return { wire, breakIt: () => void (broken = true) };
}
