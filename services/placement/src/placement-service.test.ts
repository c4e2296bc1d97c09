import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SynodError, type Envelope, type MessageBody, type MessageInput, type MessageKind, type SplitReport } from '@synod/codec';
import { PaxosHost } from '@synod/paxos-host';
import { DEFAULT_THRESHOLDS, type RangeMapInput } from '@synod/placement';
import { openStorage } from '@synod/storage';
import { Bus, MemoryHub, subjects } from '@synod/transport';
import { PlacementService, type PlacementServiceOptions } from './placement-service.js';

const PEERS = [
  { id: 'p-a', dc: 'dc-a' },
  { id: 'p-b', dc: 'dc-b' },
  { id: 'p-c', dc: 'dc-c' },
];
const INITIAL: RangeMapInput = {
  nodes: [
    { id: 'n1', dc: 'dc-a' },
    { id: 'n2', dc: 'dc-b' },
    { id: 'n3', dc: 'dc-c' },
    { id: 'n4', dc: 'dc-c' },
  ],
  splits: [
    { id: 's1', start: '', end: 'm', replicas: ['n1', 'n2', 'n3'] },
    { id: 's2', start: 'm', end: '', replicas: ['n1', 'n2', 'n3'] },
  ],
};

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Replica {
  id: string;
  service: PlacementService;
  stop: () => Promise<void>;
  stopped: boolean;
}

async function startOne(hub: MemoryHub, dir: string, p: { id: string; dc: string }, snapshotIntervalEntries = 1_000, extra: Partial<PlacementServiceOptions> = {}): Promise<Replica> {
  const bus = new Bus(hub.wire(), { nodeId: p.id, dc: p.dc });
  await bus.start();
  const storage = openStorage({ path: join(dir, p.id), fsync: false });
  const host = new PaxosHost({ bus, storage, tickMs: 5 });
  const service = new PlacementService({
    bus,
    host,
    peers: PEERS.map((x) => x.id),
    initialMap: INITIAL,
    thresholds: { ...DEFAULT_THRESHOLDS, consecutiveReports: 3, cooldownUs: 60_000_000, balanceSlack: 99 },
    executorLimits: { maxAttempts: 5, catchUpAttempts: 20, backoffUs: 20_000, maxBackoffUs: 100_000 },
    planIntervalMs: 20,
    requestTimeoutMs: 300,
    tickMs: 10,
    heartbeatMs: 30,
    electionTimeoutMs: 300,
    snapshotIntervalEntries,
    ...extra,
  });
  await service.start();
  const r: Replica = {
    id: p.id,
    service,
    stopped: false,
    stop: async () => {
      if (r.stopped) return;
      r.stopped = true;
      await service.close();
      await host.close();
      await bus.close();
      await storage.close();
    },
  };
  cleanups.push(r.stop);
  return r;
}

async function startPlacement(hub: MemoryHub, dir: string, snapshotIntervalEntries?: number, extra: Partial<PlacementServiceOptions> = {}): Promise<Replica[]> {
  const out: Replica[] = [];
  for (const p of PEERS) out.push(await startOne(hub, dir, p, snapshotIntervalEntries, extra));
  return out;
}

type Received = Array<{ node: string; kind: MessageKind; group: string; body: unknown }>;

/**
 * Spanservers that answer every split request as done (n1 leads every split; the others point
 * at it with NOT_LEADER), recording what they were asked. `hold` can delay a reply.
 */
async function startFakeNodes(hub: MemoryHub, received: Received, hold: (env: Envelope) => Promise<void> = async () => {}) {
  const buses = new Map<string, Bus>();
  for (const n of INITIAL.nodes) {
    const bus = new Bus(hub.wire(), { nodeId: n.id, dc: n.dc });
    await bus.start();
    const done = async (env: Envelope, leaderOnly: boolean, detail: Record<string, string | number> = {}) => {
      if (leaderOnly && n.id !== 'n1') throw new SynodError('NOT_LEADER', `${n.id} does not lead ${env.group}`, { leader: 'n1' });
      received.push({ node: n.id, kind: env.kind, group: env.group, body: env.body });
      await hold(env);
      const generation = (env.body as { generation?: number }).generation ?? 0;
      return { kind: 'split.op-done' as const, body: { split: env.group, generation, detail } };
    };
    bus.on('split.cut', (env) => done(env, true, { atKey: env.body.atKey ?? 'g' }));
    bus.on('split.reconfigure', (env) => done(env, true));
    bus.on('split.transfer', (env) => done(env, true));
    bus.on('split.host', (env) => done(env, false));
    bus.on('split.drop', (env) => done(env, false));
    buses.set(n.id, bus);
    cleanups.push(() => bus.close());
  }
  return buses;
}

function report(split: { id: string; start: string; end: string }, generation: number, writesPerSec: number, loadMedianKey?: string): SplitReport {
  return { ...split, generation, leader: true, appliedIndex: 1, sizeBytes: 1000, keys: 10, writesPerSec, readsPerSec: 0, ...(loadMedianKey ? { loadMedianKey } : {}) };
}

