import { spawnSync } from 'node:child_process';
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
  const run = (...args: string[]) => {
    const { cmd, args: full, cwd } = synodCommand(args);
    return spawnSync(cmd, full, { cwd, encoding: 'utf8', timeout: 30_000 });
  };

  it('prints help for every command and fails cleanly on unknown ones', () => {
    const top = run('--help');
    expect(top.status).toBe(0);
    const visible = ['demo', 'chaos', 'up', 'status', 'put', 'get', 'del', 'scan', 'txn', 'splits', 'split', 'move', 'drain', 'lead', 'bench', 'gateway', 'creds', 'completion'];
    const internal = ['probe-node', 'paxos-node', 'spanserver', 'placement', 'timemaster', 'clock-node'];
    for (const name of visible) expect(top.stdout, name).toMatch(new RegExp(`^  ${name} `, 'm'));
    // Service processes that `synod up` starts are not listed, but still answer --help.
    for (const name of internal) expect(top.stdout, name).not.toMatch(new RegExp(`^  ${name} `, 'm'));
    for (const name of [...visible, ...internal]) {
      const sub = run(name, '--help');
      expect(sub.status, name).toBe(0);
      expect(sub.stdout).toContain(`synod ${name}`);
    }
    const status = run('txn', 'status', '--help');
    expect(status.status).toBe(0);
    expect(status.stdout).toContain('Usage: synod txn status [options] <txnId>');
    expect(status.stdout).toContain('--split <value>');
    const bad = run('frobnicate');
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain("unknown command 'frobnicate'");
    // `help <command>` is the command's own help, with its generated options.
    const viaHelp = run('help', 'get');
    expect(viaHelp.status).toBe(0);
    expect(viaHelp.stdout).toContain('--stale-ms <value>');
    const version = run('--version');
    expect(version.status).toBe(0);
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+/);
  }, 90_000);

  it('reports a bad flag as INVALID_ARGUMENT', () => {
    const r = run('chaos', 'heal', '--nats-url', 'nats://127.0.0.1:1', '--bogus', '1');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('INVALID_ARGUMENT');
    expect(r.stderr).toContain('--bogus');
  }, 30_000);

  // Four processes, each compiling the CLI with tsx (2–4 s apiece on a loaded machine): past vitest's default 5 s.
  it('a cluster that is not there is one line with a hint for every command that connects, never a stack', () => {
    const nowhere = ['--nats-url', 'nats://127.0.0.1:1'];
    for (const argv of [
      ['chaos', 'partition', 'dc-a', ...nowhere],
      ['chaos', 'skew', 'n1', '5', ...nowhere],
      ['splits', ...nowhere],
      ['split', 'k', ...nowhere],
    ]) {
      const r = run(...argv);
      expect(r.status, argv.join(' ')).toBe(4);
      const lines = r.stderr.trim().split('\n');
      expect(lines, argv.join(' ')).toHaveLength(1);
      expect(lines[0], argv.join(' ')).toMatch(/^synod \S+: UNAVAILABLE: /);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
  }, 60_000);
});
