import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SynodClient } from '@synod/client';
import { collectStatus, launchCluster, waitForLeaders, type LaunchedCluster } from '@synod/cli';
import { afterAll, beforeAll } from 'vitest';
import { connectBus, type Bus } from '@synod/transport';

export interface TestCluster {
  cluster: LaunchedCluster;
  buses: Bus[];
  client(dc: string, name: string): Promise<SynodClient>;
  leaderOf(split: string): Promise<number>;
  stop(): Promise<void>;
}

/** Three spanserver processes (dc-a, dc-b, dc-c) and a nats-server, data in a temp dir. */
export async function startTestCluster(opts: { syncIntervalMs?: number } = {}): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'synod-cluster-'));
  const cluster = await launchCluster({ dataDir: dir, dcs: 3, splitKeys: ['g', 'p'], cluster: 'synod', ...opts });
  const buses: Bus[] = [];
  const control = await connectBus(cluster.info.natsUrl, { nodeId: 'test-control', dc: 'control' });
  buses.push(control);
  await waitForLeaders(control, cluster);
  return {
    cluster,
    buses,
    async client(dc, name) {
      const bus = await connectBus(cluster.info.natsUrl, { nodeId: name, dc });
      buses.push(bus);
      return new SynodClient(bus, cluster.rangeMap, { timeoutMs: 2_000 });
    },
    async leaderOf(split) {
      for (let i = 0; i < 200; i++) {
        const rows = await collectStatus(control, cluster.rangeMap.nodes());
        // Several may believe they lead for a moment; the newest applied view wins.
        const at = rows.findIndex((r) => r.status?.groups.some((g) => g.id === split && g.isLeader));
        if (at >= 0) return at;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no leader for ${split}`);
    },
    async stop() {
      for (const b of buses) await b.close();
      await cluster.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts a test cluster before the file's tests and stops it after; call the result for it. */
export function useTestCluster(opts: { syncIntervalMs?: number } = {}): () => TestCluster {
  let tc: TestCluster | undefined;
  beforeAll(async () => {
    tc = await startTestCluster(opts);
  }, 60_000);
  afterAll(async () => {
    await tc?.stop();
  });
  return () => {
    if (!tc) throw new Error('the test cluster did not start');
    return tc;
  };
}
