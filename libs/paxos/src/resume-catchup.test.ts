import { describe, expect, it } from 'vitest';
import type { CatchupReplyMsg } from './messages.js';
import { appliedRecordOf, type AppliedRecord } from './output.js';
import { Replica } from './replica.js';
import { baseConfig, cmd, Harness, testRng } from './testing/harness.js';
import type { Value } from './value.js';

const ids = ['a', 'b', 'c'];
const batch = (id: string): Value => ({ kind: 'batch', cmds: [cmd(id)] });
const b1 = { round: 1, node: 'a' };

/** A replica restarted at applied index 2 (as the spanserver restarts), answering b's catch-up from slot 0. */
function restartedAnswer(records: AppliedRecord[]): CatchupReplyMsg {
  const r = new Replica(baseConfig('a', ids), testRng(), {
    durable: { promised: b1, accepted: [{ slot: 0, ballot: b1, value: batch('x') }] },
    applied: { upTo: 2, records },
  });
  const ready = r.step({ type: 'catchupRequest', group: 'g', from: 'b', fromSlot: 0, toSlot: 2 }, 1);
  return ready.send.find((o) => o.to === 'b')!.msg as CatchupReplyMsg;
}

describe('a replica resumed at its applied index still serves catch-up below it', () => {
  it('from its log where its record says the log held the chosen value, from the record otherwise', () => {
    const reply = restartedAnswer([
      { slot: 0, commandIds: ['x'], logHolds: true },
      { slot: 1, commandIds: ['y'], value: batch('y') },
    ]);
    expect(reply.entries).toEqual([
      { slot: 0, value: batch('x') },
      { slot: 1, value: batch('y') },
    ]);
    expect(reply.chosenUpTo).toBe(2);
  });

  it('records written before these fields give nothing below the resume point (the follower waited forever)', () => {
    const reply = restartedAnswer([
      { slot: 0, commandIds: ['x'] },
      { slot: 1, commandIds: ['y'] },
    ]);
    expect(reply.entries).toEqual([]);
  });

  it('the records a replica writes say which: held where it accepted the chosen value, the value where it learned it', () => {
    const h = new Harness(ids);
    h.elect('a');
    h.drop = (to) => to === 'c';
    h.propose('a', [cmd('x')]);
    h.deliverAll();
    h.drop = () => false;
    h.now += 50_000;
    h.tick('a'); // heartbeat: c learns slot 0 is chosen, which it never accepted, and catches up
    h.deliverAll();
    const recordAt = (node: string) => h.applied.get(node)!.filter((e) => e.value.kind === 'batch').map(appliedRecordOf)[0];
    expect(recordAt('b')).toEqual({ slot: 0, commandIds: ['x'], logHolds: true });
    expect(recordAt('c')).toEqual({ slot: 0, commandIds: ['x'], value: batch('x') });
  });
});
