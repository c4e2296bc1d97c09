/**
 * Issue 11, item 4 must-show: a second `synod up` on a running data directory exits non-zero with
 * a clear message and leaves the first cluster serving. Also what the supervisor promises around
 * it: the first one's children log under <data-dir>/logs/, a child's unexpected exit is announced
 * with its name, signal and last log lines, stopping removes cluster.json and the lock; SIGTERM
 * during start-up leaves no process behind; a NATS port already in use fails the start.
 *
 * Every `synod` here is a real process started the way users start it (tsx on main.ts). Every
 * wait is bounded; timings are printed, never asserted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT_DATA_DIR_LOCKED, LOCK_FILE, synodCommand } from '@synod/cli';
import { processAlive, startNatsServer } from '@synod/natsd';
import { waitFor } from './helpers.js';

const say = (s: string) => console.log(`up-supervisor: ${s}`);

interface Proc {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: Proc[] = [];
const dirs: string[] = [];
afterAll(async () => {
  // Whatever a failed test left running: ask, then insist.
  for (const p of started) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
  await Promise.race([Promise.all(started.map((p) => p.exit)), new Promise((r) => setTimeout(r, 15_000))]);
  for (const p of started) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}, 30_000);

function synod(args: string[]): Proc {
  const { cmd, args: full, cwd } = synodCommand(args);
  const child = spawn(cmd, full, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const p = { child, out: () => out, err: () => err, exit };
  started.push(p);
  return p;
}

/** Runs a synod command to its end (bounded); kills it when it overruns. */
async function run(args: string[], timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const t0 = Date.now();
  const p = synod(args);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  const { code } = await p.exit;
  clearTimeout(timer);
  return { code, stdout: p.out(), stderr: p.err(), ms: Date.now() - t0 };
}

const exitedReason = (p: Proc) => () => (p.child.exitCode !== null || p.child.signalCode !== null ? `synod up exited (${p.child.exitCode ?? p.child.signalCode}):\n${p.out()}\n${p.err()}` : undefined);

async function waitExit(p: Proc, what: string, timeoutMs: number) {
  return await waitFor(what, timeoutMs, () => (p.child.exitCode !== null || p.child.signalCode !== null ? { code: p.child.exitCode, signal: p.child.signalCode } : undefined));
}

const alive = processAlive;

/** Pids of processes whose command line mentions `text` (Linux /proc). */
function pidsMentioning(text: string): number[] {
  const found: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(text)) found.push(Number(e));
    } catch {
      /* gone meanwhile */
    }
  }
  return found;
}

const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'synod-up-'));
  dirs.push(d);
  return d;
};

