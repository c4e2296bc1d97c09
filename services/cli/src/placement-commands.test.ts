import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { SynodError, type MessageInput } from '@synod/codec';
import { startNatsServer, type NatsServerHandle } from '@synod/natsd';
import { connectBus, subjects, type Bus } from '@synod/transport';
import { initialPlacement } from './initial-placement.js';
import { runGet } from './client-commands.js';
import { adminRequest, renderSplits, runAdmin, runSplits, type PlacementMap } from './placement-commands.js';

const MAP: PlacementMap = {
  map: {
    generation: 7,
    nodes: initialPlacement(3, 2, []).nodes,
    splits: [
      { id: 's1', start: '', end: 'g', replicas: ['n1', 'n2', 'n3'], learners: [], leaderDc: 'dc-b', generation: 7 },
      { id: 's4', start: 'g', end: '', replicas: ['n1', 'n2', 'n3'], learners: ['n4'], generation: 5 },
    ],
  },
  stats: [
    { node: 'n2', id: 's1', start: '', end: 'g', generation: 7, leader: true, appliedIndex: 9, sizeBytes: 3 * 1024 * 1024, keys: 1200, writesPerSec: 12.5, readsPerSec: 300 },
    { node: 'n1', id: 's1', start: '', end: 'g', generation: 7, leader: false, appliedIndex: 9, sizeBytes: 1, keys: 1, writesPerSec: 0, readsPerSec: 0 },
    // A leader's report from before s4's entry last changed: stale, not shown.
    { node: 'n3', id: 's4', start: 'g', end: '', generation: 4, leader: true, appliedIndex: 2, sizeBytes: 99, keys: 9, writesPerSec: 1, readsPerSec: 1 },
  ],
  op: 'move s4 n3→n4: catching up the learner',
};

describe('synod splits table', () => {
  it('shows range, replicas, learners, leader (from the leader\'s report) and preferred DC, generation, size and load', () => {
    const lines = renderSplits(MAP).split('\n');
    expect(lines[0]).toBe('generation 7, 2 splits, 6 nodes; in progress: move s4 n3→n4: catching up the learner');
    expect(lines[1]).toMatch(/^split\s+range\s+replicas\s+learners\s+leader\s+gen\s+size\s+load\/s$/);
    expect(lines[2]!.split(/\s{2,}/)).toEqual(['s1', '["", "g")', 'n1,n2,n3', '-', 'n2 →dc-b', '7', '3.0M/1200k', '12.5w 300r']);
    expect(lines[3]!.split(/\s{2,}/)).toEqual(['s4', '["g", ∞)', 'n1,n2,n3', 'n4', '?', '5', '-', '-']);
  });
});

