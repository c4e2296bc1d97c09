import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SynodClient } from '@synod/client';
import { collectStatus, launchCluster, waitForLeaders, type LaunchedCluster } from '@synod/cli';
import { afterAll, beforeAll } from 'vitest';
import { connectBus, type Bus } from '@synod/transport';

export interface TestClusterOptions {
  syncIntervalMs?: number;
  /** daemon (default): time masters and a sync daemon per spanserver; local: fixed ε of epsilonMs. */
  truetime?: 'daemon' | 'local';
  epsilonMs?: number;
  /** local: ε (ms) of particular nodes by node id (n1 is dc-a's, n2 dc-b's, …); the others get epsilonMs. */
  epsilonMsByNode?: Record<string, number>;
  /** Keep data here (and leave it on stop) instead of a fresh temp dir: a restart reuses it. */
  dataDir?: string;
  /** Spanservers per DC (default 1): n1…n(3N), DCs round-robin (see synod up --nodes-per-dc). */
  nodesPerDc?: number;
  /** auto: one placement replica per DC when the placement service can run; off (default): none. */
  placementService?: 'auto' | 'off';
  /** Extra flags for every placement replica (planner thresholds). */
  placementArgs?: string[];
}

export interface TestCluster {
  dir: string;
  cluster: LaunchedCluster;
  buses: Bus[];
  client(dc: string, name: string): Promise<SynodClient>;
  leaderOf(split: string): Promise<number>;
  stop(): Promise<void>;
}

/** Three spanserver processes (dc-a, dc-b, dc-c) and a nats-server, data in a temp dir. */
export async function startTestCluster(opts: TestClusterOptions = {}): Promise<TestCluster> {
  const { dataDir, ...launch } = opts;
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'synod-cluster-'));
  const cluster = await launchCluster({ dataDir: dir, dcs: 3, splitKeys: ['g', 'p'], cluster: 'synod', ...launch });
  const buses: Bus[] = [];
  const control = await connectBus(cluster.info.natsUrl, { nodeId: 'test-control', dc: 'control' });
  buses.push(control);
  try {
    await waitForLeaders(control, cluster);
  } catch (err) {
    // Leave no processes behind when the cluster never became ready.
    await control.close().catch(() => undefined);
    await cluster.stop();
    if (!dataDir) rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    dir,
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
      if (!dataDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts a test cluster before the file's tests and stops it after; call the result for it. */
export function useTestCluster(opts: TestClusterOptions = {}): () => TestCluster {
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

/**
 * Polls `probe` until it returns a value other than undefined; throws naming `what` after
 * `timeoutMs`, or at once when `failIf` returns a reason (e.g. a process died).
 */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined, opts: { everyMs?: number; failIf?: () => string | undefined } = {}): Promise<T> {
  const end = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    const fail = opts.failIf?.();
    if (fail) throw new Error(`while waiting for ${what}: ${fail}`);
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() >= end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (last error: ${String((lastErr as Error).message ?? lastErr)})` : ''}`);
    await sleep(opts.everyMs ?? 100);
  }
}

type StatusGroup = NonNullable<Awaited<ReturnType<typeof collectStatus>>[number]['status']>['groups'][number];

/** Every node's view of one split's group (undefined where the node did not answer). */
export async function groupStatus(tc: TestCluster, split: string): Promise<Array<{ node: string; dc: string; group?: StatusGroup; error?: string }>> {
  const rows = await collectStatus(tc.buses[0]!, tc.cluster.rangeMap.nodes());
  return rows.map((r) => ({ node: r.node, dc: r.dc, ...(r.status ? { group: r.status.groups.find((g) => g.id === split) } : { error: r.error }) }));
}

/**
 * Processes of the cluster (spanservers and time masters) that have exited, with their exit
 * code or signal and the last lines of their stderr. Empty while every process is up.
 */
export function exitedProcesses(tc: TestCluster): Array<{ name: string; code: number | null; signal: string | null; stderr: string[] }> {
  return [...tc.cluster.nodes, ...tc.cluster.masters]
    .filter((c) => c.proc.exitCode !== null || c.proc.signalCode !== null)
    .map((c) => ({ name: c.name, code: c.proc.exitCode, signal: c.proc.signalCode, stderr: c.stderrTail.slice(-8) }));
}

/** For waitFor's failIf: a description of the processes that exited, or undefined. */
export const anyExited = (tc: TestCluster) => (): string | undefined => {
  const down = exitedProcesses(tc);
  return down.length > 0 ? `processes exited: ${JSON.stringify(down)}` : undefined;
};

/**
 * The index (in the range map's nodes) of the leader of `split` once every node agrees on it:
 * exactly one node says it leads, every node names it as the leader, twice in a row ~100 ms
 * apart. Unlike `leaderOf`, never a deposed leader that still believes it leads.
 */
export async function agreedLeaderOf(tc: TestCluster, split: string, timeoutMs = 15_000): Promise<number> {
  const nodes = tc.cluster.rangeMap.nodes();
  let last: string | undefined;
  const id = await waitFor(`every node to agree on the leader of ${split}`, timeoutMs, async () => {
    const rows = await groupStatus(tc, split);
    const leaders = rows.filter((r) => r.group?.isLeader).map((r) => r.node);
    const agreed = leaders.length === 1 && rows.every((r) => r.group?.leader === leaders[0]) ? leaders[0] : undefined;
    const stable = agreed !== undefined && agreed === last ? agreed : undefined;
    last = agreed;
    return stable;
  }, { failIf: anyExited(tc) });
  return nodes.findIndex((n) => n.id === id);
}
