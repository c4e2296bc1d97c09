import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { EMPTY_CHAOS } from '@synod/transport';
import { nextChaos } from './chaos-command.js';
import { synodCommand } from './child-node.js';

const opts = { dataDir: '.synod', natsUrl: 'nats://x', cluster: 'synod', oneWay: false, jitter: 0, both: false, masters: false, network: false, output: 'json' as const };

describe('synod chaos', () => {
  it('partitions a DC from every other DC by default', () => {
    const s = nextChaos(EMPTY_CHAOS, ['partition', 'dc-a'], opts)!;
    expect(s.version).toBe(1);
    expect(s.links.map((l) => `${l.from}>${l.to}:${l.down}`).sort()).toEqual(['*>dc-a:true', 'dc-a>*:true']);
  });

  it('adds latency in both directions as one version with --both', () => {
    const s = nextChaos({ ...EMPTY_CHAOS, version: 4 }, ['latency', 'dc-a', 'dc-b', '30'], { ...opts, both: true })!;
    expect(s.version).toBe(5);
    expect(s.links.map((l) => `${l.from}>${l.to}:${l.latencyMs}`).sort()).toEqual(['dc-a>dc-b:30', 'dc-b>dc-a:30']);
  });

  it('rejects bad input with INVALID_ARGUMENT naming the field', () => {
    expect(() => nextChaos(EMPTY_CHAOS, ['loss', 'dc-a', 'dc-b', '1.5'], opts)).toThrow(/<probability>/);
    expect(() => nextChaos(EMPTY_CHAOS, ['latency', 'dc-a'], opts)).toThrow(/<to-dc>/);
    expect(() => nextChaos(EMPTY_CHAOS, ['explode'], opts)).toThrow(/unknown chaos command/);
  });
});

describe('synod CLI', () => {
  interface Ran {
    status: number | null;
    stdout: string;
    stderr: string;
  }
  // Asynchronous on purpose: a loop of spawnSync calls blocked this worker's event loop for over
  // a minute on a loaded machine, past vitest's 60 s timeout for its own worker RPC, which then
  // failed the run although every test passed.
  const run = (...args: string[]): Promise<Ran> =>
    new Promise((resolve, reject) => {
      const { cmd, args: full, cwd } = synodCommand(args);
      const child = spawn(cmd, full, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.on('close', (status) => {
        clearTimeout(timer);
        resolve({ status, stdout, stderr });
      });
    });
  /** Runs every argv, `width` at a time, answers in argv order. */
  const runAll = async (argvs: string[][], width = 3): Promise<Ran[]> => {
    const out: Ran[] = new Array(argvs.length);
    let next = 0;
    const worker = async () => {
      while (next < argvs.length) {
        const i = next++;
        out[i] = await run(...argvs[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(width, argvs.length) }, worker));
    return out;
  };

  it('prints help for every command and fails cleanly on unknown ones', async () => {
    const top = await run('--help');
    expect(top.status).toBe(0);
    const visible = ['demo', 'chaos', 'up', 'status', 'put', 'get', 'del', 'scan', 'txn', 'splits', 'split', 'move', 'drain', 'lead', 'bench', 'gateway', 'creds', 'completion'];
    const internal = ['probe-node', 'paxos-node', 'spanserver', 'placement', 'timemaster', 'clock-node'];
    for (const name of visible) expect(top.stdout, name).toMatch(new RegExp(`^  ${name} `, 'm'));
    // Service processes that `synod up` starts are not listed, but still answer --help.
    for (const name of internal) expect(top.stdout, name).not.toMatch(new RegExp(`^  ${name} `, 'm'));
    const names = [...visible, ...internal];
    const subs = await runAll(names.map((name) => [name, '--help']));
    names.forEach((name, i) => {
      expect(subs[i]!.status, name).toBe(0);
      expect(subs[i]!.stdout).toContain(`synod ${name}`);
    });
    const status = await run('txn', 'status', '--help');
    expect(status.status).toBe(0);
    expect(status.stdout).toContain('Usage: synod txn status [options] <txnId>');
    expect(status.stdout).toContain('--split <value>');
    const bad = await run('frobnicate');
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain("unknown command 'frobnicate'");
    // `help <command>` is the command's own help, with its generated options.
    const viaHelp = await run('help', 'get');
    expect(viaHelp.status).toBe(0);
    expect(viaHelp.stdout).toContain('--stale-ms <value>');
    const version = await run('--version');
    expect(version.status).toBe(0);
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+/);
  }, 90_000);

  it('reports a bad flag as INVALID_ARGUMENT', async () => {
    const r = await run('chaos', 'heal', '--nats-url', 'nats://127.0.0.1:1', '--bogus', '1');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('INVALID_ARGUMENT');
    expect(r.stderr).toContain('--bogus');
  }, 30_000);

  // Four processes, each compiling the CLI with tsx (2–4 s apiece on a loaded machine): past vitest's default 5 s.
  it('a cluster that is not there is one line with a hint for every command that connects, never a stack', async () => {
    const nowhere = ['--nats-url', 'nats://127.0.0.1:1'];
    for (const argv of [
      ['chaos', 'partition', 'dc-a', ...nowhere],
      ['chaos', 'skew', 'n1', '5', ...nowhere],
      ['splits', ...nowhere],
      ['split', 'k', ...nowhere],
    ]) {
      const r = await run(...argv);
      expect(r.status, argv.join(' ')).toBe(4);
      const lines = r.stderr.trim().split('\n');
      expect(lines, argv.join(' ')).toHaveLength(1);
      expect(lines[0], argv.join(' ')).toMatch(/^synod \S+: UNAVAILABLE: /);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
  }, 60_000);
});