describe('synod split/move/drain/lead arguments', () => {
  it('builds the placement.admin request of each command', () => {
    expect(adminRequest('split', ['user/500'])).toEqual({ op: 'split', key: 'user/500' });
    expect(adminRequest('move', ['s2', 'n1', 'n4'])).toEqual({ op: 'move', split: 's2', from: 'n1', to: 'n4' });
    expect(adminRequest('drain', ['n4'])).toEqual({ op: 'drain', node: 'n4' });
    expect(adminRequest('lead', ['s2', 'dc-c'])).toEqual({ op: 'lead', split: 's2', dc: 'dc-c' });
  });

  it('refuses missing, extra and malformed arguments with INVALID_ARGUMENT naming them', () => {
    const refused = (f: () => unknown, text: RegExp) => {
      const err = (() => {
        try {
          f();
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(SynodError);
      expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(text) });
    };
    refused(() => adminRequest('split', []), /missing <key>/);
    refused(() => adminRequest('split', ['x'.repeat(1025)]), /at most 1024/);
    refused(() => adminRequest('move', ['s2', 'n1']), /missing <to-node>/);
    refused(() => adminRequest('move', ['s2', 'n1', 'n1']), /both n1/);
    refused(() => adminRequest('move', ['s2', 'N1!', 'n4']), /<from-node> "N1!": lowercase/);
    refused(() => adminRequest('drain', ['n1', 'n2']), /takes 1 argument; unexpected "n2"/);
    refused(() => adminRequest('lead', ['s2']), /missing <dc>/);
  });
});

/** The commands against a fake placement service on a real NATS server. */
describe('synod splits / move against a placement service', () => {
  let nats: NatsServerHandle;
  let service: Bus;
  let spanserver: Bus;
  const snapshots: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'synod-placement-cli-'));
  const admin: Array<MessageInput<'placement.admin'>> = [];
  const out: string[] = [];

  beforeAll(async () => {
    nats = await startNatsServer();
    service = await connectBus(nats.url, { nodeId: 'p1', dc: 'dc-a', cluster: 'pc' });
    service.on('placement.get', () => ({ kind: 'placement.map', body: MAP }));
    service.on('placement.admin', (env) => {
      admin.push(env.body);
      if (env.body.op === 'drain' && env.body.node === 'n9') throw new SynodError('INVALID_ARGUMENT', 'no node n9');
      if (env.body.op === 'drain' && env.body.node === 'n8') throw new SynodError('UNAVAILABLE', 'placement has no leader');
      return { kind: 'placement.admin-ok', body: { opId: 'op-12', description: `${env.body.op} accepted` } };
    });
    await service.serve(subjects('pc').placement);
    spanserver = await connectBus(nats.url, { nodeId: 'n1', dc: 'dc-a', cluster: 'pc' });
    spanserver.on('kv.snapshot', (env) => {
      snapshots.push(env.group);
      return { kind: 'kv.values', body: { values: (env.body.keys ?? []).map((key) => ({ key, value: env.group })), ts: 5 } };
    });
  }, 30_000);
  afterAll(async () => {
    await spanserver?.close();
    rmSync(dir, { recursive: true, force: true });
    await service?.close();
    await nats?.stop();
  });
  afterEach(() => {
    vi.restoreAllMocks();
    out.length = 0;
  });
  const capture = () =>
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
      out.push(String(s));
      return true;
    });
  const flags = () => ['--nats-url', nats.url, '--cluster', 'pc', '--data-dir', '/nonexistent'];

  it('synod splits prints the table; -o json the placement.map body', async () => {
    capture();
    await runSplits(flags());
    expect(out.join('')).toBe(renderSplits(MAP) + '\n');
    out.length = 0;
    await runSplits([...flags(), '--output=json']);
    expect(JSON.parse(out.join(''))).toEqual(MAP);
  });

  it('synod move sends placement.admin and prints the op id and description; a refusal surfaces with its code', async () => {
    capture();
    await runAdmin('move')(['s1', 'n1', 'n4', ...flags()]);
    expect(admin.at(-1)).toEqual({ op: 'move', split: 's1', from: 'n1', to: 'n4' });
    expect(out.join('')).toBe('op op-12: move accepted\n');
    await expect(runAdmin('drain')(['n9', ...flags()])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: 'no node n9' });
    // The service's own UNAVAILABLE is its answer, passed on as is.
    await expect(runAdmin('drain')(['n8', ...flags()])).rejects.toMatchObject({ code: 'UNAVAILABLE', message: 'placement has no leader' });
  });

  it('no placement service: UNAVAILABLE saying so, within --timeout-ms', async () => {
    const t0 = Date.now();
    await expect(runSplits(['--nats-url', nats.url, '--cluster', 'nobody', '--timeout-ms', '300', '--data-dir', '/nonexistent'])).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringMatching(/^no placement service answered on nobody\.placement within 300 ms/),
    });
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it('client commands of a cluster with a placement service route by its map from the start', async () => {
    // placement.json (what the cluster started with): one split; the service's map cuts it at 'g'.
    const placement = join(dir, 'placement.json');
    writeFileSync(placement, JSON.stringify({ generation: 1, nodes: MAP.map.nodes, splits: [{ id: 's1', start: '', end: '', replicas: ['n1', 'n2', 'n3'] }] }));
    writeFileSync(join(dir, 'cluster.json'), JSON.stringify({ natsUrl: nats.url, cluster: 'pc', placement, placementNodes: [{ id: 'p1', dc: 'dc-a' }] }));
    capture();
    await runGet(['h', '--data-dir', dir, '--stale-ms', '1000']);
    expect(snapshots).toEqual(['s4']);
    expect(JSON.parse(out.join(''))).toMatchObject({ key: 'h', value: 's4' });
  });
});

describe('synod placement commands without a cluster', () => {
  it('refuse bad arguments before connecting, and name an unreachable NATS as UNAVAILABLE', async () => {
    // Port 1: nothing listens. Bad arguments are refused first, without trying it.
    await expect(runAdmin('move')(['s1', 'n1', '--nats-url', 'nats://127.0.0.1:1'])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: 'missing <to-node>' });
    await expect(runSplits(['--nats-url', 'nats://127.0.0.1:1', '--data-dir', '/nonexistent'])).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringMatching(/^cannot reach NATS at nats:\/\/127\.0\.0\.1:1/),
    });
  });
});
