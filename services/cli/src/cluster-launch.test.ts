import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SynodClient } from '@synod/client';
import { connectBus, type Bus } from '@synod/transport';
import { launchCluster, type ClusterFile, type LaunchedCluster } from './cluster-launch.js';
import { waitForLeaders } from './up.js';

/**
 * `synod up --nodes-per-dc 2` with one DC, as real processes: two spanservers, each split on its
 * own one; the placement service asked for but unable to run is skipped with a log line, and the
 * cluster works by placement.json.
 */
describe('launchCluster with nodes per DC and the placement service', () => {
  const dir = mkdtempSync(join(tmpdir(), 'synod-launch-'));
  let cluster: LaunchedCluster | undefined;
  let bus: Bus | undefined;
  afterAll(async () => {
    await bus?.close();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('starts n1, n2 in dc-a with the splits spread over them, and skips a placement service that cannot run', async () => {
    const said: string[] = [];
    cluster = await launchCluster({
      dataDir: dir,
      dcs: 1,
      nodesPerDc: 2,
      splitKeys: ['m'],
      cluster: 'launch',
      truetime: 'local',
      placementService: 'auto',
      placementCheck: async () => 'test: no placement package here',
      say: (s) => said.push(s),
    });
    expect(cluster.rangeMap.nodes()).toEqual([
      { id: 'n1', dc: 'dc-a' },
      { id: 'n2', dc: 'dc-a' },
    ]);
    expect(cluster.rangeMap.all().map((s) => `${s.id}:${s.replicas.join(',')}`)).toEqual(['s1:n1', 's2:n2']);
    expect(cluster.nodes).toHaveLength(2);
    expect(cluster.placement).toEqual([]);
    expect(said).toContain(`placement     not started: test: no placement package here; clients route by ${join(dir, 'placement.json')} alone`);
    const written = JSON.parse(readFileSync(join(dir, 'placement.json'), 'utf8')) as { splits: Array<{ leaderDc?: string }> };
    expect(written.splits.map((s) => s.leaderDc)).toEqual(['dc-a', 'dc-a']);
    const info = JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8')) as ClusterFile;
    expect(info.placementNodes).toBeUndefined();

    bus = await connectBus(cluster.info.natsUrl, { nodeId: 'launch-test', dc: 'dc-a', cluster: 'launch' });
    await waitForLeaders(bus, cluster, 30_000);
    // Short refresh timeout: there is no placement service to ask.
    const client = new SynodClient(bus, cluster.rangeMap, { timeoutMs: 3_000, mapRefreshTimeoutMs: 200 });
    await client.put('apple', 1);
    await client.put('zebra', 2);
    expect((await client.read(['apple', 'zebra'])).values).toEqual(new Map([['apple', 1], ['zebra', 2]]));
    await cluster.stop();
    expect(existsSync(join(dir, 'cluster.json'))).toBe(false);
    cluster = undefined;
  }, 90_000);
});
