/**
 * A 3-member etcd cluster on loopback (Debian's etcd-server and etcd-client, 3.4), data under
 * os.tmpdir(), fsync as etcd does it by default (no --unsafe-no-fsync). The one implementation of
 * etcd member start-up: `etcd-reference.ts` (bench:paxos) and `bench:vs-etcd` both use it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { freePort } from '@synod/natsd';

export interface EtcdMember {
  name: string;
  clientPort: number;
  peerPort: number;
  /** http://127.0.0.1:<clientPort> */
  url: string;
  pid: number | undefined;
}

export interface EtcdCluster {
  members: EtcdMember[];
  /** host:port of every member, comma-separated (etcdctl's --endpoints). */
  endpoints: string;
  dataDir: string;
  /** Kills every member and removes the data directory; safe to call twice. */
  stop(): Promise<void>;
}

export const hasCommand = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;

export const etcdInstalled = () => hasCommand('etcd') && hasCommand('etcdctl');

/**
 * Installs etcd-server and etcd-client with apt-get when they are missing and this runs as root;
 * otherwise throws with what to do. Never called by tests or CI.
 */
export function ensureEtcd(say: (s: string) => void): void {
  if (etcdInstalled()) return;
  if (process.getuid?.() !== 0) throw new Error('etcd and etcdctl are not installed and this is not root: run `sudo apt-get install -y etcd-server etcd-client` (Debian etcd 3.4) first');
  if (!hasCommand('apt-get')) throw new Error('etcd and etcdctl are not installed and there is no apt-get: install etcd 3.4 (etcd, etcdctl on PATH) first');
  say('installing etcd-server and etcd-client with apt-get (not installed)');
  const run = spawnSync('apt-get', ['install', '-y', 'etcd-server', 'etcd-client'], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (run.status !== 0 || !etcdInstalled()) throw new Error(`apt-get install etcd-server etcd-client failed (status ${run.status}):\n${(run.stderr ?? '').slice(-2000)}`);
}

const ETCDCTL_ENV = () => ({ ...process.env, ETCDCTL_API: '3' });

/** Starts three members and waits (at most `readyMs`) until `etcdctl endpoint health` passes. */
export async function startEtcdCluster(opts: { readyMs?: number } = {}): Promise<EtcdCluster> {
  const dataDir = mkdtempSync(join(os.tmpdir(), 'synod-etcd-'));
  const members: EtcdMember[] = [];
  for (const i of [1, 2, 3]) {
    const clientPort = await freePort();
    const peerPort = await freePort();
    members.push({ name: `e${i}`, clientPort, peerPort, url: `http://127.0.0.1:${clientPort}`, pid: undefined });
  }
  const initial = members.map((m) => `${m.name}=http://127.0.0.1:${m.peerPort}`).join(',');
  const procs: ChildProcess[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null) return resolve();
            const t = setTimeout(resolve, 5_000);
            p.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
            p.kill('SIGKILL');
          }),
      ),
    );
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    for (const m of members) {
      const p = spawn(
        'etcd',
        [
          '--name', m.name, '--data-dir', join(dataDir, m.name),
          '--listen-client-urls', m.url, '--advertise-client-urls', m.url,
          '--listen-peer-urls', `http://127.0.0.1:${m.peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peerPort}`,
          '--initial-cluster', initial, '--initial-cluster-state', 'new', '--log-level', 'error',
        ],
        { stdio: 'ignore' },
      );
      p.on('error', () => undefined);
      procs.push(p);
      m.pid = p.pid;
    }
    const endpoints = members.map((m) => `127.0.0.1:${m.clientPort}`).join(',');
    const deadline = Date.now() + (opts.readyMs ?? 30_000);
    for (;;) {
      if (spawnSync('etcdctl', ['--endpoints', endpoints, 'endpoint', 'health'], { env: ETCDCTL_ENV(), timeout: 10_000 }).status === 0) break;
      if (procs.some((p) => p.exitCode !== null)) throw new Error('an etcd member exited during start-up');
      if (Date.now() > deadline) throw new Error(`etcd members not healthy after ${opts.readyMs ?? 30_000} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
    return { members, endpoints, dataDir, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface CheckPerfResult {
  writesPerSec: number;
  verdict: string;
  output: string;
}

/** etcd's own write benchmark, `etcdctl check perf --load=<load>`, against a running cluster. */
export function etcdctlCheckPerf(cluster: EtcdCluster, load = 'xl'): CheckPerfResult {
  const run = spawnSync('etcdctl', ['--endpoints', cluster.endpoints, 'check', 'perf', `--load=${load}`], { env: ETCDCTL_ENV(), encoding: 'utf8', timeout: 180_000 });
  const output = `${run.stdout ?? ''}${run.stderr ?? ''}`;
  const m = /Throughput[^0-9]*(\d+) writes\/s/.exec(output);
  return { writesPerSec: m ? Number(m[1]) : NaN, verdict: /PASS/.test(output) ? 'PASS' : 'FAIL', output };
}
