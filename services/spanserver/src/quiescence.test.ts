import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RangeMap } from '@synod/placement';
import { MemoryHub } from '@synod/transport';
import { SplitTxnCore } from '@synod/txn';
import { startInMemoryClient, startInMemoryNode, type InMemoryNode } from './in-memory-node.fixture.js';

/**
 * Quiescent splits (docs/spanserver.md, "Quiescent splits"): with no client request for
 * quiesceAfter, every split's group goes quiet (no heartbeats, no closed timestamps); the first
 * request wakes it and is served: a strong read and a write at the leader, a bounded-staleness
 * read at a follower that needs t_safe to move on.
 */
const NODES = [
  { id: 'n1', dc: 'dc-a' },
  { id: 'n2', dc: 'dc-b' },
  { id: 'n3', dc: 'dc-c' },
];
const rangeMap = RangeMap.uniform(NODES, ['g', 'm', 't']);
const SPLITS = rangeMap.all().map((s) => s.id);
const QUIESCE_AFTER_MS = 500;
const hub = new MemoryHub();
const stops: Array<() => Promise<void>> = [];
const nodes: InMemoryNode[] = [];
let dir: string;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await sleep(10);
  }
}

const allQuiet = () => nodes.every((n) => n.server.status().quietGroups === SPLITS.length);
const leaderOf = (split: string) => nodes.find((n) => n.host.replica(split)!.isLeader());

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'synod-quiet-splits-'));
  for (const n of NODES) {
    const node = await startInMemoryNode(hub, { ...n, path: join(dir, n.id), rangeMap }, { host: { quiesceAfterUs: QUIESCE_AFTER_MS * 1000, beatIntervalMs: 50, livenessTimeoutMs: 500 } });
    nodes.push(node);
    stops.push(node.stop);
  }
}, 30_000);

afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('quiescent splits', { timeout: 60_000 }, () => {
  it('idle splits go quiet: node.status counts them, and only node beats still flow', async () => {
    const c = await startInMemoryClient(hub, 'client-q1', 'dc-a', rangeMap);
    try {
      for (const [i, s] of rangeMap.all().entries()) await c.client.put(`${s.start}k${i}`, i);
    } finally {
      await c.close();
    }
    await until(allQuiet);
    const st = nodes[0]!.server.status();
    expect(st.quietGroups).toBe(SPLITS.length);
    expect(st.groups.every((g) => g.quiet)).toBe(true);
    const before = nodes.reduce((s, n) => s + n.bus.stats().received, 0);
    await sleep(1_000);
    const perSecond = nodes.reduce((s, n) => s + n.bus.stats().received, 0) - before;
    // Node beats: 3 nodes × 2 peers × 20 a second = 120. Awake, 4 splits send 4 × 2 × 20 heartbeats,
    // as many acks and closed timestamps: 480 a second. Generous: it is one or the other.
    console.log(`quiet cluster, ${SPLITS.length} splits: ${perSecond} messages delivered in 1 s`);
    expect(perSecond).toBeLessThan(240);
  });

  it("a quiet split's core is left alone: neither the poll nor its wake timer ticks it", async () => {
    await until(allQuiet);
    let ticks = 0;
    const tick = SplitTxnCore.prototype.tick;
    SplitTxnCore.prototype.tick = function (this: SplitTxnCore, now) {
      ticks++;
      return tick.call(this, now);
    };
    try {
      await sleep(1_000);
    } finally {
      SplitTxnCore.prototype.tick = tick;
    }
    // Awake, each leader's core is polled 40 times a second; a quiet leader's core that asked for a
    // closed-timestamp wake it cannot act on without a lease was re-ticked every millisecond.
    console.log(`core ticks in 1 s with every split quiet: ${ticks}`);
    expect(allQuiet()).toBe(true);
    expect(ticks).toBeLessThan(SPLITS.length * 10);
  });

  it('the first request to a quiet leader is answered by it, not refused: strong read and commit, sent straight to it (no client retry)', async () => {
    await until(allQuiet);
    const split = rangeMap.all()[3]!;
    const leader = leaderOf(split.id)!;
    const other = nodes.find((n) => n !== leader)!;
    const key = `${split.start}k3`;
    let t0 = performance.now();
    const read = await other.bus.request(leader.id, 'kv.snapshot', { keys: [key] }, { group: split.id, timeoutMs: 5_000 });
    const firstReadMs = performance.now() - t0;
    expect((read.body as { values: Array<{ value?: unknown }> }).values[0]!.value).toBe(3);
    t0 = performance.now();
    await other.bus.request(leader.id, 'kv.snapshot', { keys: [key] }, { group: split.id, timeoutMs: 5_000 });
    const secondReadMs = performance.now() - t0;
    await until(allQuiet);
    t0 = performance.now();
    const startTs = Math.round((performance.timeOrigin + performance.now()) * 1000);
    await other.bus.request(leader.id, 'kv.commit', { txn: { id: 'quiet-commit-1', startTs }, writes: [{ key, value: 'c' }] }, { group: split.id, timeoutMs: 5_000 });
    const commitMs = performance.now() - t0;
    console.log(`at a quiet leader: first strong read ${firstReadMs.toFixed(1)} ms, the next ${secondReadMs.toFixed(1)} ms; first commit ${commitMs.toFixed(1)} ms`);
  });

  it('a strong read and a write at a quiet split are served, and the split goes quiet again', async () => {
    await until(allQuiet);
    const split = rangeMap.all()[1]!;
    const leader = leaderOf(split.id)!;
    const c = await startInMemoryClient(hub, 'client-q2', NODES.find((n) => n.id === leader.id)!.dc, rangeMap);
    try {
      expect(await c.client.get(`${split.start}k1`)).toBe(1);
      await c.client.put(`${split.start}k1`, 'woken');
      expect(await c.client.get(`${split.start}k1`)).toBe('woken');
    } finally {
      await c.close();
    }
    await until(allQuiet);
  });

  it('a bounded-staleness read at a quiet follower wakes the leader and waits for t_safe to pass its bound', async () => {
    await until(allQuiet);
    const split = rangeMap.all()[2]!;
    const leader = leaderOf(split.id)!;
    const follower = nodes.find((n) => n !== leader)!;
    // The client sits in the follower's DC: its nearest replica is the follower.
    const c = await startInMemoryClient(hub, 'client-q3', NODES.find((n) => n.id === follower.id)!.dc, rangeMap);
    try {
      // Quiet for over quiesceAfter: the follower's t_safe is older than 100 ms, so it must move on first.
      await sleep(QUIESCE_AFTER_MS);
      expect(follower.host.replica(split.id)!.isQuiet()).toBe(true);
      const r = await c.client.read([`${split.start}k2`], { maxStalenessMs: 100 });
      expect(r.values.get(`${split.start}k2`)).toBe(2);
    } finally {
      await c.close();
    }
    expect(leader.host.replica(split.id)!.isQuiet()).toBe(false);
    await until(allQuiet);
  });
});
