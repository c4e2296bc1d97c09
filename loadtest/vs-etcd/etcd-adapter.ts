/** The four workloads through the `etcd3` npm client, one client per loop, each on one member. */
import { Etcd3, type Isolation } from 'etcd3';
import type { Adapter } from './driver.js';
import type { EtcdMember } from './etcd-cluster.js';
import { counterOf, valueWithCounter } from './report.js';

/** STM attempts per rmw2 before it fails (etcd3's default is 3). */
export const ETCD_STM_RETRIES = 20;
/** etcd3's `Isolation.Serializable` (a const enum, which tsx cannot inline from a .d.ts). */
const STM_SERIALIZABLE = 1 as Isolation;

export function etcdAdapter(member: EtcdMember): Adapter {
  // One host: the loop talks to its member only, as a synod loop talks to its DC.
  const client = new Etcd3({ hosts: member.url });
  return {
    at: member.name,
    async put(key, value) {
      await client.put(key).value(value);
      return 0;
    },
    async strongGet(key) {
      // etcd's default range is linearizable (ReadIndex through the leader, served by this member).
      await client.get(key).string();
      return 0;
    },
    async staleGet(key) {
      // Serializable: served by this member from its own state, without asking the leader.
      await client.get(key).serializable(true).string();
      return 0;
    },
    async rmw2(keyA, keyB) {
      let attempts = 0;
      // STM at Serializable isolation: every read at the first read's revision, commit only if no
      // key read has changed since (the read set holds the write set, so this is the Go STM's
      // read-modify-write). Not etcd3's default SerializableSnapshot: its write check compares the
      // written keys with the *earliest mod revision* read (not the read revision), so two keys
      // last written at different revisions conflict on every attempt (measured: every rmw2
      // failed after all its retries, even at 1 client).
      await client.stm({ retries: ETCD_STM_RETRIES, isolation: STM_SERIALIZABLE }).transact(async (tx) => {
        attempts++;
        const [a, b] = await Promise.all([tx.get(keyA).string(), tx.get(keyB).string()]);
        await Promise.all([tx.put(keyA).value(valueWithCounter(counterOf(a) + 1)), tx.put(keyB).value(valueWithCounter(counterOf(b) + 1))]);
      });
      return attempts - 1;
    },
    async close() {
      client.close();
    },
  };
}

/** etcd's per-member count of ranges served (from its /metrics), by member name; undefined where not exported. */
export async function etcdRangesServed(members: EtcdMember[]): Promise<Record<string, number | undefined>> {
  const out: Record<string, number | undefined> = {};
  for (const m of members) {
    try {
      const text = await (await fetch(`${m.url}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
      const line = text.split('\n').find((l) => /^etcd_mvcc_range_total(\{[^}]*\})? /.test(l) || /^etcd_debugging_mvcc_range_total(\{[^}]*\})? /.test(l));
      out[m.name] = line ? Number(line.split(' ').at(-1)) : undefined;
    } catch {
      out[m.name] = undefined;
    }
  }
  return out;
}
