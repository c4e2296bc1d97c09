import { beforeEach } from 'vitest';

// The simulations run synchronously: a file of them back to back never gave this worker's event
// loop a turn, and vitest's own worker RPC (onTaskUpdate), answered only in such a turn, timed out
// after 60 s on a loaded machine (span-teeth.test.ts, 83 s) and failed a run whose tests all
// passed. One turn before every test bounds the gap by the longest single test.
beforeEach(() => new Promise<void>((resolve) => setImmediate(resolve)));
