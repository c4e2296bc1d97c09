/**
 * Metrics and health on every process (docs/metrics.md), over one real 3-DC cluster: three
 * spanservers, three time masters, three placement replicas and a gateway. Each process's
 * /metrics is scraped and parsed strictly as Prometheus text; a small workload (commits, reads,
 * a wound-wait abort, malformed bus messages) moves the documented metrics; a skewed clock turns
 * a spanserver's /readyz to 503 while its /healthz stays 200, and removing the skew brings it back.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'nats';
import { subjects } from '@synod/transport';
import { startGateway, api, type GatewayProcess } from '../gateway/gateway-process.js';
import { sleep, useTestCluster, waitFor, anyExited } from '../cluster/helpers.js';
import { parsePromText, sumOf, type Family } from './prom-text.js';

const cluster = useTestCluster({ syncIntervalMs: 2_000, placementService: 'auto' });
let gateway: GatewayProcess | undefined;

beforeAll(async () => {
  gateway = await startGateway(['--insecure', '--cluster-file', join(cluster().dir, 'cluster.json')]);
}, 30_000);
afterAll(async () => {
  await gateway?.stop();
});

async function httpGet(url: string): Promise<{ status: number; body: string }> {
  const r = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return { status: r.status, body: await r.text() };
}

async function scrape(base: string): Promise<Map<string, Family>> {
  const r = await httpGet(`${base}/metrics`);
  expect(r.status, `${base}/metrics`).toBe(200);
  return parsePromText(r.body);
}

/** Every process's metrics endpoint, by name, as cluster.json lists them. */
function endpoints(): Record<string, string> {
  const m = cluster().cluster.info.metrics;
  if (!m) throw new Error('cluster.json lists no metrics endpoints');
  return m;
}

const spanservers = () => cluster().cluster.rangeMap.nodes().map((n) => n.id);
const histCount = (f: Map<string, Family>, name: string, match: Record<string, string> = {}) => sumOf(f, name, match, `${name}_count`);
/** Sum over every spanserver of a value read from its scrape. */
async function overSpanservers(read: (f: Map<string, Family>) => number): Promise<number> {
  let sum = 0;
  for (const id of spanservers()) sum += read(await scrape(endpoints()[id]!));
  return sum;
}

