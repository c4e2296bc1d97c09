/**
 * Which cluster a command talks to, from any directory (docs/cli.md "Finding the cluster"):
 * `--data-dir` (or SYNOD_DATA_DIR), else `.synod` in the working directory, else the cluster the
 * last `synod up` on this machine remembered, like a NATS context.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { DataDirError } from './exit-codes.js';

const MAX_FILE_BYTES = 16 * 1024 * 1024;

/** Where the remembered cluster is kept: $SYNOD_CONFIG_DIR, else $XDG_CONFIG_HOME/synod, else ~/.config/synod. */
export function contextFile(env: Record<string, string | undefined> = process.env): string {
  const dir = env.SYNOD_CONFIG_DIR || join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'synod');
  return join(dir, 'current-cluster.json');
}

const contextSchema = z.object({ dataDir: z.string().min(1).max(4096) });

/** Records `dataDir` as the current cluster; written whole (temp file and rename) so a reader never sees half. */
export function rememberCluster(dataDir: string, env: Record<string, string | undefined> = process.env): string {
  const file = contextFile(env);
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ dataDir: resolve(dataDir) }) + '\n');
  renameSync(tmp, file);
  return file;
}

/** Reads a small JSON file of ours; a corrupt one is a DataDirError that names it, never a parser stack. */
export function readJsonFile(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new DataDirError(`cannot read ${what} ${file}: ${(err as { code?: string }).code ?? (err as Error).message}`);
  }
  if (text.length > MAX_FILE_BYTES) throw new DataDirError(`${what} ${file} is ${text.length} bytes, over ${MAX_FILE_BYTES}: not a file synod wrote`);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new DataDirError(`${what} ${file} is corrupt (${(err as Error).message}): restart the cluster with 'synod up', or delete the file`);
  }
}

/** The remembered cluster's data directory, if there is one. */
export function rememberedDataDir(env: Record<string, string | undefined> = process.env): string | undefined {
  const file = contextFile(env);
  if (!existsSync(file)) return undefined;
  const parsed = contextSchema.safeParse(readJsonFile(file, 'the current-cluster file'));
  if (!parsed.success) throw new DataDirError(`the current-cluster file ${file} is not one synod wrote: delete it, or pass --data-dir`);
  return parsed.data.dataDir;
}

/**
 * The data directory a command uses: the one given, else ./.synod if it holds a cluster, else the
 * remembered one if it still holds a cluster (a removed one is forgotten), else ./.synod.
 */
export function locateDataDir(given: string | undefined, env: Record<string, string | undefined> = process.env): string {
  if (given !== undefined && given !== '') return given;
  if (existsSync(join('.synod', 'cluster.json'))) return '.synod';
  const remembered = rememberedDataDir(env);
  return remembered !== undefined && existsSync(join(remembered, 'cluster.json')) ? remembered : '.synod';
}