describe('synod up as a supervisor', () => {
  it('refuses a second up on a running data directory (exit 3, clear message) and the first keeps serving; stop removes cluster.json, logs stay', async () => {
    const dir = tempDir();
    const t0 = Date.now();
    const first = synod(['up', '--data-dir', dir, '--truetime', 'local', '--log-level', 'info']);
    await waitFor('the first up to elect every split', 45_000, () => (first.out().includes('every split has a leader') ? true : undefined), { failIf: exitedReason(first), everyMs: 200 });
    say(`first up serving after ${Date.now() - t0} ms`);
    const clusterBefore = readFileSync(join(dir, 'cluster.json'), 'utf8');

    const put1 = await run(['put', 'greeting', 'hello', '--data-dir', dir]);
    expect(put1.code, put1.stderr).toBe(0);

    const second = await run(['up', '--data-dir', dir, '--truetime', 'local']);
    say(`second up exited ${second.code} after ${second.ms} ms: ${second.stderr.trim()}`);
    expect(second.code).toBe(EXIT_DATA_DIR_LOCKED);
    const holder = new RegExp(`data directory ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is in use by another 'synod up' \\(pid (\\d+)\\)`).exec(second.stderr);
    expect(holder, second.stderr).not.toBe(null);
    const lockPid = Number(holder![1]);
    // It started nothing and touched nothing of the first one's.
    expect(second.stdout).not.toContain('nats-server');
    expect(readFileSync(join(dir, 'cluster.json'), 'utf8')).toBe(clusterBefore);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8').trim()).toBe(String(lockPid));

    // The first cluster still serves: its process runs, reads see the earlier write, writes commit.
    expect(first.child.exitCode).toBe(null);
    const get1 = await run(['get', 'greeting', '--data-dir', dir]);
    expect(get1.code, get1.stderr).toBe(0);
    expect(get1.stdout).toContain('hello');
    const put2 = await run(['put', 'after', 'second-up', '--data-dir', dir]);
    expect(put2.code, put2.stderr).toBe(0);
    const status = await run(['status', '--data-dir', dir]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain('LEADER');

    // A child that dies is announced by name, with how it ended and its last log lines.
    const n3 = /spanserver {4}n3 in dc-c \(pid (\d+)\)/.exec(first.out());
    expect(n3, first.out()).not.toBe(null);
    process.kill(Number(n3![1]), 'SIGKILL');
    const announced = await waitFor('the announcement of n3', 15_000, () => /!! n3 \(pid \d+\) exited unexpectedly: killed by SIGKILL[^\n]*\n!! last \d+ log lines of n3/.exec(first.out())?.[0], { failIf: exitedReason(first), everyMs: 100 });
    say(`announced: ${announced.replace(/\n/g, ' | ')}`);
    expect(first.out()).toContain('"node":"n3"');

    const t1 = Date.now();
    first.child.kill('SIGTERM');
    const ended = await waitExit(first, 'the first up to stop', 30_000);
    say(`first up stopped in ${Date.now() - t1} ms (${JSON.stringify(ended)})`);
    expect(ended.code).toBe(143);
    expect(existsSync(join(dir, 'cluster.json'))).toBe(false);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    for (const name of ['nats-server', 'n1', 'n2', 'n3']) {
      const f = join(dir, 'logs', `${name}.log`);
      expect(existsSync(f), f).toBe(true);
      expect(statSync(f).size, f).toBeGreaterThan(0);
    }
    expect(readFileSync(join(dir, 'logs', 'n1.log'), 'utf8')).toContain('spanserver serving');
  }, 120_000);

  it('SIGTERM during start-up stops what was started: no nats-server or child left behind', async () => {
    const dir = tempDir();
    const t0 = Date.now();
    // Time masters first (daemon TrueTime): a start-up with several steps to be interrupted in.
    const up = synod(['up', '--data-dir', dir]);
    const m = await waitFor('nats-server to be started', 30_000, () => /nats-server {3}(nats:\/\/\S+) \(pid (\d+)\)/.exec(up.out()) ?? undefined, { failIf: exitedReason(up), everyMs: 20 });
    const natsUrl = m[1]!;
    const natsPid = Number(m[2]);
    up.child.kill('SIGTERM');
    const ended = await waitExit(up, 'up to stop after SIGTERM', 30_000);
    say(`SIGTERM ${Date.now() - t0} ms after start; up exited ${JSON.stringify(ended)}; its output:\n${up.out()}${up.err()}`);
    expect(ended.code).toBe(143);
    // Every process of this cluster was handed the NATS URL; none may outlive the supervisor.
    const left = await waitFor('every started process to be gone', 10_000, () => (!alive(natsPid) && pidsMentioning(natsUrl).length === 0 ? true : undefined)).catch(() => false);
    expect(left ? [] : { natsAlive: alive(natsPid), children: pidsMentioning(natsUrl) }).toEqual([]);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    expect(existsSync(join(dir, 'cluster.json'))).toBe(false);
  }, 60_000);

  it('a NATS port already in use fails the start with a clear error, not a cluster on someone else’s server', async () => {
    const dir = tempDir();
    const other = await startNatsServer();
    try {
      const r = await run(['up', '--data-dir', dir, '--nats-port', String(other.port), '--truetime', 'local']);
      say(`up on a taken port exited ${r.code} after ${r.ms} ms: ${r.stderr.split('\n')[0]}`);
      expect(r.code).toBe(4);
      expect(r.stderr).toContain(`port ${other.port} is already in use`);
      expect(r.stdout).not.toContain('spanserver ');
      expect(existsSync(join(dir, 'cluster.json'))).toBe(false);
      expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    } finally {
      await other.stop();
    }
  }, 60_000);
});
