export { Bus, refusalFor, type BatchDropReason, type BusLogger, type BusOptions, type FatalContext, type Handler, type OutMessage, type BusClock, type ClockEvidence, type RefusalReason, type Via } from './bus.js';
export { connectBus, SharedConnection, type ConnectBusOptions } from './connect.js';
export { chaos, judge, faultOnLink, EMPTY_CHAOS, ANY_DC, type Verdict } from './chaos.js';
export { NATS_ROLES, inboxPrefixFor, natsCredsSchema, permissionsFor, readCredsFile, type NatsCreds, type NatsRole, type NatsUser } from './credentials.js';
export { MemoryHub, subjectMatches, type MemoryHubOptions } from './memory-wire.js';
export { MAX_PENDING_REQUESTS, NatsWire } from './nats-wire.js';
export { CHAOS_KINDS, PEER_KINDS, SUBJECT_TOKEN, subjects } from './subjects.js';
export { WireNoRespondersError, WirePayloadTooLargeError, WireTimeoutError, WireTooManyRequestsError, type Wire, type WireHandler, type WireRefusal, type Respond } from './wire.js';
export { BATCH_MAGIC, decodeBatch, encodeBatch, isBatch, type BatchDecodeResult } from './batch-frame.js';
