import type { PaxosHost } from '@synod/paxos-host';

/** Stops hosting `group`'s replica in `host` (split.drop): no more messages, ticks or applies. */
export async function removeReplica(host: PaxosHost, group: string): Promise<void> {
  await host.removeGroup(group);
}
