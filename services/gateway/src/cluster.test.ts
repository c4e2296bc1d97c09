import type { SynodClient } from '@synod/client';
import { SynodError } from '@synod/codec';
import { describe, expect, it } from 'vitest';
import { ClusterReach } from './cluster.js';

/** A client whose status requests fail while `down` is set. */
function fakeClient(state: { down: boolean; asked: string[] }): SynodClient {
  return {
    rangeMap: { nodes: () => [{ id: 'n1', dc: 'dc-a' }, { id: 'n2', dc: 'dc-b' }] },
    bus: {
      request: async (node: string) => {
        state.asked.push(node);
        if (state.down) throw new SynodError('TIMEOUT', 'no answer');
        return { body: {} };
      },
    },
  } as unknown as SynodClient;
}

describe('ClusterReach (/readyz)', () => {
  it('is not ready before the cluster answered, ready after, and not ready once answers stop for the window', async () => {
    let t = 1_000;
    const state = { down: true, asked: [] as string[] };
    const reach = new ClusterReach(fakeClient(state), 5_000, () => t);
    expect(reach.readiness()).toEqual({ ready: false, lastClusterOkAgoMs: null });
    await reach.probe();
    expect(reach.readiness().ready).toBe(false);
    state.down = false;
    await reach.probe();
    expect(reach.readiness()).toEqual({ ready: true, lastClusterOkAgoMs: 0 });
    state.down = true;
    t += 5_000;
    await reach.probe();
    expect(reach.readiness()).toEqual({ ready: true, lastClusterOkAgoMs: 5_000 });
    t += 1;
    expect(reach.readiness().ready).toBe(false);
    // A request that reached the cluster counts as well.
    reach.ok();
    expect(reach.readiness().ready).toBe(true);
    // The probe asks the nodes in turn.
    expect(state.asked).toEqual(['n1', 'n2', 'n1']);
  });

  it('lets an error that is not the cluster\'s surface (a bug) instead of reading it as not ready', async () => {
    const client = { rangeMap: { nodes: () => [{ id: 'n1', dc: 'dc-a' }] }, bus: { request: async () => { throw new TypeError('bug'); } } } as unknown as SynodClient;
    await expect(new ClusterReach(client, 1_000).probe()).rejects.toThrow('bug');
  });
});
