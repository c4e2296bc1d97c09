import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { clockFaultFrom, isClockChaos } from './clock-chaos.js';
import { synodCommand } from './child-node.js';

describe('synod chaos skew|drift', () => {
  it('builds clock faults from the command words', () => {
    expect(isClockChaos(['skew', 'n1', '500', '--nats-url', 'x'])).toBe(true);
    expect(isClockChaos(['partition', 'dc-a'])).toBe(false);
    expect(clockFaultFrom(['skew', 'n1', '500'])).toEqual({ node: 'n1', skewMs: 500 });
    expect(clockFaultFrom(['skew', '*', '-20.5'])).toEqual({ node: '*', skewMs: -20.5 });
    expect(clockFaultFrom(['drift', 'tm-a', '300'])).toEqual({ node: 'tm-a', driftPpm: 300 });
    expect(() => clockFaultFrom(['skew', 'n1'])).toThrow(/<ms>/);
    expect(() => clockFaultFrom(['drift', 'n1', '9e9'])).toThrow(/<ppm>/);
    expect(() => clockFaultFrom(['skew', 'Bad Node', '1'])).toThrow(/<node>/);
  });

  it('the CLI lists the TrueTime commands and their help', () => {
    const run = (...args: string[]) => {
      const { cmd, args: full, cwd } = synodCommand(args);
      return spawnSync(cmd, full, { cwd, encoding: 'utf8', timeout: 30_000 });
    };
    const top = run('--help');
    for (const name of ['timemaster', 'clock-node']) expect(top.stdout).toContain(name);
    expect(run('timemaster', '--help').stdout).toContain('synod timemaster');
    expect(run('clock-node', '--help').stdout).toContain('synod clock-node');
    expect(run('chaos', '--help').stdout).toContain('synod chaos skew');
  });
});
