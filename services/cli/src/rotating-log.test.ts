import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { RotatingLog } from './child-node.js';

it('appends across opens and rotates to <file>.1 past its bound, keeping one older file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'synod-log-'));
  try {
    const file = join(dir, 'logs', 'n1.log');
    const a = new RotatingLog(file, 100);
    a.write('first run');
    await a.close();
    const b = new RotatingLog(file, 100);
    b.write('second run');
    await b.close();
    expect(readFileSync(file, 'utf8')).toBe('first run\nsecond run\n');
    const c = new RotatingLog(file, 100);
    for (let i = 0; i < 30; i++) c.write(`line ${String(i).padStart(2, '0')} ${'x'.repeat(20)}`);
    await c.close();
    expect(existsSync(`${file}.1`)).toBe(true);
    expect(existsSync(`${file}.2`)).toBe(false);
    // Nothing on disk past the bound plus one line; the newest line is in the current file.
    expect(readFileSync(file, 'utf8').length).toBeLessThanOrEqual(100 + 30);
    expect(readFileSync(`${file}.1`, 'utf8').length).toBeLessThanOrEqual(100 + 30);
    expect(readFileSync(file, 'utf8')).toContain('line 29');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
