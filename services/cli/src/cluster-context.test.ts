import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { contextFile, locateDataDir, readJsonFile, rememberCluster, rememberedDataDir } from './cluster-context.js';
import { DataDirError } from './exit-codes.js';

const dir = mkdtempSync(join(tmpdir(), 'synod-ctx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('finding the cluster from any directory', () => {
  it('prefers the given directory, else remembers the last synod up', () => {
    const env = { SYNOD_CONFIG_DIR: join(dir, 'cfg') };
    expect(rememberedDataDir(env)).toBeUndefined();
    expect(locateDataDir(undefined, env)).toBe('.synod');
    const file = rememberCluster(join(dir, 'c1'), env);
    expect(file).toBe(contextFile(env));
    // Remembered, but no cluster there (stopped and removed): forgotten.
    expect(locateDataDir(undefined, env)).toBe('.synod');
    mkdirSync(join(dir, 'c1'), { recursive: true });
    writeFileSync(join(dir, 'c1', 'cluster.json'), '{}');
    expect(locateDataDir(undefined, env)).toBe(join(dir, 'c1'));
    expect(locateDataDir('/explicit', env)).toBe('/explicit');
  });

  it('uses XDG_CONFIG_HOME when SYNOD_CONFIG_DIR is not set', () => {
    expect(contextFile({ XDG_CONFIG_HOME: '/x' })).toBe('/x/synod/current-cluster.json');
  });

  it('a corrupt or foreign current-cluster file is a DataDirError naming it', () => {
    const env = { SYNOD_CONFIG_DIR: join(dir, 'bad') };
    mkdirSync(env.SYNOD_CONFIG_DIR, { recursive: true });
    writeFileSync(contextFile(env), '{"dataDir": ');
    expect(() => rememberedDataDir(env)).toThrow(DataDirError);
    expect(() => rememberedDataDir(env)).toThrow(/current-cluster file .* is corrupt/);
    writeFileSync(contextFile(env), '{"other": 1}');
    expect(() => rememberedDataDir(env)).toThrow(/not one synod wrote/);
    expect(() => readJsonFile(join(dir, 'none.json'), 'the cluster file')).toThrow(/ENOENT/);
  });
});
