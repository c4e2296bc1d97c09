export { Bus, type BusLogger, type BusOptions, type FatalContext, type Handler, type OutMessage, type BusClock, type ClockEvidence } from './bus.js';
export { connectBus } from './connect.js';
export { chaos, judge, EMPTY_CHAOS, ANY_DC, type Verdict } from './chaos.js';
export { MemoryHub, type MemoryHubOptions } from './memory-wire.js';
export { NatsWire } from './nats-wire.js';
export { subjects } from './subjects.js';
export { WireNoRespondersError, WirePayloadTooLargeError, WireTimeoutError, type Wire, type WireHandler, type Respond } from './wire.js';
