import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { openStorage } from './storage.js';
import { tempDir } from './test-helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const packageDir = join(here, '..');
const fixture = join(here, 'sigkill-writer.fixture.ts');

interface Reported {
  slots: Map<string, Set<number>>;
  promised: Map<string, number>;
  count: number;
}

/** Runs the writer until it has reported `minSlots` durable slots, then SIGKILLs it. */
function runAndKill(path: string, minSlots: number): Promise<{ reported: Reported; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, path, '3', '8'], {
      cwd: packageDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const reported: Reported = { slots: new Map(), promised: new Map(), count: 0 };
    let buffered = '';
    let stderr = '';
    let killed = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`writer too slow: ${reported.count} slots reported; stderr: ${stderr}`));
    }, 30_000);
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? ''; // an unfinished line proves nothing
      for (const line of lines) {
        const [kind, group, n] = line.split(' ');
        if (kind === 'slot' && group && n) {
          let set = reported.slots.get(group);
          if (!set) reported.slots.set(group, (set = new Set()));
          set.add(Number(n));
          reported.count++;
        } else if (kind === 'promised' && group && n) {
          reported.promised.set(group, Math.max(reported.promised.get(group) ?? 0, Number(n)));
        }
      }
      if (!killed && reported.count >= minSlots) {
        killed = true;
        child.kill('SIGKILL'); // no exit handlers, no flush, no close: as abrupt as a crash
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (!killed) reject(new Error(`writer exited by itself (code ${code}); stderr: ${stderr}`));
      else resolve({ reported, signal });
    });
  });
}

describe('durability across SIGKILL', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => cleanups.splice(0).forEach((c) => c()));

  it('every slot and promised ballot reported after persist() resolved survives the kill', async () => {
    const dir = tempDir('synod-sigkill-');
    cleanups.push(dir.remove);

    const { reported, signal } = await runAndKill(dir.path, 600);
    expect(signal).toBe('SIGKILL');
    expect(reported.count).toBeGreaterThanOrEqual(600);

    const storage = openStorage({ path: dir.path });
    try {
      for (const [group, slots] of reported.slots) {
        const state = await storage.paxos(group).load();
        const durable = new Set(state.accepted.map((e) => e.slot));
        const missing = [...slots].filter((s) => !durable.has(s));
        expect(missing, `group ${group}: reported but lost`).toEqual([]);
        for (const e of state.accepted) {
          expect(e.value).toEqual({ kind: 'batch', cmds: [{ id: `${group}/${e.slot}`, payload: { slot: e.slot } }] });
        }
        expect(state.promised?.round ?? 0).toBeGreaterThanOrEqual(reported.promised.get(group) ?? 1);
      }
    } finally {
      await storage.close();
    }
  }, 40_000);
});
