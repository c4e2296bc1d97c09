/**
 * Issue 20 must-show (docs/netns.md): `synod up --netns` puts each DC in its own network namespace
 * with its own nats-server, and `synod chaos partition <dc> --network` cuts the leader's DC with
 * iptables. The majority elects a leader and keeps committing, writes through the cut DC fail,
 * and after `heal --network` every acknowledged write is readable, from the once-cut DC too.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { SynodClient } from '@synod/client';
import { collectStatus, synodCommand } from '@synod/cli';
import { RangeMap } from '@synod/placement';
import { connectBus, type Bus } from '@synod/transport';
import { sleep, waitFor } from './helpers.js';

const runRootTests = process.getuid?.() === 0 || process.env.CI === 'true';
if (!runRootTests) console.log('netns-partition: not root and not CI: skipped (synod up --netns needs root)');

interface Net {
  name: string;
  bridge: string;
  stateFile: string;
  dcs: Array<{ dc: string; ns: string; ip: string; veth: string }>;
}

const dir = mkdtempSync(join(tmpdir(), 'synod-netns-'));
let up: ChildProcess | undefined;
let upOut = '';
const buses: Bus[] = [];

afterAll(async () => {
  for (const b of buses) await b.close().catch(() => undefined);
  if (up && up.exitCode === null && up.signalCode === null) {
    up.kill('SIGTERM');
    await Promise.race([new Promise((r) => up!.once('exit', r)), sleep(20_000)]);
    if (up.exitCode === null && up.signalCode === null) up.kill('SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `synod args…` from source to its end, bounded. */
function synod(args: string[], timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { cmd, args: full, cwd } = synodCommand(args);
  return new Promise((resolve) => {
    const child = spawn(cmd, full, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => (clearTimeout(t), resolve({ code, stdout, stderr })));
  });
}

function leftovers(net: Net): string[] {
  const ns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
  const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout;
  return [...net.dcs.filter((d) => ns.includes(d.ns)).map((d) => d.ns), ...(links.includes(`${net.bridge}:`) ? [net.bridge] : []), ...(existsSync(net.stateFile) ? [net.stateFile] : [])];
}