async function client(hub: MemoryHub): Promise<Bus> {
  const bus = new Bus(hub.wire(), { nodeId: 'cli', dc: 'dc-a' });
  await bus.start();
  cleanups.push(() => bus.close());
  return bus;
}

const getMap = async (bus: Bus) => ((await bus.requestSubject(subjects(bus.cluster).placement, 'placement.get', {}, { timeoutMs: 1_000 })).body as MessageBody<'placement.map'>).map;

describe('PlacementService', () => {
  it('cuts a split its leader reports hot: split.cut at the load median, then the map at the next generation on every replica', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'synod-placement-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const hub = new MemoryHub();
    const received: Received = [];
    const nodes = await startFakeNodes(hub, received);
    // Snapshots every 2 entries, so the restart below goes through restore().
    const replicas = await startPlacement(hub, dir, 2);
    const cli = await client(hub);
    await until(() => replicas.every((r) => r.service.log.map() !== null), 'the seed on every replica');
    expect((await getMap(cli)).generation).toBe(1);

    // n1 leads s1 and reports 100 writes/s (over the threshold) around "g".
    const timer = setInterval(() => {
      for (const p of PEERS) nodes.get('n1')!.send(p.id, 'placement.report', { node: 'n1', dc: 'dc-a', at: 1, splits: [report({ id: 's1', start: '', end: 'm' }, 1, 100, 'g'), report({ id: 's2', start: 'm', end: '' }, 1, 1, 'q')] });
    }, 20);
    cleanups.push(() => clearInterval(timer));
    await until(() => replicas.every((r) => r.service.log.map()!.generation === 2 && r.service.log.current() === null), 'the cut on every replica');
    clearInterval(timer);

    const cuts = received.filter((r) => r.kind === 'split.cut');
    expect(cuts.map((c) => [c.node, c.group, c.body])).toEqual([['n1', 's1', { child: 's3', generation: 2, atKey: 'g' }]]);
    const map = await getMap(cli);
    expect(map.generation).toBe(2);
    expect(map.splits.map((s) => [s.id, s.start, s.end, s.generation])).toEqual([
      ['s1', '', 'g', 2],
      ['s3', 'g', 'm', 2],
      ['s2', 'm', '', 1],
    ]);
    for (const r of replicas) expect(r.service.log.state).toEqual(replicas[0]!.service.log.state);

    // A replica restarted on its data directory comes back with the cut map (snapshot + log tail).
    const last = replicas[2]!;
    await last.stop();
    const again = await startOne(hub, dir, PEERS[2]!, 2);
    // Restored at start-up, before any catch-up from its peers.
    expect(again.service.log.map()?.generation).toBe(2);
    await until(() => JSON.stringify(again.service.log.state) === JSON.stringify(replicas[0]!.service.log.state), 'the restarted replica to catch up');
  }, 20_000);

  it('resumes a move after its leader stops between steps, without redoing the logged ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'synod-placement-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const hub = new MemoryHub();
    const received: Received = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let held = false;
    let replicas: Replica[] = [];
    let leader: Replica | undefined;
    let stoppedAt = 0;
    // The first "add learner" reconfiguration stops the placement leader the moment it arrives
    // (before a heartbeat tells the followers that the host step is chosen) and is answered after.
    await startFakeNodes(hub, received, async (env) => {
      const b = env.body as { learners?: string[] };
      if (env.kind === 'split.reconfigure' && b.learners?.includes('n4') && !held) {
        held = true;
        leader = replicas.find((r) => r.service.isLeader());
        stoppedAt = received.length;
        await leader?.stop();
        await gate;
      }
    });
    // Slow heartbeats: the followers learn what is chosen late, so the new leader must catch up.
    replicas = await startPlacement(hub, dir, 1_000, { heartbeatMs: 200, electionTimeoutMs: 1_000 });
    const cli = await client(hub);
    await until(() => replicas.every((r) => r.service.log.map() !== null), 'the seed on every replica');

    await until(() => replicas.some((r) => r.service.isLeader()), 'a leader');
    // The same request twice at once (a retry racing the original) is one op.
    const move = () => cli.requestSubject(subjects(cli.cluster).placement, 'placement.admin', { op: 'move', split: 's2', from: 'n3', to: 'n4' }, { timeoutMs: 2_000 });
    const [a, b] = await Promise.all([move(), move()]);
    const ok = a.body as MessageBody<'placement.admin-ok'>;
    expect((b.body as MessageBody<'placement.admin-ok'>).opId).toBe(ok.opId);
    expect(ok.description).toBe('move s2 from n3 to n4 (operator)');

    await until(() => held && leader?.stopped === true, 'the learner reconfiguration at the split leader');
    expect(leader!.service.log.current()!.steps.map((s) => s.step)).toEqual(['host']);
    release();

    const rest = replicas.filter((r) => r !== leader);
    await until(() => rest.every((r) => r.service.log.map()!.split('s2')!.replicas.includes('n4') && r.service.log.current() === null), 'the move on the surviving replicas');
    const s2 = rest[0]!.service.log.map()!.split('s2')!;
    expect(s2).toMatchObject({ replicas: ['n1', 'n2', 'n4'], learners: [], generation: 2 });
    expect(rest[0]!.service.log.state.history).toMatchObject([{ opId: ok.opId, outcome: 'done' }]);
    // After the stop: the logged step (host) is not sent again; the unlogged one (learn) is, then
    // the rest. (Consecutive repeats are retries after a slow reply, which the steps allow.)
    const after = received.slice(stoppedAt).map((r) => `${r.kind}:${r.node}:${JSON.stringify((r.body as { replicas?: string[] }).replicas ?? '')}`);
    const collapsed = after.filter((x, i) => x !== after[i - 1]);
    expect(collapsed).toEqual(['split.reconfigure:n1:["n1","n2","n3"]', 'split.reconfigure:n1:["n1","n2","n4"]', 'split.drop:n3:""']);
    expect(received.slice(0, stoppedAt).map((r) => r.kind)).toContain('split.host');
    expect(rest[1]!.service.log.state).toEqual(rest[0]!.service.log.state);
  }, 30_000);

  it('drains a node: every replica on it moves to the other node of its DC, one op at a time; bad admin requests get INVALID_ARGUMENT', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'synod-placement-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const hub = new MemoryHub();
    const received: Received = [];
    await startFakeNodes(hub, received);
    const replicas = await startPlacement(hub, dir);
    const cli = await client(hub);
    await until(() => replicas.every((r) => r.service.log.map() !== null) && replicas.some((r) => r.service.isLeader()), 'the seed and a leader');
    // Only the leader answers; between leaders nobody does, and the caller tries again (as the CLI would).
    const admin = async (body: MessageInput<'placement.admin'>) => {
      for (let i = 0; ; i++) {
        try {
          return await cli.requestSubject(subjects(cli.cluster).placement, 'placement.admin', body, { timeoutMs: 1_000 });
        } catch (err) {
          if (!(err instanceof SynodError) || err.code !== 'TIMEOUT' || i >= 5) throw err;
        }
      }
    };
    await expect(admin({ op: 'move', split: 's9', from: 'n1', to: 'n4' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(admin({ op: 'move', split: 's1', from: 'n4', to: 'n3' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(admin({ op: 'split', key: '' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(admin({ op: 'drain', node: 'n9' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((await admin({ op: 'drain', node: 'n3' })).kind).toBe('placement.admin-ok');

    const done = (r: Replica) => r.service.log.map()!.splitsOf('n3').length === 0 && r.service.log.current() === null;
    await until(() => replicas.every(done), 'n3 drained on every replica');
    const leader = () => replicas[0]!;
    const map = leader().service.log.map()!;
    expect(map.all().map((s) => [s.id, s.replicas])).toEqual([
      ['s1', ['n1', 'n2', 'n4']],
      ['s2', ['n1', 'n2', 'n4']],
    ]);
    expect(leader().service.log.state.history.map((h) => [h.op.type, h.op.split, h.outcome])).toEqual([
      ['move', 's1', 'done'],
      ['move', 's2', 'done'],
    ]);
    expect(received.filter((r) => r.kind === 'split.drop').map((r) => [r.node, r.group])).toEqual([
      ['n3', 's1'],
      ['n3', 's2'],
    ]);
  }, 30_000);

  it('replaces a node that stops reporting: after dead-after-ms its replicas move to the live node of its DC', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'synod-placement-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const hub = new MemoryHub();
    const received: Received = [];
    const nodes = await startFakeNodes(hub, received);
    const replicas = await startPlacement(hub, dir, 1_000, { deadAfterMs: 1_500 });
    await until(() => replicas.every((r) => r.service.log.map() !== null), 'the seed on every replica');
    // Everyone but n3 reports (quietly: no load).
    const timer = setInterval(() => {
      for (const n of ['n1', 'n2', 'n4']) for (const p of PEERS) nodes.get(n)!.send(p.id, 'placement.report', { node: n, dc: INITIAL.nodes.find((x) => x.id === n)!.dc, at: 1, splits: [] });
    }, 50);
    cleanups.push(() => clearInterval(timer));
    await until(() => replicas.every((r) => r.service.log.map()!.splitsOf('n3').length === 0 && r.service.log.current() === null), 'n3 replaced', 15_000);
    expect(replicas[0]!.service.log.map()!.all().map((s) => s.replicas)).toEqual([
      ['n1', 'n2', 'n4'],
      ['n1', 'n2', 'n4'],
    ]);
    expect(replicas[0]!.service.log.state.history.map((h) => h.op)).toMatchObject([
      { type: 'move', split: 's1', from: 'n3', to: 'n4', reason: 'n3 is dead' },
      { type: 'move', split: 's2', from: 'n3', to: 'n4', reason: 'n3 is dead' },
    ]);
  }, 30_000);
});
