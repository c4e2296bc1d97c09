import { closeSync, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive } from '@synod/natsd';

export const LOCK_FILE = 'up.lock';
/** The exit code of `synod up` when its data directory is locked by a running `synod up`. */
export const EXIT_DATA_DIR_LOCKED = 3;

/** Another live process holds the data directory. */
export class DataDirLockedError extends Error {
  readonly exitCode = EXIT_DATA_DIR_LOCKED;
  constructor(
    readonly dataDir: string,
    readonly holderPid: number,
  ) {
    super(
      `data directory ${dataDir} is in use by another 'synod up' (pid ${holderPid}); stop that one first or pass another --data-dir ` +
        `(if pid ${holderPid} is not a synod process, remove ${join(dataDir, LOCK_FILE)} by hand)`,
    );
    this.name = 'DataDirLockedError';
  }
}

export interface DataDirLock {
  readonly path: string;
  /** Whether an earlier holder's lock was found with its process gone and taken over. */
  readonly tookOverFromPid?: number;
  /** Removes the lock file if it is still ours. Idempotent. */
  release(): void;
}

const readPid = (path: string): number | undefined => {
  try {
    const n = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isFinite(n) ? n : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
};

/**
 * Takes `<dataDir>/up.lock`, created exclusively (O_EXCL) with this process's pid. A lock whose
 * pid no longer runs is stale and taken over; a lock of a live process throws DataDirLockedError.
 * A lock file being written (empty for a moment) counts as held.
 */
export function lockDataDir(dataDir: string, pid = process.pid): DataDirLock {
  const path = join(dataDir, LOCK_FILE);
  let tookOverFromPid: number | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      try {
        writeSync(fd, `${pid}\n`);
      } finally {
        closeSync(fd);
      }
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        process.off('exit', release);
        if (readPid(path) === pid) unlinkSync(path);
      };
      // process.exit() on any path still removes the lock; a killed process leaves a stale one.
      process.on('exit', release);
      return { path, release, ...(tookOverFromPid !== undefined ? { tookOverFromPid } : {}) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = readPid(path);
    if (holder === undefined) {
      // Gone in between (retry), or created but its pid not written yet (held).
      try {
        readFileSync(path);
      } catch {
        continue;
      }
      throw new DataDirLockedError(dataDir, 0);
    }
    if (holder !== pid && processAlive(holder)) throw new DataDirLockedError(dataDir, holder);
    // Stale. Move it aside under a name only we use, so of two processes taking it over at once
    // only one removes it; if what we moved is not the stale lock we read, it is a fresh one: put it back.
    const aside = `${path}.stale-${pid}`;
    try {
      renameSync(path, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    const moved = readPid(aside);
    if (moved !== holder && moved !== undefined && processAlive(moved)) {
      try {
        linkSync(aside, path);
      } catch {
        /* someone else holds it now; either way it is not ours */
      }
      unlinkSync(aside);
      throw new DataDirLockedError(dataDir, moved);
    }
    unlinkSync(aside);
    tookOverFromPid = holder;
  }
  throw new Error(`could not take ${path}: it kept changing`);
}
