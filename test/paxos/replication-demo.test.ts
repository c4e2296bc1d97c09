/**
 * The main job's replication part, end to end: three replica processes in three DCs over real
 * NATS with LMDB, a retrying client workload, the leader's DC partitioned and healed.
 */
import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { synodCommand } from '@synod/cli';

it('keeps committing through a leader-DC partition and converges to one log', () => {
  const { cmd, args, cwd } = synodCommand(['demo', '--parts', 'replication', '--phase-seconds', '3', '--workers', '4']);
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 90_000 });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toContain('OK: every replica applied the same log');
  // After the partition a replica outside the old leader's DC leads and commits go on.
  const partitioned = r.stdout.split('\n').filter((l) => l.includes('[leader DC partitioned]'));
  const committed = partitioned.map((l) => Number(/committed\s+(\d+)/.exec(l)?.[1]));
  expect(committed.at(-1)!).toBeGreaterThan(committed[0]!);
}, 120_000);
