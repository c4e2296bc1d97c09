/**
 * Issue 17 must-show: `synod` is an installed, compiled command. The test finds it on PATH (put
 * there by `node infra/ensure-deps.mjs`), starts a cluster with it and drives the cluster from a
 * directory outside the repository, the way a user in another project would: the data directory
 * comes from SYNOD_DATA_DIR for some commands and from --data-dir for others, and `-o json`
 * output is checked line by line against the documented contract.
 *
 * Every wait is bounded; how long `synod get` takes is printed, never asserted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../cluster/helpers.js';

const say = (s: string) => console.log(`installed-cli: ${s}`);
const REPO_ROOT = realpathSync(fileURLToPath(new URL('../../', import.meta.url)));
const FIX = 'run `node infra/ensure-deps.mjs` (npm test and CI run it first): it builds the CLI and puts synod on PATH';

/** `which synod`: the first executable named synod on PATH. */
function whichSynod(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, 'synod');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

const inside = (dir: string, root: string) => {
  const rel = relative(root, dir);
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep));
};

let synodBin = '';
let dataDir = '';
let cwd = '';
let up: { child: ChildProcess; out: () => string; exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } | undefined;

/** A user's shell: no test-runner NODE_OPTIONS, and SYNOD_DATA_DIR only when a command wants it. */
function env(viaEnv: boolean): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env };
  delete e.NODE_OPTIONS;
  delete e.SYNOD_DATA_DIR;
  if (viaEnv) e.SYNOD_DATA_DIR = dataDir;
  return e;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs the installed synod from the temp cwd to its end (killed after timeoutMs). `where`
 * says how it finds the cluster: the SYNOD_DATA_DIR environment variable or a --data-dir flag.
 */
