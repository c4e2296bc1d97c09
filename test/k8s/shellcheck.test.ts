import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './rendered-processes.js';

// shellcheck comes with `node infra/ensure-deps.mjs --tests` (npm test runs it first).
describe('infra/kind scripts', () => {
  it('are shellcheck-clean and use strict mode', () => {
    const dir = join(REPO_ROOT, 'infra/kind');
    const scripts = readdirSync(dir).filter((f) => f.endsWith('.sh')).sort();
    expect(scripts).toEqual(['down.sh', 'partition.sh', 'up.sh']);
    const r = spawnSync('shellcheck', ['--shell=bash', ...scripts], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    expect(r.error, 'shellcheck is not installed: node infra/ensure-deps.mjs --tests installs it').toBeUndefined();
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
    for (const s of scripts) {
      const bash = spawnSync('bash', ['-n', s], { cwd: dir, encoding: 'utf8', timeout: 10_000 });
      expect(bash.status, bash.stderr).toBe(0);
      expect(spawnSync('grep', ['-qx', 'set -euo pipefail', s], { cwd: dir }).status, `${s} has set -euo pipefail`).toBe(0);
    }
  });

  it('partition.sh refuses anything but a zone or heal, before touching the cluster', () => {
    const r = spawnSync('bash', [join(REPO_ROOT, 'infra/kind/partition.sh'), 'dc-z'], { encoding: 'utf8', timeout: 10_000, env: { ...process.env, PATH: '/usr/bin:/bin' } });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/usage: .*dc-a\|dc-b\|dc-c\|heal/);
  });
});
