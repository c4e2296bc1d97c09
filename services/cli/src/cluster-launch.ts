import { mkdirSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SynodError } from '@synod/codec';
import { startNatsServer, type NatsServerHandle } from '@synod/natsd';
import { RangeMap } from '@synod/placement';
import { ChildNode } from './child-node.js';

export interface LaunchOptions {
  dataDir: string;
  dcs: number;
  splitKeys: string[];
  cluster: string;
  natsPort?: number;
  /** daemon (default): time masters per DC and a sync daemon in every spanserver; local: fixed ε. */
  truetime?: 'daemon' | 'local';
  syncIntervalMs?: number;
  epsilonMs?: number;
  logLevel?: string;
  say?: (s: string) => void;
}

export interface ClusterFile {
  natsUrl: string;
  cluster: string;
  placement: string;
}

export interface LaunchedCluster {
  nats: NatsServerHandle;
  nodes: ChildNode[];
  masters: ChildNode[];
  rangeMap: RangeMap;
  info: ClusterFile;
  spawnNode(index: number): ChildNode;
  stop(): Promise<void>;
}

const DC_NAMES = ['dc-a', 'dc-b', 'dc-c', 'dc-d', 'dc-e'];

/** Starts nats-server and one spanserver per DC as child processes, data under one directory. */
export async function launchCluster(opts: LaunchOptions): Promise<LaunchedCluster> {
  const say = opts.say ?? (() => undefined);
  if (opts.dcs < 1 || opts.dcs > DC_NAMES.length) throw new SynodError('INVALID_ARGUMENT', `--dcs must be 1..${DC_NAMES.length}`);
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const nodes = DC_NAMES.slice(0, opts.dcs).map((dc, i) => ({ id: `n${i + 1}`, dc }));
  const placementFile = join(dataDir, 'placement.json');
  let rangeMap: RangeMap;
  if (existsSync(placementFile)) {
    // Data on disk belongs to this map: reuse it rather than silently re-cutting the key space.
    const parsed = RangeMap.safeParse(JSON.parse(readFileSync(placementFile, 'utf8')));
    if (!parsed.ok) throw new SynodError('INVALID_ARGUMENT', `${placementFile}: ${parsed.error}`);
    rangeMap = parsed.map;
    say(`reusing ${placementFile} (${rangeMap.all().length} splits, ${rangeMap.nodes().length} nodes)`);
  } else {
    rangeMap = RangeMap.uniform(nodes, opts.splitKeys);
    writeFileSync(placementFile, JSON.stringify(rangeMap.config, null, 2) + '\n');
  }
  const nats = await startNatsServer(opts.natsPort ? { port: opts.natsPort } : {});
  say(`nats-server   ${nats.url} (pid ${nats.pid})`);
  const truetime = opts.truetime ?? 'daemon';
  const dcs = [...new Set(rangeMap.nodes().map((n) => n.dc))];
  // Tolerating one lying master takes three; with fewer DCs every master must be believed.
  const maxLiars = dcs.length >= 3 ? 1 : 0;
  const syncIntervalMs = String(opts.syncIntervalMs ?? 5_000);
  const common = ['--nats-url', nats.url, '--cluster', opts.cluster, '--log-level', opts.logLevel ?? 'warn'];
  // One time master per DC, as in Spanner a mix of kinds: GPS-like references, and in the
  // second DC an atomic-clock-like drifting master that syncs from the references.
  const masters =
    truetime === 'daemon'
      ? dcs.map((dc, i) => {
          const drifting = i === 1 && dcs.length >= 3;
          const kind = drifting ? ['--kind', 'drifting', '--reference-dcs', dcs.filter((d) => d !== dc).join(','), '--sync-interval-ms', syncIntervalMs] : ['--kind', 'reference'];
          return ChildNode.spawn(`tm-${dc}`, ['timemaster', '--node-id', `tm-${dc}`, '--dc', dc, ...kind, ...common]);
        })
      : [];
  const spawnNode = (i: number) => {
    const n = rangeMap.nodes()[i]!;
    const time =
      truetime === 'daemon'
        ? ['--truetime', 'daemon', '--master-dcs', dcs.join(','), '--max-liars', String(maxLiars), '--sync-interval-ms', syncIntervalMs]
        : ['--truetime', 'local', '--epsilon-ms', String(opts.epsilonMs ?? 1)];
    return ChildNode.spawn(n.id, ['spanserver', '--node-id', n.id, '--dc', n.dc, '--data-dir', join(dataDir, n.id), '--placement', placementFile, ...time, ...common]);
  };
  const children: ChildNode[] = [];
  const stop = async () => {
    await Promise.all(children.map((c) => c.stop()));
    await Promise.all(masters.map((m) => m.stop()));
    await nats.stop();
  };
  try {
    await Promise.all(masters.map((m) => m.waitReady(30_000)));
    masters.forEach((m, i) => say(`time master   ${m.name} in ${dcs[i]} (pid ${m.proc.pid})`));
    children.push(...rangeMap.nodes().map((_, i) => spawnNode(i)));
    await Promise.all(children.map((c) => c.waitReady(30_000)));
  } catch (err) {
    await stop();
    throw err;
  }
  rangeMap.nodes().forEach((n, i) => say(`spanserver    ${n.id} in ${n.dc} (pid ${children[i]!.proc.pid}), data ${join(dataDir, n.id)}`));
  const info: ClusterFile = { natsUrl: nats.url, cluster: opts.cluster, placement: placementFile };
  writeFileSync(join(dataDir, 'cluster.json'), JSON.stringify(info, null, 2) + '\n');
  say(`cluster file  ${join(dataDir, 'cluster.json')} (other synod commands find the cluster through it)`);
  return { nats, nodes: children, masters, rangeMap, info, spawnNode, stop };
}
