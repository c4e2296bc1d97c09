/**
 * The documented maxima of synod (docs/limits.md). One place: the client API, the server's
 * request handlers, the Paxos core's message budgets and the NATS server configuration all
 * read them from here, so a value the client accepts always fits through replication.
 */

const KiB = 1024;
const MiB = 1024 * KiB;

/** Longest user key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 4 * KiB;
/** Largest user value, as its encoded size (sizeBound). */
export const MAX_VALUE_BYTES = 1 * MiB;
/** Most writes (puts and deletes) in one transaction. */
export const MAX_TXN_WRITES = 10_000;
/** Most keys read or locked by one transaction request. */
export const MAX_TXN_READS = 10_000;
/** Largest transaction: the encoded size of all its keys and values together. */
export const MAX_TXN_BYTES = 4 * MiB;
/**
 * Largest replicated command (one transaction's commit record plus its framing). A command
 * larger than this is refused before it reaches a Paxos log.
 */
export const MAX_COMMAND_BYTES = MAX_TXN_BYTES + 64 * KiB;
/**
 * Byte budget of one Paxos message body: Accept batches, catch-up replies, promise suffixes
 * and forwarded commands are cut to fit. Room for at least one command of MAX_COMMAND_BYTES.
 */
export const MAX_PAXOS_MESSAGE_BYTES = 6 * MiB;
/** Room for the envelope around a message body (sender, DC, kind, group, version). */
export const ENVELOPE_OVERHEAD_BYTES = 4 * KiB;
/**
 * The NATS server's max_payload as synod configures it (the default of nats-server is 1 MiB,
 * too small for one 1 MiB value plus framing). A publish larger than the connection's
 * max_payload is refused by the bus with a stable code, never thrown into a promise chain.
 */
export const NATS_MAX_PAYLOAD_BYTES = 8 * MiB;

/**
 * Coalescing (docs/transport.md "Coalescing"): one-way peer messages to one node queued in one
 * event-loop turn travel as one NATS message, a batch. A batch holds at most this many frames
 * (messages) and this many bytes, framing included: an eighth of the NATS payload, so a batch is
 * never near the size a single message may reach, and an idle turn's heartbeats of hundreds of
 * splits (~100 bytes each) still fit in one. A receiver drops a batch over either bound whole.
 */
export const MAX_BATCH_FRAMES = 1_024;
export const MAX_BATCH_BYTES = 1 * MiB;
/** Destinations with frames queued at once; one more flushes every queue first. */
export const MAX_OUTBOX_PEERS = 1_024;

if (MAX_COMMAND_BYTES + ENVELOPE_OVERHEAD_BYTES > MAX_PAXOS_MESSAGE_BYTES) throw new Error('limits: a maximal command must fit in one Paxos message');
if (MAX_PAXOS_MESSAGE_BYTES + ENVELOPE_OVERHEAD_BYTES > NATS_MAX_PAYLOAD_BYTES) throw new Error('limits: a maximal Paxos message must fit in one NATS payload');
if (MAX_BATCH_BYTES > NATS_MAX_PAYLOAD_BYTES) throw new Error('limits: a full batch must fit in one NATS payload');

/**
 * Bounds on protocol numbers. Rounds grow by one per election, slots by one per log entry and
 * local clocks read microseconds: legitimate values stay far below these for centuries, so a
 * number above one is hostile or corrupt. The codec drops such messages (counted) before any
 * core sees them, and the cores never produce one, so `x + 1` never leaves the safe integers.
 */
export const MAX_BALLOT_ROUND = 2 ** 40;
export const MAX_SLOT = 2 ** 50;
/** Microseconds: any clock reading or timestamp (2^52 µs is about the year 2112). */
export const MAX_TIMESTAMP_US = 2 ** 52;
