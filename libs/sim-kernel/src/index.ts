/**
 * The one simulation kernel: virtual-time events in a deterministic order and the seeded PRNG.
 * The whole-cluster simulator (libs/sim) and the TrueTime simulator (libs/truetime/src/sim.ts)
 * both run on it.
 */
export { EventQueue } from './event-queue.js';
export { Prng, hashString } from '@synod/prng';
