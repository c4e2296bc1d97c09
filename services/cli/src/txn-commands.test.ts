import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SynodError, type MessageBody } from '@synod/codec';
import { startNatsServer, type NatsServerHandle } from '@synod/natsd';
import { RangeMap } from '@synod/placement';
import { connectBus, type Bus } from '@synod/transport';
import { synodCommand } from './child-node.js';
import { commitNote, explainUnknownOutcome, renderTxnStatus, statusSplit } from './client-commands.js';

describe('txn outcome rendering', () => {
  it('prints each status as one line', () => {
    expect(renderTxnStatus({ state: 'committed', ts: 1712 })).toBe('committed at 1712');
    expect(renderTxnStatus({ state: 'aborted', reason: 'wounded by an older transaction' })).toBe('aborted: wounded by an older transaction');
    expect(renderTxnStatus({ state: 'aborted' })).toBe('aborted');
    expect(renderTxnStatus({ state: 'pending' })).toBe('pending');
  });

  it('says how a commit was learned when it took more than the first answer', () => {
    expect(commitNote({ ts: 9, resolvedBy: 'reply' })).toBeUndefined();
    expect(commitNote({ ts: 9, resolvedBy: 'retry' })).toBe('commit timed out; resent with the same transaction id: committed at 9');
    expect(commitNote({ ts: 9, resolvedBy: 'status' })).toBe('commit timed out; resolved by status lookup: committed at 9');
  });

  it('names the lookup command for an unknown outcome and leaves other errors alone', () => {
    const e = explainUnknownOutcome(new SynodError('TIMEOUT', 'the outcome of transaction t-1 is unknown', { txn: 't-1', split: 's1' }));
    expect(e).toMatchObject({ code: 'TIMEOUT', hint: { txn: 't-1', split: 's1' } });
    expect((e as Error).message).toContain('synod txn status t-1 --split s1');
    const plain = new SynodError('TIMEOUT', 'kv.snapshot to n1 timed out');
    expect(explainUnknownOutcome(plain)).toBe(plain);
  });

  it('finds the split by --key or --split, exactly one of them', () => {
    const map = RangeMap.uniform([{ id: 'n1', dc: 'dc-a' }], ['m']);
    const find = (o: { key?: string; split?: string }) => statusSplit(map.all(), (k) => map.splitFor(k), o);
    expect(find({ key: 'zebra' }).id).toBe('s2');
    expect(find({ split: 's1' }).id).toBe('s1');
    expect(() => find({})).toThrow(/--key <key> or --split <id>/);
    expect(() => find({ key: 'a', split: 's1' })).toThrow(/not both/);
    expect(() => find({ split: 's9' })).toThrow(/splits: s1, s2/);
  });
});

const NODES = [
  { id: 'n1', dc: 'dc-a' },
  { id: 'n2', dc: 'dc-b' },
  { id: 'n3', dc: 'dc-c' },
];

/**
 * The CLI end to end against fake spanservers on a real nats-server: n2 leads every split; its
 * commit handler answers as `commitMode` says and its status handler with `statusReply`.
 */
