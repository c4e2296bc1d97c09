/**
 * Runs etcd's own write benchmark (`etcdctl check perf`) against a 3-member etcd cluster on
 * loopback, so synod's figures can be read next to etcd's from the same run on the same machine.
 * Needs the Debian packages etcd-server and etcd-client (3.4); returns undefined without them.
 * The members start as in `bench:vs-etcd` (vs-etcd/etcd-cluster.ts, the one implementation).
 */
import { etcdctlCheckPerf, etcdInstalled, startEtcdCluster, type CheckPerfResult } from './vs-etcd/etcd-cluster.js';

export type EtcdResult = CheckPerfResult;

export async function etcdCheckPerf(load = 'xl'): Promise<EtcdResult | undefined> {
  if (!etcdInstalled()) return undefined;
  const cluster = await startEtcdCluster();
  try {
    return etcdctlCheckPerf(cluster, load);
  } finally {
    await cluster.stop();
  }
}
