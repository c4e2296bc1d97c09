// Child process for sigkill.test.ts: persists forever and reports on stdout each
// slot / promised ballot only after its persist() resolved. The parent SIGKILLs
// it mid-stream and checks that everything reported survived.
import { writeSync } from 'node:fs';
import { openStorage } from './storage.js';

const [path, groupsArg = '2', concurrencyArg = '8'] = process.argv.slice(2);
if (!path) throw new Error('usage: sigkill-writer.fixture.ts <dir> [groups] [concurrency]');

const storage = openStorage({ path, fsync: true });
const report = (line: string) => writeSync(1, `${line}\n`); // synchronous: no buffered lies

async function writeGroup(group: string, concurrency: number): Promise<never> {
  const store = storage.paxos(group);
  let round = 1;
  let nextSlot = 0;
  await store.persist({ promised: { round, node: 'child' } });
  report(`promised ${group} ${round}`);
  // `concurrency` writers share the slot counter, so persists overlap and batch.
  const worker = async (): Promise<never> => {
    for (;;) {
      const slot = nextSlot++;
      if (slot % 50 === 49) {
        const r = ++round;
        await store.persist({ promised: { round: r, node: 'child' } });
        report(`promised ${group} ${r}`);
      }
      const ballot = { round, node: 'child' };
      await store.persist({
        accepted: [{ slot, ballot, value: { kind: 'batch', cmds: [{ id: `${group}/${slot}`, payload: { slot } }] } }],
      });
      report(`slot ${group} ${slot}`);
    }
  };
  return Promise.race(Array.from({ length: concurrency }, worker));
}

report('ready');
await Promise.all(Array.from({ length: Number(groupsArg) }, (_, i) => writeGroup(`g${i}`, Number(concurrencyArg))));
