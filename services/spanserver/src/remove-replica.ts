import type { PaxosHost } from '@synod/paxos-host';

/**
 * Stops hosting `group`'s replica in `host`: no more messages, ticks or applies. The one place
 * the spanserver removes a replica (split.drop), to be wired to `PaxosHost.removeGroup` once it
 * exists. Until then it takes the group out of the host's table directly (the host keeps no
 * other per-group state: its ticker and message handler look groups up there) after its last
 * persist has settled.
 */
export async function removeReplica(host: PaxosHost, group: string): Promise<void> {
  const h = host as unknown as { removeGroup?: (g: string) => Promise<void>; groups?: Map<string, { lastPersist: Promise<void> }> };
  if (typeof h.removeGroup === 'function') return h.removeGroup(group);
  const g = h.groups?.get(group);
  if (!g) return;
  h.groups!.delete(group);
  await g.lastPersist.catch(() => undefined);
}
