import { afterEach } from 'vitest';
import { openStorage, type Storage } from './storage.js';
import { tempDir } from './test-helpers.js';

/**
 * For a test file or describe block: returns `fresh()`, which opens a storage in a new temp dir;
 * its `reopen` closes it and opens the same dir again. Everything opened is closed and its dir
 * removed after each test.
 */
export function storageFixture(options: { fsync: boolean; wal?: boolean }): () => { storage: Storage; reopen: () => Promise<Storage> } {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return () => {
    const dir = tempDir();
    cleanups.push(dir.remove);
    let current = openStorage({ path: dir.path, ...options });
    cleanups.push(() => current.close());
    const reopen = async () => {
      await current.close();
      current = openStorage({ path: dir.path, ...options });
      return current;
    };
    return { storage: current, reopen };
  };
}
