// Child process for outcomes.test.ts: applies entries of group g1 forever, each with one MVCC
// version, an applied record, a header and outcome changes (decides t<slot>, forgets t<slot-5>),
// several in flight, and reports `applied <upTo>` on stdout only after the write resolved. It
// resumes where the durable state left off, so the parent can kill and restart it repeatedly.
import { writeSync } from 'node:fs';
import { openStorage } from './storage.js';
import type { TxnOutcome } from './types.js';

const [path] = process.argv.slice(2);
if (!path) throw new Error('usage: outcome-writer.fixture.ts <dir>');

/** The outcome entry `slot` decides (outcomes.test.ts expects the same). */
function outcomeOf(slot: number): TxnOutcome {
  return slot % 3 === 0 ? { committed: false, reason: `r${slot}` } : { committed: true, ts: slot + 1 };
}

const storage = openStorage({ path, fsync: true });
const report = (line: string) => writeSync(1, `${line}\n`); // synchronous: no buffered lies
let slot = (await storage.paxos('g1').appliedState()).upTo;
const inflight: Array<Promise<void>> = [];
report(`ready ${slot}`);
for (;;) {
  const s = slot++;
  const done = storage
    .applyEntry('g1', s + 1, [{ key: `k${String(s).padStart(6, '0')}`, ts: s + 1, value: s }], {
      record: { slot: s, commandIds: [`c${s}`] },
      header: { last: s },
      outcomes: { put: [[`t${s}`, outcomeOf(s)]], forget: s >= 5 ? [`t${s - 5}`] : [] },
    })
    .then(() => void report(`applied ${s + 1}`));
  inflight.push(done);
  if (inflight.length >= 8) await inflight.shift();
}
