import type { MessageKind } from '@synod/codec';
import { MAX_BATCH_BYTES, MAX_OUTBOX_PEERS } from '@synod/limits';
import { describe, expect, it } from 'vitest';
import { batchBytes } from './batch-frame.js';
import { Outbox, type OutFrame } from './outbox.js';

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

describe('Outbox', () => {
  const frame = (n: number, kind: MessageKind = 'paxos'): OutFrame => ({ kind, bytes: bytes(n, 1) });

  /** An outbox whose flush runs when the test says so. */
  function outbox() {
    const published: Array<{ to: string; frames: number }> = [];
    let scheduled: (() => void) | undefined;
    let schedules = 0;
    const box = new Outbox({
      publish: (to, frames) => void published.push({ to, frames: frames.length }),
      schedule: (fn) => {
        schedules++;
        scheduled = fn;
        return () => (scheduled = undefined);
      },
    });
    return { box, published, endTurn: () => scheduled?.(), schedules: () => schedules };
  }

  it('schedules one flush per turn, however many frames and peers', () => {
    const o = outbox();
    for (let i = 0; i < 10; i++) for (const to of ['n2', 'n3']) o.box.add(to, frame(10), MAX_BATCH_BYTES);
    expect(o.schedules()).toBe(1);
    o.endTurn();
    expect(o.published).toEqual([
      { to: 'n2', frames: 10 },
      { to: 'n3', frames: 10 },
    ]);
    o.box.add('n2', frame(10), MAX_BATCH_BYTES);
    expect(o.schedules()).toBe(2);
  });

  it('refuses a frame that cannot fit a batch of its own, queuing nothing', () => {
    const o = outbox();
    expect(o.box.add('n2', frame(100), batchBytes(1, 99))).toBe(false);
    expect(o.box.add('n2', frame(100), batchBytes(1, 100))).toBe(true);
    expect(o.box.queued('n2')).toBe(1);
  });

  it('publishes a queue first when the next frame would pass the byte budget', () => {
    const o = outbox();
    const budget = batchBytes(3, 300);
    for (let i = 0; i < 4; i++) o.box.add('n2', frame(100), budget);
    expect(o.published).toEqual([{ to: 'n2', frames: 3 }]);
    expect(o.box.queued('n2')).toBe(1);
  });

  it(`a new destination beyond MAX_OUTBOX_PEERS (${MAX_OUTBOX_PEERS}) flushes every queue first`, () => {
    const o = outbox();
    for (let i = 0; i < MAX_OUTBOX_PEERS; i++) o.box.add(`n${i}`, frame(1), MAX_BATCH_BYTES);
    expect(o.published).toHaveLength(0);
    o.box.add('one-more', frame(1), MAX_BATCH_BYTES);
    expect(o.published).toHaveLength(MAX_OUTBOX_PEERS);
    expect(o.box.peers).toBe(1);
  });

  it('discard forgets everything and cancels the flush', () => {
    const o = outbox();
    o.box.add('n2', frame(1), MAX_BATCH_BYTES);
    o.box.add('n3', frame(1), MAX_BATCH_BYTES);
    expect(o.box.discard()).toBe(2);
    o.endTurn();
    expect(o.published).toEqual([]);
  });
});