async function synod(args: string[], where: 'env' | 'flag', timeoutMs = 20_000): Promise<Run> {
  const full = where === 'flag' ? [...args, '--data-dir', dataDir] : args;
  const t0 = performance.now();
  const child = spawn(synodBin, full, { cwd, env: env(where === 'env'), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((r) => child.once('close', (c) => r(c)));
  clearTimeout(timer);
  return { code, stdout, stderr, ms: performance.now() - t0 };
}

/** Every stdout line of a `-o json` command, parsed; fails naming the command and the line that is not JSON. */
function jsonLines(what: string, r: Run): Array<Record<string, unknown>> {
  expect(r.code, `${what} exited ${r.code}: ${r.stderr}`).toBe(0);
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  expect(lines.length, `${what} printed nothing`).toBeGreaterThan(0);
  return lines.map((l) => {
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      throw new Error(`${what}: stdout line is not JSON: ${l}`);
    }
  });
}

/** The one line of a committed write (put, del, txn). */
function committed(what: string, r: Run): Record<string, unknown> {
  const lines = jsonLines(what, r);
  expect(lines, `${what} should print exactly one line`).toHaveLength(1);
  const c = lines[0]!;
  expect(c.ok, what).toBe(true);
  expect(typeof c.ts, `${what}: ts`).toBe('number');
  expect(typeof c.txnId, `${what}: txnId`).toBe('string');
  expect(typeof c.resolvedBy, `${what}: resolvedBy`).toBe('string');
  return c;
}

beforeAll(async () => {
  const found = whichSynod();
  if (!found) throw new Error(`no synod on PATH (${process.env.PATH}): ${FIX}`);
  synodBin = found;
  // A synod left on PATH by another checkout would be testing other code than this one.
  const real = realpathSync(found);
  if (!inside(real, REPO_ROOT)) throw new Error(`synod on PATH is ${found} -> ${real}, not this checkout (${REPO_ROOT}): ${FIX}`);
  say(`synod on PATH: ${found} -> ${real}`);

  cwd = realpathSync(mkdtempSync(join(tmpdir(), 'synod-cwd-')));
  dataDir = realpathSync(mkdtempSync(join(tmpdir(), 'synod-installed-')));
  if (inside(cwd, REPO_ROOT)) throw new Error(`the temp directory ${cwd} is inside the repository ${REPO_ROOT}; set TMPDIR elsewhere`);

  const t0 = Date.now();
  const child = spawn(synodBin, ['up', '--data-dir', dataDir], { cwd, env: env(false), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  up = { child, out: () => out, exit };
  // `up` says so once every split has a leader; cluster.json is how the other commands find it.
  await waitFor('synod up to report every split led', 45_000, () => (out.includes('every split has a leader') && existsSync(join(dataDir, 'cluster.json')) ? true : undefined), {
    everyMs: 100,
    failIf: () => (child.exitCode !== null || child.signalCode !== null ? `synod up exited (${child.exitCode ?? child.signalCode}):\n${out}` : undefined),
  });
  say(`synod up serving after ${Date.now() - t0} ms (data ${dataDir}, cwd ${cwd})`);
}, 60_000);

afterAll(async () => {
  if (up && up.child.exitCode === null && up.child.signalCode === null) {
    up.child.kill('SIGTERM');
    const stopped = await Promise.race([up.exit.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 20_000))]);
    if (!stopped) {
      say(`synod up did not stop within 20 s of SIGTERM; killing it:\n${up.out().slice(-2000)}`);
      up.child.kill('SIGKILL');
      await Promise.race([up.exit, new Promise((r) => setTimeout(r, 5_000))]);
    }
  }
  for (const d of [dataDir, cwd]) if (d) rmSync(d, { recursive: true, force: true });
}, 30_000);

describe('the installed synod, run from outside the repository', () => {
  it('put, get, del, get: a write is read back, a delete reads as not found, each at a later timestamp', async () => {
    const put = committed('synod put k1 v1 -o json', await synod(['put', 'k1', 'v1', '-o', 'json'], 'env'));

    const got = jsonLines('synod get k1 -o json', await synod(['get', 'k1', '-o', 'json'], 'flag'));
    expect(got, 'one line per key').toHaveLength(1);
    expect(got[0]).toMatchObject({ key: 'k1', value: 'v1', found: true });
    expect(typeof got[0]!.ts).toBe('number');
    // A strong read started after the commit was acknowledged sees it: its timestamp is not older.
    expect(got[0]!.ts as number).toBeGreaterThanOrEqual(put.ts as number);

    const del = committed('synod del k1 -o json', await synod(['del', 'k1', '-o', 'json'], 'env'));
    expect(del.ts as number).toBeGreaterThan(put.ts as number);

    const gone = jsonLines('synod get k1 -o json (after del)', await synod(['get', 'k1', '-o', 'json'], 'env'));
    expect(gone, 'one line per key').toHaveLength(1);
    expect(gone[0]).toMatchObject({ key: 'k1', found: false });
    expect(gone[0]!.value ?? null).toBe(null);
    expect(gone[0]!.ts as number).toBeGreaterThanOrEqual(del.ts as number);
  }, 30_000);

  it('put without -o, then scan: one line per row, then the row count and timestamp', async () => {
    const put = await synod(['put', 'a1', '1'], 'flag');
    expect(put.code, put.stderr).toBe(0);
    // a0 and a2 bound the range on both sides of a1, all inside the first split (keys below g).
    const put0 = await synod(['put', 'a0', '"zero"'], 'env');
    expect(put0.code, put0.stderr).toBe(0);

    const lines = jsonLines('synod scan a a2 -o json', await synod(['scan', 'a', 'a2', '-o', 'json'], 'env'));
    expect(lines.slice(0, -1)).toEqual([
      { key: 'a0', value: 'zero' },
      { key: 'a1', value: 1 },
    ]);
    const last = lines.at(-1)!;
    expect(last.rows).toBe(2);
    expect(typeof last.ts).toBe('number');
  }, 30_000);

  it('txn: two puts commit together and read back', async () => {
    const c = committed('synod txn put:t1=1 put:t2=2 -o json', await synod(['txn', 'put:t1=1', 'put:t2=2', '-o', 'json'], 'flag'));
    expect(c).toHaveProperty('reads');

    const got = jsonLines('synod get t1 t2 -o json', await synod(['get', 't1', 't2', '-o', 'json'], 'env'));
    expect(got.map((l) => [l.key, l.value, l.found])).toEqual([
      ['t1', 1, true],
      ['t2', 2, true],
    ]);
    // Both keys are read at one timestamp, which is not older than the commit.
    expect(new Set(got.map((l) => l.ts)).size).toBe(1);
    expect(got[0]!.ts as number).toBeGreaterThanOrEqual(c.ts as number);
  }, 30_000);

  it('status: every node answers, every split has a leader that names itself', async () => {
    // Bounded retries: under load a lease can lapse between two status calls and a split is briefly leaderless.
    let last: Run | undefined;
    const nodes = await waitFor(
      'a status in which every split has a leader',
      15_000,
      async () => {
        last = await synod(['status', '-o', 'json'], 'flag');
        const lines = jsonLines('synod status -o json', last);
        expect(lines, 'status prints one line').toHaveLength(1);
        const rows = lines[0]!.nodes as Array<{ node: string; dc: string; status?: { groups: Array<{ id: string; isLeader: boolean; leader: string; appliedUpTo: number }> }; error?: string }>;
        const led = new Set(rows.flatMap((r) => r.status?.groups.filter((g) => g.isLeader && g.leader === r.node).map((g) => g.id) ?? []));
        return ['s1', 's2', 's3'].every((s) => led.has(s)) ? rows : undefined;
      },
      { everyMs: 500 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nlast status: ${last?.stdout}${last?.stderr}`);
    });
    // `synod up` defaults: three DCs, one spanserver each, three splits replicated on all of them.
    expect(nodes.map((n) => [n.node, n.dc])).toEqual([
      ['n1', 'dc-a'],
      ['n2', 'dc-b'],
      ['n3', 'dc-c'],
    ]);
    for (const n of nodes) {
      expect(n.error, `${n.node} did not answer`).toBeUndefined();
      expect(n.status!.groups.map((g) => g.id).sort(), n.node).toEqual(['s1', 's2', 's3']);
      for (const g of n.status!.groups) expect(g.appliedUpTo, `${n.node} ${g.id}`).toBeGreaterThan(0);
    }
  }, 30_000);

  it('bench runs the k6 scenarios natively: bank keeps its total, hot loses no increment', async () => {
    for (const name of ['bank', 'hot', 'kv', 'read-mostly']) {
      const r = await synod(['bench', '--scenario', name, '--duration-s', '2', '--clients', '4', '--every-s', '1', '-o', 'json'], 'env', 60_000);
      expect(r.code, `${name}: ${r.stderr}`).toBe(0);
      const summary = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === 'summary')!;
      console.log(`synod bench --scenario ${name}: ${summary.ops} ops in ${Number(summary.seconds).toFixed(1)} s, errors ${summary.errors}; ${summary.verdict}`);
      expect(summary).toMatchObject({ scenario: name });
      expect(summary.ops as number).toBeGreaterThan(0);
    }
  }, 180_000);

  it('prints how long the installed synod get takes from outside the repository', async () => {
    const ms: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await synod(['get', 't1', '-o', 'json'], i % 2 ? 'env' : 'flag');
      expect(r.code, r.stderr).toBe(0);
      ms.push(r.ms);
    }
    ms.sort((a, b) => a - b);
    console.log(`synod get: ${ms[2]!.toFixed(0)} ms (installed binary, cwd ${cwd}) [median of 5; all: ${ms.map((m) => m.toFixed(0)).join(', ')} ms]`);
  }, 60_000);
});
