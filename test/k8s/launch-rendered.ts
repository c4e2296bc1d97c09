/**
 * Runs a RenderedPlan (rendered-processes.ts) as local processes, one network namespace per zone
 * (libs/netns DcNetwork): writes each namespace's hosts file from the Services, materialises the
 * mounts, runs every pod's init containers to completion in order, then starts every container
 * with exactly its rendered command, args and env (the REWRITES applied, nothing else), and
 * waits for each one's own readinessProbe from the host (the kubelet probes the pod IP from the
 * node). Used by test/k8s/manifests-run.test.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DcNetwork } from '@synod/netns';
import { serviceHosts, writeMounts, type LocalProcess, type RenderedPlan } from './rendered-processes.js';

export interface Running {
  p: LocalProcess;
  child: ChildProcess;
  log: string;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const nameOf = (p: LocalProcess) => `${p.pod}/${p.container}`;

export class RenderedCluster {
  readonly running: Running[] = [];
  private readonly logDir: string;

  constructor(
    readonly plan: RenderedPlan,
    readonly net: DcNetwork,
    workDir: string,
  ) {
    this.logDir = join(workDir, 'logs');
    mkdirSync(this.logDir, { recursive: true });
  }

  /** The containers that run as cluster members: not init containers, not a suspended Job's. */
  members(): LocalProcess[] {
    return this.plan.processes.filter((p) => !p.init && !p.suspended);
  }

  /** Refuses a plan that cannot run as one namespace per zone: two members of a zone on one port. */
  checkPorts(): void {
    const seen = new Map<string, string>();
    for (const p of this.members()) {
      for (const port of p.ports) {
        const key = `${p.zone}:${port.containerPort}`;
        const first = seen.get(key);
        if (first) throw new Error(`launch-rendered: ${nameOf(p)} and ${first} both listen on ${port.containerPort} in ${p.zone}`);
        seen.set(key, nameOf(p));
      }
    }
  }

  /** Each zone's hosts file: every Service name to its pod's zone address (same zone first). */
  writeHosts(): Record<string, Record<string, string>> {
    const out: Record<string, Record<string, string>> = {};
    for (const { dc } of this.net.dcs) {
      out[dc] = serviceHosts(this.plan, dc, (zone) => this.net.ipOf(zone));
      this.net.writeHosts(dc, out[dc]);
    }
    return out;
  }

  writeMounts(): void {
    for (const p of this.plan.processes) if (!p.suspended) writeMounts(p);
  }

  private spawn(p: LocalProcess): Running {
    const log = join(this.logDir, `${p.pod}.${p.container}${p.init ? '.init' : ''}.log`);
    const fd = openSync(log, 'a');
    const [cmd, ...args] = this.net.wrap(p.zone, [p.command, ...p.args]);
    // Exactly the rendered environment; stdin closed as a pod's is.
    const child = spawn(cmd!, args, { cwd: p.cwd, env: { ...p.env }, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    const r: Running = { p, child, log };
    child.on('exit', (code, signal) => (r.exit = { code, signal }));
    child.on('error', (err) => (r.exit = { code: -1, signal: null }) && void err);
    this.running.push(r);
    return r;
  }

  /** Every pod's init containers, in order, each to exit 0 (bounded). */
  async runInits(timeoutMs = 20_000): Promise<number> {
    let n = 0;
    for (const pod of [...new Set(this.plan.processes.filter((p) => p.init && !p.suspended).map((p) => p.pod))]) {
      for (const p of this.plan.processes.filter((x) => x.pod === pod && x.init)) {
        const r = this.spawn(p);
        const t0 = Date.now();
        while (!r.exit && Date.now() - t0 < timeoutMs) await sleep(20);
        if (!r.exit) throw new Error(`launch-rendered: init container ${nameOf(p)} still running after ${timeoutMs} ms`);
        if (r.exit.code !== 0) throw new Error(`launch-rendered: init container ${nameOf(p)} exited ${r.exit.code ?? r.exit.signal}: ${this.tail(r)}`);
        n++;
      }
    }
    return n;
  }

  /** Starts every member: the nats-servers first (they are what the others connect to), then the rest. */
  startAll(): Running[] {
    const members = this.members();
    const first = members.filter((p) => p.container === 'nats');
    return [...first, ...members.filter((p) => !first.includes(p))].map((p) => this.spawn(p));
  }

  mains(): Running[] {
    return this.running.filter((r) => !r.p.init);
  }

  /** A member that exited, described, or undefined. */
  exited(): string | undefined {
    const gone = this.mains().filter((r) => r.exit);
    return gone.length ? gone.map((r) => `${nameOf(r.p)} exited ${r.exit!.code ?? r.exit!.signal}:\n${this.tail(r)}`).join('\n') : undefined;
  }

  /** One readinessProbe from the host, against the zone's address: 200..399 is ready (as the kubelet's). */
  async probe(p: LocalProcess): Promise<boolean> {
    const rp = p.probes.readiness;
    if (!rp) return true;
    try {
      const res = await fetch(`http://${this.net.ipOf(p.zone)}:${rp.port}${rp.path}`, { signal: AbortSignal.timeout(3_000) });
      await res.arrayBuffer();
      return res.status >= 200 && res.status < 400;
    } catch {
      return false;
    }
  }

  /** Waits until every member (or those `which` picks) passes its readinessProbe; throws with the laggards at the bound. */
  async waitReady(timeoutMs: number, which: (p: LocalProcess) => boolean = () => true): Promise<number> {
    const t0 = Date.now();
    const todo = new Set(this.members().filter(which));
    while (todo.size > 0) {
      const gone = this.exited();
      if (gone) throw new Error(`launch-rendered: a container exited before it was ready: ${gone}`);
      for (const p of [...todo]) if (await this.probe(p)) todo.delete(p);
      if (todo.size === 0) break;
      if (Date.now() - t0 > timeoutMs) throw new Error(`launch-rendered: not ready after ${timeoutMs} ms: ${[...todo].map(nameOf).join(', ')}`);
      await sleep(250);
    }
    return Date.now() - t0;
  }

  tail(r: Running, lines = 15): string {
    try {
      return readFileSync(r.log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /**
   * SIGTERM to every process still running, the nats-servers last (the others close their NATS
   * connections on the way out); SIGKILL after graceMs per step. Resolves when all have exited
   * (bounded) with the names of those that had to be killed.
   */
  async stop(graceMs = 10_000): Promise<string[]> {
    const live = (nats: boolean) => this.running.filter((r) => !r.exit && r.child.pid !== undefined && (r.p.container === 'nats') === nats);
    const killed: string[] = [];
    for (const nats of [false, true]) {
      for (const r of live(nats)) r.child.kill('SIGTERM');
      const t0 = Date.now();
      while (live(nats).length > 0 && Date.now() - t0 < graceMs) await sleep(100);
      for (const r of live(nats)) {
        killed.push(`${nameOf(r.p)} (${this.tail(r, 3).replace(/\n/g, ' | ')})`);
        r.child.kill('SIGKILL');
      }
      const t1 = Date.now();
      while (live(nats).length > 0 && Date.now() - t1 < 5_000) await sleep(50);
    }
    return killed;
  }
}