describe('metrics on every process', () => {
  it('every process serves parseable /metrics, /healthz 200 and /readyz 200', async () => {
    const tc = cluster();
    const names = Object.keys(endpoints()).sort();
    // 3 spanservers, 3 time masters, 3 placement replicas.
    expect(names).toEqual([...spanservers(), 'p1', 'p2', 'p3', 'tm-dc-a', 'tm-dc-b', 'tm-dc-c'].sort());
    for (const name of names) {
      const base = endpoints()[name]!;
      expect((await httpGet(`${base}/healthz`)).status, `${name} /healthz`).toBe(200);
      await waitFor(`${name} /readyz 200`, 15_000, async () => ((await httpGet(`${base}/readyz`)).status === 200 ? true : undefined), { failIf: anyExited(tc) });
      const f = await scrape(base);
      expect(f.get('process_resident_memory_bytes')?.type, `${name} process metrics`).toBe('gauge');
      expect(sumOf(f, 'synod_bus_received_total'), `${name} receives bus traffic`).toBeGreaterThan(0);
    }
    // Spanservers: ε, per-split leader and t_safe lag; exactly one leader per split across them.
    for (const split of tc.cluster.rangeMap.all().map((s) => s.id)) {
      const leaders = await waitFor(`one leader of ${split}`, 10_000, async () => {
        const n = await overSpanservers((f) => sumOf(f, 'synod_split_leader', { split }));
        return n === 1 ? n : undefined;
      });
      expect(leaders).toBe(1);
    }
    for (const id of spanservers()) {
      // Serving (a sync under a loaded host can stop it for a moment; /readyz says so too).
      const f = await waitFor(`${id} synod_truetime_serving 1`, 10_000, async () => {
        const s = await scrape(endpoints()[id]!);
        return sumOf(s, 'synod_truetime_serving') === 1 ? s : undefined;
      });
      expect(sumOf(f, 'synod_truetime_epsilon_us'), `${id} ε`).toBeGreaterThan(0);
      expect(sumOf(f, 'synod_truetime_now_epsilon_us'), `${id} ε now`).toBeGreaterThan(0);
      expect(f.get('synod_split_tsafe_lag_seconds')?.samples.length, `${id} t_safe lag per split`).toBe(tc.cluster.rangeMap.all().length);
      for (const s of f.get('synod_split_tsafe_lag_seconds')!.samples) expect(s.value).toBeLessThan(5);
    }
    // Time masters answer; one placement replica leads.
    for (const dc of ['dc-a', 'dc-b', 'dc-c']) expect(sumOf(await scrape(endpoints()[`tm-${dc}`]!), 'synod_timemaster_answering'), `tm-${dc}`).toBe(1);
    const placementLeaders = await waitFor('one placement leader', 10_000, async () => {
      let n = 0;
      for (const p of ['p1', 'p2', 'p3']) n += sumOf(await scrape(endpoints()[p]!), 'synod_placement_leader');
      return n === 1 ? n : undefined;
    });
    expect(placementLeaders).toBe(1);
  }, 60_000);

  it('a small workload moves the latency histograms, the abort and dropped-message counters, and the gateway metrics', async () => {
    const tc = cluster();
    const before = {
      commits: await overSpanservers((f) => histCount(f, 'synod_commit_latency_seconds', { outcome: 'ok' })),
      commitWaits: await overSpanservers((f) => histCount(f, 'synod_commit_wait_seconds')),
      snapshotReads: await overSpanservers((f) => histCount(f, 'synod_read_latency_seconds', { kind: 'kv.snapshot', outcome: 'ok' })),
      txnReads: await overSpanservers((f) => histCount(f, 'synod_read_latency_seconds', { kind: 'kv.read', outcome: 'ok' })),
      paxos: await overSpanservers((f) => histCount(f, 'synod_paxos_commit_seconds', { outcome: 'ok' })),
      persists: await overSpanservers((f) => histCount(f, 'synod_storage_persist_seconds')),
      wounded: await overSpanservers((f) => sumOf(f, 'synod_txn_aborts_total', { cause: 'wounded' })),
    };
    const client = await tc.client('dc-a', 'metrics-workload');
    const COMMITS = 10;
    for (let i = 0; i < COMMITS; i++) await client.put(`metrics/${i}`, i);
    for (let i = 0; i < 5; i++) await client.read([`metrics/${i}`]);
    await client.transaction(async (tx) => tx.put('metrics/rw', (Number(await tx.get('metrics/0')) || 0) + 1));

    // Wound-wait: the older transaction's commit needs the lock the younger one's read holds, so
    // the younger is wounded; its commit is refused TXN_ABORTED and it retries.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const older = client.transaction(async (tx) => {
      await gate;
      tx.put('metrics/contended', 'older');
    });
    await sleep(10);
    const younger = client.transaction(async (tx) => {
      await tx.get('metrics/contended');
      release();
      await sleep(500);
      tx.put('metrics/contended', 'younger');
    });
    const [o, y] = await Promise.all([older, younger]);
    expect(o.attempts).toBe(1);
    expect(y.attempts, 'the younger transaction was wounded and retried').toBeGreaterThan(1);

    const after = {
      commits: await overSpanservers((f) => histCount(f, 'synod_commit_latency_seconds', { outcome: 'ok' })),
      commitWaits: await overSpanservers((f) => histCount(f, 'synod_commit_wait_seconds')),
      snapshotReads: await overSpanservers((f) => histCount(f, 'synod_read_latency_seconds', { kind: 'kv.snapshot', outcome: 'ok' })),
      txnReads: await overSpanservers((f) => histCount(f, 'synod_read_latency_seconds', { kind: 'kv.read', outcome: 'ok' })),
      paxos: await overSpanservers((f) => histCount(f, 'synod_paxos_commit_seconds', { outcome: 'ok' })),
      persists: await overSpanservers((f) => histCount(f, 'synod_storage_persist_seconds')),
      wounded: await overSpanservers((f) => sumOf(f, 'synod_txn_aborts_total', { cause: 'wounded' })),
    };
    // Each put is one commit (plus the rw transaction and the two contenders' successful commits).
    expect(after.commits - before.commits).toBeGreaterThanOrEqual(COMMITS + 3);
    expect(after.commitWaits - before.commitWaits).toBeGreaterThanOrEqual(COMMITS + 3);
    expect(after.snapshotReads - before.snapshotReads).toBeGreaterThanOrEqual(5);
    expect(after.txnReads - before.txnReads).toBeGreaterThanOrEqual(3);
    expect(after.paxos - before.paxos).toBeGreaterThanOrEqual(COMMITS);
    // Every replica persists every accepted entry: at least one persist per commit per replica.
    expect(after.persists - before.persists).toBeGreaterThanOrEqual(3 * COMMITS);
    expect(after.wounded - before.wounded).toBeGreaterThanOrEqual(1);
    console.log(`[metrics] workload deltas: ${JSON.stringify(Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k as keyof typeof before]])))}`);

    // Malformed bytes on a spanserver's inbox are dropped and counted by reason.
    const victim = spanservers()[0]!;
    const droppedBefore = sumOf(await scrape(endpoints()[victim]!), 'synod_bus_dropped_total');
    const nc = await connect({ servers: tc.cluster.info.natsUrl });
    for (let i = 0; i < 3; i++) nc.publish(subjects('synod').node(victim), new Uint8Array([0xc1, 0xff, i]));
    await nc.flush();
    await nc.close();
    const dropped = await waitFor('the malformed messages counted', 5_000, async () => {
      const f = await scrape(endpoints()[victim]!);
      const n = sumOf(f, 'synod_bus_dropped_total') - droppedBefore;
      return n >= 3 ? f.get('synod_bus_dropped_total')!.samples.filter((s) => s.value > 0).map((s) => s.labels.reason) : undefined;
    });
    expect(dropped.length).toBeGreaterThan(0);

    // The gateway: requests through it are timed by route, and its client's bus is counted.
    const gw = gateway!;
    expect((await api(gw.url, 'PUT', '/v1/kv/metrics-gw', { body: { value: 1 } })).status).toBe(200);
    expect((await api(gw.url, 'GET', '/v1/kv/metrics-gw')).status).toBe(200);
    expect((await httpGet(`${gw.url}/healthz`)).status).toBe(200);
    const g = parsePromText((await httpGet(`${gw.url}/metrics`)).body);
    expect(histCount(g, 'synod_gateway_request_seconds', { route: '/v1/kv/*', method: 'PUT', status: '200' })).toBeGreaterThanOrEqual(1);
    expect(histCount(g, 'synod_gateway_request_seconds', { route: '/v1/kv/*', method: 'GET', status: '200' })).toBeGreaterThanOrEqual(1);
    expect(g.get('process_resident_memory_bytes')?.type).toBe('gauge');
  }, 90_000);

  it('a skewed spanserver is not ready (503) while it stays alive (200); leadership moves and is counted; removing the skew makes it ready again', async () => {
    const tc = cluster();
    const nodes = tc.cluster.rangeMap.nodes();
    const split = tc.cluster.rangeMap.splitFor('metrics/0').id;
    const victim = nodes[await tc.leaderOf(split)]!.id;
    const base = endpoints()[victim]!;
    const changesBefore = await overSpanservers((f) => sumOf(f, 'synod_split_leader_changes_total', { split }));
    expect((await httpGet(`${base}/readyz`)).status).toBe(200);

    const t0 = Date.now();
    await tc.buses[0]!.broadcastChaos('clock.fault', { node: victim, skewMs: 300 });
    const notReady = await waitFor(`${victim} /readyz 503`, 10_000, async () => {
      const r = await httpGet(`${base}/readyz`);
      expect((await httpGet(`${base}/healthz`)).status, 'alive throughout').toBe(200);
      return r.status === 503 ? (JSON.parse(r.body) as { reasons: string[] }) : undefined;
    }, { everyMs: 50 });
    const notReadyAfterMs = Date.now() - t0;
    expect(notReady.reasons.join('; ')).toMatch(/clock/);
    expect(sumOf(await scrape(base), 'synod_truetime_serving')).toBe(0);
    // The others stay ready: the split gets a leader elsewhere.
    for (const n of nodes.filter((x) => x.id !== victim)) {
      await waitFor(`${n.id} /readyz 200 while ${victim} is skewed`, 15_000, async () => ((await httpGet(`${endpoints()[n.id]!}/readyz`)).status === 200 ? true : undefined));
    }
    const changes = await waitFor('the leader change counted', 15_000, async () => {
      const n = await overSpanservers((f) => sumOf(f, 'synod_split_leader_changes_total', { split }));
      return n > changesBefore ? n : undefined;
    });
    expect(changes).toBeGreaterThan(changesBefore);

    await tc.buses[0]!.broadcastChaos('clock.fault', { node: victim, skewMs: 0 });
    await waitFor(`${victim} /readyz 200 again`, 20_000, async () => ((await httpGet(`${base}/readyz`)).status === 200 ? true : undefined), { failIf: anyExited(tc) });
    console.log(`[timing] ${victim} /readyz 503 after ${notReadyAfterMs} ms of a 300 ms skew; ready again ${Date.now() - t0} ms after the skew began`);
  }, 90_000);
});
