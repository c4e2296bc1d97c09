export { encode, decode, WIRE_VERSION, MAX_MESSAGE_BYTES, type Envelope, type DecodeResult, type DropReason, type SenderInterval } from './envelope.js';
export { messageSchemas, MESSAGE_KINDS, chaosState, linkFault, type MessageKind, type MessageBody, type MessageInput, type ChaosState, type LinkFault } from './messages.js';
export { timeNowSchema, clockFaultSchema, type ClockFault } from './messages.js';
export { SynodError, ERROR_CODES, errorBody, type ErrorCode, type ErrorBody } from './errors.js';
export { paxosMessageSchema, ballotSchema, valueSchema, commandSchema } from './paxos-messages.js';
export { COMMIT_LATENCY_BOUNDS_MS, TXN_STATES, type TxnState } from './kv-messages.js';
export { splitEntrySchema, rangeMapBodySchema, splitReportSchema, nodeName, type SplitEntry, type SplitEntryInput, type SplitReport } from './placement-messages.js';
