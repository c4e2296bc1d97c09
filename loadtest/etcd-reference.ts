/**
 * Runs etcd's own write benchmark (`etcdctl check perf`) against a 3-member etcd cluster on
 * loopback, so synod's figures can be read next to etcd's from the same run on the same machine.
 * Needs the Debian packages etcd-server and etcd-client (3.4); returns undefined without them.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { freePort } from '@synod/natsd';

export interface EtcdResult {
  writesPerSec: number;
  verdict: string;
  output: string;
}

const has = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;

export async function etcdCheckPerf(load = 'xl'): Promise<EtcdResult | undefined> {
  if (!has('etcd') || !has('etcdctl')) return undefined;
  const dir = mkdtempSync(join(os.tmpdir(), 'synod-etcd-'));
  const members = await Promise.all([1, 2, 3].map(async (i) => ({ name: `e${i}`, client: await freePort(), peer: await freePort() })));
  const cluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
  const procs: ChildProcess[] = members.map((m) =>
    spawn('etcd', [
      '--name', m.name, '--data-dir', join(dir, m.name),
      '--listen-client-urls', `http://127.0.0.1:${m.client}`, '--advertise-client-urls', `http://127.0.0.1:${m.client}`,
      '--listen-peer-urls', `http://127.0.0.1:${m.peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peer}`,
      '--initial-cluster', cluster, '--initial-cluster-state', 'new', '--log-level', 'error',
    ], { stdio: 'ignore' }),
  );
  try {
    const endpoints = members.map((m) => `127.0.0.1:${m.client}`).join(',');
    const env = { ...process.env, ETCDCTL_API: '3' };
    for (let i = 0; i < 100; i++) {
      if (spawnSync('etcdctl', ['--endpoints', endpoints, 'endpoint', 'health'], { env }).status === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const run = spawnSync('etcdctl', ['--endpoints', endpoints, 'check', 'perf', `--load=${load}`], { env, encoding: 'utf8', timeout: 180_000 });
    const output = `${run.stdout}${run.stderr}`;
    const m = /Throughput[^0-9]*(\d+) writes\/s/.exec(output);
    return { writesPerSec: m ? Number(m[1]) : NaN, verdict: /PASS/.test(output) ? 'PASS' : 'FAIL', output };
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}