describe('synod put / txn / txn status against fake spanservers', () => {
  let nats: NatsServerHandle;
  let dir: string;
  let placement: string;
  const buses: Bus[] = [];
  let commitMode: 'ok' | 'timeout' = 'ok';
  let statusReply: MessageBody<'kv.txn-status.reply'> = { state: 'pending' };
  let seen: Array<{ node: string; kind: string; group: string; body: Record<string, unknown> }> = [];

  beforeAll(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'synod-txn-cli-'));
    placement = join(dir, 'placement.json');
    writeFileSync(placement, JSON.stringify(RangeMap.uniform(NODES, ['m']).config));
    for (const n of NODES) {
      const b = await connectBus(nats.url, { nodeId: n.id, dc: n.dc });
      buses.push(b);
      const lead = () => {
        if (n.id !== 'n2') throw new SynodError('NOT_LEADER', `${n.id} does not lead`, { leader: 'n2' });
      };
      b.on('kv.commit', (env) => {
        seen.push({ node: n.id, kind: env.kind, group: env.group, body: env.body as Record<string, unknown> });
        lead();
        if (commitMode === 'timeout') throw new SynodError('TIMEOUT', 'commit parked past waitMs');
        return { kind: 'kv.committed', body: { ts: 1_000, commitWaitUs: 0 } };
      });
      b.on('kv.read', (env) => {
        lead();
        return { kind: 'kv.values', body: { values: env.body.keys.map((key) => ({ key, value: 41 })), epoch: '1.n2' } };
      });
      b.on('kv.txn-status', (env) => {
        seen.push({ node: n.id, kind: env.kind, group: env.group, body: env.body as Record<string, unknown> });
        lead();
        return { kind: 'kv.txn-status.reply', body: statusReply };
      });
      b.on('kv.abort', () => ({ kind: 'kv.ok', body: {} }));
    }
  }, 30_000);

  afterAll(async () => {
    for (const b of buses) await b.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    commitMode = 'ok';
    statusReply = { state: 'pending' };
    seen = [];
  });

  /** Runs the CLI as a child (asynchronously: the fake servers live in this process). */
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

  it('txn status prints committed / aborted / pending, asking the leader of the key\'s split', async () => {
    statusReply = { state: 'committed', ts: 1_234 };
    const c = await synod('txn', 'status', 'cli-1-x:3.1', '--key', 'zebra');
    expect(c, c.stderr).toMatchObject({ code: 0, stdout: 'committed at 1234\n' });
    expect(seen.at(-1)).toMatchObject({ node: 'n2', kind: 'kv.txn-status', group: 's2', body: { txnId: 'cli-1-x:3.1', waitMs: 1_500 } });

    statusReply = { state: 'aborted', reason: 'unknown transaction, decided aborted' };
    const a = await synod('txn', 'status', 'cli-1-x:3.1', '--split', 's1', '--wait-ms', '0');
    expect(a, a.stderr).toMatchObject({ code: 0, stdout: 'aborted: unknown transaction, decided aborted\n' });
    expect(seen.at(-1)).toMatchObject({ group: 's1', body: { waitMs: 0 } });

    statusReply = { state: 'pending' };
    const p = await synod('txn', 'status', '-o', 'json', 'cli-1-x:3.1', '--key', 'apple');
    expect(p.code, p.stderr).toBe(0);
    expect(JSON.parse(p.stdout)).toEqual({ txnId: 'cli-1-x:3.1', split: 's1', state: 'pending' });
  }, 60_000);

  it('txn status refuses a missing txn id or split as INVALID_ARGUMENT', async () => {
    const noSplit = await synod('txn', 'status', 't1');
    expect(noSplit.code).toBe(2);
    expect(noSplit.stderr).toContain('synod txn: INVALID_ARGUMENT: missing --key <key> or --split <id>');
    const noId = await synod('txn', 'status', '--key', 'a');
    expect(noId.code).toBe(2);
    expect(noId.stderr).toContain("INVALID_ARGUMENT: missing required argument 'txnId'");
    const badWait = await synod('txn', 'status', 't1', '--key', 'a', '--wait-ms', '70000');
    expect(badWait.code).toBe(2);
    expect(badWait.stderr).toContain('--wait-ms');
    expect(seen).toEqual([]);
  }, 60_000);

  it('put prints the transaction id; a commit answered at once says resolvedBy reply', async () => {
    const r = await synod('put', 'apple', '5');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({ ok: true, ts: 1_000, resolvedBy: 'reply' });
    expect(out.txnId).toBe((seen.find((s) => s.node === 'n2')!.body.txn as { id: string }).id);
    expect(r.stderr).toBe('');
  }, 30_000);

  it('put whose commits time out, resolved by a status lookup, says so', async () => {
    commitMode = 'timeout';
    statusReply = { state: 'committed', ts: 2_222 };
    // -o json (the default): the note rides in the JSON line, stderr stays empty.
    const r = await synod('put', 'apple', '5');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    const commits = seen.filter((s) => s.kind === 'kv.commit' && s.node === 'n2');
    expect(commits.length).toBe(3);
    const id = (commits[0]!.body.txn as { id: string }).id;
    expect(commits.every((s) => (s.body.txn as { id: string }).id === id)).toBe(true);
    expect(out).toMatchObject({ ok: true, ts: 2_222, txnId: id, resolvedBy: 'status', note: 'commit timed out; resolved by status lookup: committed at 2222' });
    expect(r.stderr).toBe('');
    expect(seen.filter((s) => s.kind === 'kv.txn-status').at(-1)!.body.txnId).toBe(id);

    // -o table: one line for people, the note on stderr.
    const table = await synod('put', 'apple', '5', '-o', 'table');
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^committed at 2222 \(txn cli-\d+-[a-z0-9]+:1\.1\)\n$/);
    expect(table.stderr).toBe('commit timed out; resolved by status lookup: committed at 2222\n');
  }, 60_000);

  it('txn whose outcome stays unknown exits 5 with TIMEOUT, naming the txn id and how to look it up', async () => {
    commitMode = 'timeout';
    statusReply = { state: 'pending' };
    const r = await synod('txn', 'add:apple=1', '--outcome-wait-ms', '400');
    expect(r.code).toBe(5);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const id = (seen.find((s) => s.kind === 'kv.commit')!.body.txn as { id: string }).id;
    expect(r.stderr).toContain(`synod txn: TIMEOUT: the outcome of transaction ${id} is unknown`);
    expect(r.stderr).toContain(`look it up with: synod txn status ${id} --split s1`);
    expect(r.stdout).toBe('');
  }, 60_000);

  it('txn prints its transaction id, reads and resolvedBy', async () => {
    const r = await synod('txn', 'get:apple', 'add:apple=1', '-o', 'json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, reads: { apple: 41 }, ts: 1_000, attempts: 1, resolvedBy: 'reply', txnId: expect.stringMatching(/^cli-\d+-[a-z0-9]+:1\.1$/) });
  }, 30_000);
});