it.runIf(runRootTests)(
  'a real partition of the leader’s DC: the majority keeps committing, the cut DC cannot write, nothing acknowledged is lost',
  async () => {
    const { cmd, args, cwd } = synodCommand(['up', '--netns', '--data-dir', dir, '--placement-service', 'off', '--sync-interval-ms', '1000']);
    up = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    up.stdout!.on('data', (d: Buffer) => (upOut += d.toString()));
    up.stderr!.on('data', (d: Buffer) => (upOut += d.toString()));
    await waitFor('synod up --netns to report every split led', 90_000, () => (upOut.includes('every split has a leader') ? true : undefined), {
      everyMs: 200,
      failIf: () => (up!.exitCode !== null ? `synod up exited ${up!.exitCode}:\n${upOut}` : undefined),
    });

    const info = JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8')) as { cluster: string; placement: string; creds: string; natsUrls: Record<string, string>; network: Net; metrics: Record<string, string> };
    const net = info.network;
    expect(Object.keys(info.natsUrls).sort()).toEqual(['dc-a', 'dc-b', 'dc-c']);
    for (const d of net.dcs) {
      expect(info.natsUrls[d.dc]).toBe(`nats://${d.ip}:4222`);
      // Its nats-server, time master and spanserver run inside the DC's namespace.
      const pids = spawnSync('ip', ['netns', 'pids', d.ns], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
      expect(pids.length).toBeGreaterThanOrEqual(3);
    }
    // Probe endpoints bind the DC's address and answer the host.
    expect(info.metrics.n1).toMatch(new RegExp(`^http://${net.dcs[0]!.ip.replace(/\./g, '\\.')}:\\d+$`));
    expect((await fetch(`${info.metrics.n1}/healthz`)).status).toBe(200);

    const rangeMap = RangeMap.parse(JSON.parse(readFileSync(info.placement, 'utf8')));
    const nodes = rangeMap.nodes();
    const bus = async (dc: string, user: 'client' | 'operator', id: string) => {
      const b = await connectBus(info.natsUrls[dc]!, { nodeId: id, dc, cluster: info.cluster, natsCreds: join(info.creds, `${user}.json`) });
      buses.push(b);
      return b;
    };
    const split = rangeMap.splitFor('w-0').id;
    const control = await bus('dc-a', 'operator', 'test-control');
    const leader = await waitFor(`a leader of ${split}`, 15_000, async () => {
      const rows = await collectStatus(control, nodes);
      return rows.find((r) => r.status?.groups.some((g) => g.id === split && g.isLeader));
    });
    const cutDc = leader.dc;
    const majorityDc = nodes.find((n) => n.dc !== cutDc)!.dc;
    const writer = new SynodClient(await bus(majorityDc, 'client', 'majority-writer'), rangeMap, { timeoutMs: 2_000 });
    const cutClient = new SynodClient(await bus(cutDc, 'client', 'cut-client'), rangeMap, { timeoutMs: 2_000 });

    const acked = new Map<string, number>();
    let seq = 0;
    for (; seq < 5; seq++) {
      await writer.put(`w-${seq}`, seq);
      acked.set(`w-${seq}`, seq);
    }

    const cut = await synod(['chaos', 'partition', cutDc, '--network', '--data-dir', dir]);
    expect(cut.stderr).toBe('');
    expect(cut.code).toBe(0);
    expect((JSON.parse(cut.stdout) as { cuts: string[][] }).cuts.length).toBe(2);

    // The majority elects a new leader and keeps committing; a commit sent to the cut-off
    // leader times out with its outcome unknown: it is retried, and counted acknowledged only once it succeeds.
    const t0 = Date.now();
    let committed = 0;
    let ambiguous = 0;
    while (committed < 10 && Date.now() - t0 < 40_000) {
      try {
        await writer.put(`w-${seq}`, seq);
        acked.set(`w-${seq}`, seq);
        committed++;
        seq++;
      } catch (err) {
        if (!['TIMEOUT', 'UNAVAILABLE', 'NOT_LEADER'].includes((err as { code?: string }).code ?? '')) throw err;
        ambiguous++;
      }
    }
    console.log(`netns-partition: ${committed} commits on the majority side in ${Date.now() - t0} ms (${ambiguous} retried) after cutting ${cutDc}`);
    expect(committed).toBe(10);

    // Writes through the cut DC do not commit: it reaches no quorum (and no other DC's leader).
    const refused = await cutClient.put('cut-write', 1).then(
      () => 'committed',
      (err: { code?: string }) => err.code ?? 'error',
    );
    expect(refused).not.toBe('committed');

    const heal = await synod(['chaos', 'heal', '--network', '--data-dir', dir]);
    expect(heal.code).toBe(0);
    expect((JSON.parse(heal.stdout) as { cuts: string[][] }).cuts).toEqual([]);

    // Every acknowledged write is readable after heal, from the once-cut DC too.
    const keys = [...acked.keys()];
    for (const client of [writer, cutClient]) {
      const values = await waitFor('every acknowledged write to be readable', 30_000, async () => {
        const r = await client.read(keys);
        return keys.every((k) => r.values.get(k) === acked.get(k)) ? r.values : undefined;
      }, { everyMs: 250 });
      expect(keys.map((k) => values.get(k))).toEqual(keys.map((k) => acked.get(k)));
    }

    // A stopped cluster leaves no network behind.
    for (const b of buses.splice(0)) await b.close();
    up.kill('SIGTERM');
    await waitFor('synod up to stop', 20_000, () => (up!.exitCode !== null || up!.signalCode !== null ? true : undefined));
    await waitFor('the network to be removed', 10_000, () => (leftovers(net).length === 0 ? true : undefined));
  },
  180_000,
);
