import type { SynodClient } from '@synod/client';
import { SynodError } from '@synod/codec';
import { describe, expect, it } from 'vitest';
import { ClusterReach } from './cluster.js';

/** A client whose status requests fail while `down` is set. */
function fakeClient(state: { down: boolean; asked: string[]; leaderless?: boolean }): SynodClient {
  return {
    rangeMap: { nodes: () => [{ id: 'n1', dc: 'dc-a' }, { id: 'n2', dc: 'dc-b' }] },
    bus: {
      request: async (node: string) => {
        state.asked.push(node);
        if (state.down) throw new SynodError('TIMEOUT', 'no answer');
        // s2 without a leader, s3 naming one whose closed timestamps stopped coming 6 s ago.
        const led = { id: 's1', leader: 'n1', tSafe: 99_000_000 };
        return { body: { tt: { latest: 100_000_000 }, groups: state.leaderless ? [led, { id: 's2', leader: null, tSafe: 99_000_000 }, { id: 's3', leader: 'n1', tSafe: 94_000_000 }] : [led] } };
      },
    },
  } as unknown as SynodClient;
}

describe('ClusterReach (/readyz)', () => {
  it('is not ready before the cluster answered, ready after, and not ready once answers stop for the window', async () => {
    let t = 1_000;
    const state = { down: true, asked: [] as string[] };
    const reach = new ClusterReach(fakeClient(state), 5_000, () => t);
    expect(reach.readiness()).toEqual({ ready: false, lastClusterOkAgoMs: null, leaderlessSplits: [] });
    await reach.probe();
    expect(reach.readiness().ready).toBe(false);
    state.down = false;
    await reach.probe();
    expect(reach.readiness()).toEqual({ ready: true, lastClusterOkAgoMs: 0, leaderlessSplits: [] });
    state.down = true;
    t += 5_000;
    await reach.probe();
    expect(reach.readiness()).toEqual({ ready: true, lastClusterOkAgoMs: 5_000, leaderlessSplits: [] });
    t += 1;
    expect(reach.readiness().ready).toBe(false);
    // A request that reached the cluster counts as well.
    reach.ok();
    expect(reach.readiness().ready).toBe(true);
    // The probe asks the nodes in turn.
    expect(state.asked).toEqual(['n1', 'n2', 'n1']);
  });

  it('is not ready while the spanserver that answered hears no live leader for a split (none, or t_safe 5 s behind: a gateway cut off with a minority), even if other calls succeed', async () => {
    let t = 1_000;
    const state = { down: false, asked: [] as string[], leaderless: false };
    const reach = new ClusterReach(fakeClient(state), 5_000, () => t);
    await reach.probe();
    expect(reach.readiness().ready).toBe(true);
    state.leaderless = true;
    t += 100;
    await reach.probe();
    expect(reach.readiness()).toEqual({ ready: false, lastClusterOkAgoMs: 100, leaderlessSplits: ['s2', 's3'] });
    // A stale read served in the minority's DC succeeds, and still does not make it ready.
    reach.ok();
    expect(reach.readiness().ready).toBe(false);
    state.leaderless = false;
    await reach.probe();
    expect(reach.readiness()).toEqual({ ready: true, lastClusterOkAgoMs: 0, leaderlessSplits: [] });
  });

  it('lets an error that is not the cluster\'s surface (a bug) instead of reading it as not ready', async () => {
    const client = { rangeMap: { nodes: () => [{ id: 'n1', dc: 'dc-a' }] }, bus: { request: async () => { throw new TypeError('bug'); } } } as unknown as SynodClient;
    await expect(new ClusterReach(client, 1_000).probe()).rejects.toThrow('bug');
  });
});
