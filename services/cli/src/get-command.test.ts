import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SynodError } from '@synod/codec';
import { startNatsServer, type NatsServerHandle } from '@synod/natsd';
import { RangeMap } from '@synod/placement';
import { connectBus, type Bus } from '@synod/transport';
import { synodCommand } from './child-node.js';
import { getLines } from './client-commands.js';

describe('synod get lines', () => {
  it('prints one line per key, every one at the read timestamp, null for a missing key', () => {
    expect(getLines(['a', 'z', 'm'], { values: new Map<string, unknown>([['a', 1], ['z', 2]]), ts: 77 })).toEqual([
      { key: 'a', value: 1, found: true, ts: 77 },
      { key: 'z', value: 2, found: true, ts: 77 },
      { key: 'm', value: null, found: false, ts: 77 },
    ]);
  });
});

const NODES = [
  { id: 'n1', dc: 'dc-a' },
  { id: 'n2', dc: 'dc-b' },
  { id: 'n3', dc: 'dc-c' },
];

/**
 * `synod get a z` against fake spanservers (two splits, cut at 'm'; n2 leads both): the first
 * key's split is read strong at its leader, which picks the timestamp; the other split is read
 * at that timestamp; both lines carry it.
 */
describe('synod get <key>… against fake spanservers', () => {
  let nats: NatsServerHandle;
  let dir: string;
  let placement: string;
  const buses: Bus[] = [];
  const seen: Array<{ node: string; group: string; body: Record<string, unknown> }> = [];

  beforeAll(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'synod-get-cli-'));
    placement = join(dir, 'placement.json');
    writeFileSync(placement, JSON.stringify(RangeMap.uniform(NODES, ['m']).config));
    for (const n of NODES) {
      const b = await connectBus(nats.url, { nodeId: n.id, dc: n.dc });
      buses.push(b);
      b.on('kv.snapshot', (env) => {
        seen.push({ node: n.id, group: env.group, body: env.body as Record<string, unknown> });
        // Strong reads go to the leader; a read at a timestamp may be served by any replica.
        if (env.body.ts === undefined && n.id !== 'n2') throw new SynodError('NOT_LEADER', `${n.id} does not lead`, { leader: 'n2' });
        const ts = env.body.ts ?? 5_000;
        return { kind: 'kv.values', body: { values: (env.body.keys ?? []).map((key) => ({ key, value: `${key}@${env.group}`, ts: 1 })), ts } };
      });
    }
  }, 30_000);

  afterAll(async () => {
    for (const b of buses) await b.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const synod = (...args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const { cmd, args: full, cwd } = synodCommand([...args, '--nats-url', nats.url, '--placement', placement]);
      const child = spawn(cmd, full, { cwd, env: { ...process.env, SYNOD_DC: '' } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });

  it('reads keys in two splits at one timestamp', async () => {
    const r = await synod('get', 'a', 'z');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([
      { key: 'a', value: 'a@s1', found: true, ts: 5_000 },
      { key: 'z', value: 'z@s2', found: true, ts: 5_000 },
    ]);
    const s1 = seen.filter((x) => x.group === 's1');
    const s2 = seen.filter((x) => x.group === 's2');
    expect(s1.at(-1)!.body.ts).toBeUndefined();
    expect(s2.at(-1)!.body).toMatchObject({ keys: ['z'], ts: 5_000 });
  }, 30_000);

  it('still reads one key as before', async () => {
    const r = await synod('get', 'a');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ key: 'a', value: 'a@s1', found: true, ts: 5_000 });
  }, 30_000);
});
