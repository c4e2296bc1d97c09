import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { permissionsFor, readCredsFile } from '@synod/transport';
import { deploymentProcesses, runCreds, writeDeploymentSecrets } from './creds-command.js';

const dirs: string[] = [];
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'synod-creds-'));
  dirs.push(d);
  return join(d, 'secrets');
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('synod creds', () => {
  it('writes one credential per process and tool, the nats-server users and a token, all mode 0600', () => {
    const dir = fresh();
    const files = writeDeploymentSecrets(dir, 'synod', 3);
    expect(files).toEqual(['client.json', 'gateway-tokens', 'gateway.json', 'n1.json', 'n2.json', 'n3.json', 'nats-auth.conf', 'operator.json', 'p1.json', 'p2.json', 'p3.json', 'tm-dc-a.json', 'tm-dc-b.json', 'tm-dc-c.json']);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const f of files) expect(statSync(join(dir, f)).mode & 0o777, f).toBe(0o600);
    // Each credential is what connectBus reads, and nats-server knows its user with its role's permissions.
    const conf = readFileSync(join(dir, 'nats-auth.conf'), 'utf8');
    const users = (JSON.parse(/^authorization: (.*)$/m.exec(conf)![1]!) as { users: Array<{ user: string; password: string; permissions: unknown }> }).users;
    expect(conf).toMatch(/^max_payload: \d+$/m);
    for (const p of deploymentProcesses('synod', 3)) {
      const creds = readCredsFile(join(dir, `${p.id}.json`));
      const u = users.find((x) => x.user === p.id)!;
      expect(u.password).toBe(creds.password);
      expect(u.permissions).toEqual(permissionsFor('synod', 'node', p.id, p.serves ?? []));
    }
    expect(users.find((u) => u.user === 'gateway')!.permissions).toEqual(permissionsFor('synod', 'client', 'gateway'));
    expect(readFileSync(join(dir, 'gateway-tokens'), 'utf8')).toMatch(/^[0-9a-f]{48}$/);
  });

  it('generates fresh secrets every run, and refuses a non-empty directory without --force', async () => {
    const dir = fresh();
    writeDeploymentSecrets(dir, 'synod', 3);
    const before = readFileSync(join(dir, 'n1.json'), 'utf8');
    await expect(runCreds(['--out', dir])).rejects.toThrow(/not empty/);
    await runCreds(['--out', dir, '--force']);
    expect(readFileSync(join(dir, 'n1.json'), 'utf8')).not.toBe(before);
    expect(readdirSync(dir)).toHaveLength(14);
  });
});
