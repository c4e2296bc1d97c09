import { afterEach, describe, expect, it } from 'vitest';
import { SynodError } from '@synod/codec';
import type { SendAction } from '@synod/placement';
import { Bus, MemoryHub } from '@synod/transport';
import { SplitRequester } from './split-requests.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

async function node(hub: MemoryHub, id: string, asked: string[], leader: string) {
  const bus = new Bus(hub.wire(), { nodeId: id, dc: 'dc-a' });
  await bus.start();
  bus.on('split.transfer', (env) => {
    asked.push(id);
    if (id !== leader) throw new SynodError('NOT_LEADER', `${id} does not lead`, { leader });
    return { kind: 'split.op-done', body: { split: env.group, generation: 1, detail: { by: id } } };
  });
  closers.push(() => bus.close());
  return bus;
}

const transfer: SendAction = { type: 'send', opId: 'op1', step: 'transfer', group: 's1', target: { kind: 'leader', candidates: ['n2', 'n3', 'n1'] }, request: { kind: 'split.transfer', body: { to: 'n2' } } };

describe('SplitRequester', () => {
  it("follows a NOT_LEADER hint to the split's leader, then goes there first", async () => {
    const hub = new MemoryHub();
    const asked: string[] = [];
    for (const id of ['n1', 'n2', 'n3']) await node(hub, id, asked, 'n1');
    const me = await node(hub, 'placement', [], 'x');
    const r = new SplitRequester(me, 500);
    expect(await r.send(transfer)).toEqual({ ok: true, detail: { by: 'n1' } });
    expect(asked).toEqual(['n2', 'n1']);
    expect(await r.send(transfer)).toMatchObject({ ok: true });
    expect(asked).toEqual(['n2', 'n1', 'n1']);
  });

  it('gives up after a bounded number of attempts when no replica leads', async () => {
    const hub = new MemoryHub();
    const asked: string[] = [];
    for (const id of ['n1', 'n2', 'n3']) await node(hub, id, asked, 'nobody');
    const me = await node(hub, 'placement', [], 'x');
    expect(await new SplitRequester(me, 500).send(transfer)).toMatchObject({ ok: false, code: 'NOT_LEADER' });
    expect(asked.length).toBe(6);
  });
});
