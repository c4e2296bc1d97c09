/**
 * Issue 17 must-show: bad input to the installed `synod`, table-driven. Each case is one line on
 * stderr (`synod <command>: <CODE>: …`), its stable exit code (docs/cli.md "Errors and exit
 * codes"), nothing on stdout, no stack trace; the cluster keeps serving throughout, and a refused
 * write wrote nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installedSynod, runSynod } from './synod-binary.js';

const root = mkdtempSync(join(tmpdir(), 'synod-bad-'));
const dataDir = join(root, 'cluster');
const cwd = join(root, 'elsewhere');
mkdirSync(cwd);
// `synod up` remembers its cluster here, not in the user's home.
const env = { SYNOD_CONFIG_DIR: join(root, 'config'), SYNOD_DATA_DIR: dataDir };
let bin = '';
let up: ChildProcess | undefined;
let upOut = '';

beforeAll(async () => {
  bin = installedSynod();
  up = spawn(bin, ['up', '--data-dir', dataDir, '--truetime', 'local'], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  up.stdout!.on('data', (b: Buffer) => (upOut += b.toString()));
  up.stderr!.on('data', (b: Buffer) => (upOut += b.toString()));
  const deadline = Date.now() + 90_000;
  while (!upOut.includes('every split has a leader')) {
    if (up.exitCode !== null || Date.now() > deadline) throw new Error(`synod up did not come up:\n${upOut}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}, 120_000);

afterAll(async () => {
  if (up && up.exitCode === null) {
    const exited = new Promise((r) => up!.once('exit', r));
    up.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
    if (up.exitCode === null) up.kill('SIGKILL');
  }
  rmSync(root, { recursive: true, force: true });
}, 30_000);

const synod = (args: string[], stdin?: string) => runSynod(bin, args, { cwd, env, ...(stdin !== undefined ? { stdin } : {}), timeoutMs: 30_000 });

interface Case {
  why: string;
  args: () => string[];
  code: string;
  exit: number;
  stdin?: string;
}

const big = (n: number) => 'k'.repeat(n);
const files = {
  missing: () => join(root, 'no-such-file.json'),
  huge: () => {
    const f = join(root, 'huge.txt');
    if (!existsSync(f)) writeFileSync(f, 'x'.repeat(2 * 1024 * 1024));
    return f;
  },
  corruptDir: () => {
    const d = join(root, 'corrupt');
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'cluster.json'), '{"natsUrl": "nats://127.0.0.1:4222", trunc');
    return d;
  },
  wrongShapeDir: () => {
    const d = join(root, 'wrong-shape');
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'cluster.json'), JSON.stringify({ hello: 'world' }));
    return d;
  },
  placementFile: () => join(dataDir, 'placement.json'),
};

const CASES: Case[] = [
  // The command line itself.
  { why: 'unknown command', args: () => ['frobnicate'], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: 'unknown flag', args: () => ['get', 'k', '--bogus'], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: 'missing key', args: () => ['get'], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: 'missing value', args: () => ['put', 'k'], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: 'extra argument', args: () => ['put', 'k', 'v', 'w'], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: 'bad output format', args: () => ['get', 'k', '-o', 'yaml'], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: 'limit out of range', args: () => ['scan', 'a', 'z', '--limit', '0'], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: 'limit not a number', args: () => ['scan', 'a', 'z', '--limit', 'many'], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: 'negative snapshot timestamp', args: () => ['get', 'k', '--ts=-5'], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: 'staleness and timestamp together', args: () => ['get', 'k', '--stale-ms', '10', '--ts', '5'], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: 'unknown shell for completion', args: () => ['completion', 'fish'], code: 'INVALID_ARGUMENT', exit: 2 },
  // Values that would not be stored as given.
  { why: 'integer beyond 2^53 (would be rounded)', args: () => ['put', 'big', '12345678901234567890'], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: '1e999 (would become null)', args: () => ['put', 'inf', '1e999'], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: 'a huge integer inside a JSON object', args: () => ['put', 'obj', '{"id": 98765432109876543210}'], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: '--json with text that is not JSON', args: () => ['put', 'k', '{broken', '--json'], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: '--json and --string together', args: () => ['put', 'k', 'v', '--json', '--string'], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: 'value file that does not exist', args: () => ['put', 'k', `@${files.missing()}`], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: 'value file over the value limit', args: () => ['put', 'k', `@${files.huge()}`], code: 'VALUE_TOO_LARGE', exit: 2 },
  { why: 'stdin value over the value limit', args: () => ['put', 'k', '-'], stdin: 'y'.repeat(2 * 1024 * 1024), code: 'VALUE_TOO_LARGE', exit: 2 },
  // Keys.
  { why: 'empty key', args: () => ['get', ''], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: 'key that was not valid UTF-8 (U+FFFD)', args: () => ['put', 'bad\uFFFDkey', '1'], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: 'key over 4 KiB', args: () => ['get', big(5_000)], code: 'KEY_TOO_LARGE', exit: 2 },
  { why: 'scan whose end is before its start', args: () => ['scan', 'z', 'a'], code: 'INVALID_ARGUMENT', exit: 2 },
  // Transactions.
  { why: 'txn without operations', args: () => ['txn'], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: 'unknown txn operation', args: () => ['txn', 'frob:a'], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: 'add of a non-number', args: () => ['txn', 'add:a=x'], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: 'add of 1e999', args: () => ['txn', 'add:a=1e999'], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: 'put without a value', args: () => ['txn', 'put:a'], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: 'add to a value that is a string (must write nothing)', args: () => ['txn', 'add:word=1'], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: 'txn status without an id', args: () => ['txn', 'status'], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: 'txn status without key or split', args: () => ['txn', 'status', 't1'], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: 'txn status of an unknown split', args: () => ['txn', 'status', 't1', '--split', 's99'], code: 'INVALID_ARGUMENT', exit: 2 },
  // Names the cluster does not have.
  { why: 'unknown DC for a read', args: () => ['get', 'k', '--dc', 'dc-x'], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: 'malformed DC name', args: () => ['get', 'k', '--dc', 'DC A'], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: 'chaos partition of an unknown DC', args: () => ['chaos', 'partition', 'dc-x'], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: 'chaos isolate of an unknown node', args: () => ['chaos', 'isolate', 'n9'], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: 'chaos latency that is not a number', args: () => ['chaos', 'latency', 'dc-a', 'dc-b', 'slow'], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: 'clock skew of an unknown node', args: () => ['chaos', 'skew', 'n9', '5'], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: 'unknown chaos verb', args: () => ['chaos', 'explode'], code: 'INVALID_ARGUMENT', exit: 2 },
  { why: 'move a replica onto the node it is on', args: () => ['move', 's1', 'n1', 'n1'], code: 'INVALID_ARGUMENT', exit: 2 },
  // Where the cluster is.
  { why: 'a data directory without a cluster', args: () => ['get', 'k', '--data-dir', join(root, 'nothing-here')], code: 'UNAVAILABLE', exit: 4 },
  { why: 'a NATS server that is not there', args: () => ['get', 'k', '--nats-url', 'nats://127.0.0.1:1', '--placement', files.placementFile()], code: 'UNAVAILABLE', exit: 4 },
  { why: 'a corrupt cluster.json', args: () => ['get', 'k', '--data-dir', files.corruptDir()], code: 'DATA_DIR', exit: 3 },
  { why: 'a cluster.json synod did not write', args: () => ['status', '--data-dir', files.wrongShapeDir()], code: 'DATA_DIR', exit: 3 },
  { why: 'synod up on a running cluster', args: () => ['up', '--data-dir', dataDir], code: 'DATA_DIR', exit: 3 },
  { why: 'synod up on a path under a file', args: () => ['up', '--data-dir', join(files.placementFile(), 'sub')], code: 'DATA_DIR', exit: 3 },
  { why: 'synod up with split keys out of order', args: () => ['up', '--data-dir', join(root, 'unsorted'), '--split-keys', 'p,g'], code: 'INVALID_ARGUMENT', exit: 2 },
];

describe('bad input to the installed synod', { timeout: 300_000 }, () => {
  it('has at least 30 cases', () => expect(CASES.length).toBeGreaterThanOrEqual(30));

  it('each is one line with its code and exit code, no stack, nothing on stdout; the cluster keeps serving', async () => {
    const ok = await synod(['put', 'word', 'hello']);
    expect(ok.code, ok.stderr).toBe(0);
    const failures: string[] = [];
    for (const c of CASES) {
      const r = await synod(c.args(), c.stdin);
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      const problems = [
        r.code !== c.exit ? `exit ${r.code ?? r.signal}, want ${c.exit}` : '',
        lines.length !== 1 ? `${lines.length} stderr lines` : '',
        lines.length > 0 && !new RegExp(`^synod( [a-z-]+)*: ${c.code}: \\S`).test(lines[0]!) ? `line does not start with "synod <command>: ${c.code}: "` : '',
        /^\s+at |node:internal|\.ts:\d+:\d+/m.test(r.stderr) ? 'a stack trace' : '',
        r.stdout !== '' ? `stdout ${JSON.stringify(r.stdout.slice(0, 80))}` : '',
      ].filter(Boolean);
      if (problems.length) failures.push(`${c.why} (synod ${c.args().join(' ').slice(0, 80)}): ${problems.join('; ')}\n    stderr: ${r.stderr.slice(0, 300)}`);
    }
    expect(failures, failures.join('\n')).toEqual([]);
    // Still serving, and the refused add wrote nothing.
    const word = await synod(['get', 'word', '-o', 'json']);
    expect(word.code, word.stderr).toBe(0);
    expect(JSON.parse(word.stdout)).toMatchObject({ key: 'word', value: 'hello', found: true });
    const after = await synod(['put', 'after', '1']);
    expect(after.code, after.stderr).toBe(0);
    expect(up!.exitCode).toBeNull();
  });
});
