/**
 * How a failed command ends (docs/cli.md "Errors and exit codes"): one line on stderr,
 * `synod <command>: <CODE>: <message>`, and an exit code scripts can switch on. Stable: the
 * table is part of the CLI's interface.
 */
import { ConfigError } from '@synod/config';
import { SynodError, type ErrorCode } from '@synod/codec';

export const EXIT = {
  OK: 0,
  /** A failure of ours (a bug): INTERNAL. */
  INTERNAL: 1,
  /** Bad flag, argument, value or key; over a documented limit. Nothing was sent or written. */
  USAGE: 2,
  /** The data directory: in use by another `synod up`, unreadable, read-only, or its files corrupt. */
  DATA_DIR: 3,
  /** The cluster cannot be reached, or has no leader for the data now. */
  UNAVAILABLE: 4,
  /** No answer in time; for a commit, its outcome is unknown (the message says how to learn it). */
  TIMEOUT: 5,
  /** A transaction aborted (nothing of it was written); running it again may succeed. */
  ABORTED: 6,
  /** A read below the garbage-collection horizon. */
  SNAPSHOT_TOO_OLD: 7,
} as const;

/** The table `synod --help` prints. */
export const EXIT_HELP = `Exit codes: 0 ok · 1 INTERNAL (a bug) · 2 INVALID_ARGUMENT (bad flag, argument, value, key; over a
limit) · 3 DATA_DIR (data directory in use, unreadable, read-only, corrupt files) · 4 UNAVAILABLE (no
cluster, no leader) · 5 TIMEOUT (for a commit: outcome unknown) · 6 TXN_ABORTED · 7 SNAPSHOT_TOO_OLD.
A failure is one line on stderr: synod <command>: <CODE>: <message>.`;

const BY_CODE: Record<ErrorCode, number> = {
  INVALID_ARGUMENT: EXIT.USAGE,
  KEY_TOO_LARGE: EXIT.USAGE,
  VALUE_TOO_LARGE: EXIT.USAGE,
  TXN_TOO_LARGE: EXIT.USAGE,
  MESSAGE_TOO_LARGE: EXIT.USAGE,
  KEY_OUT_OF_RANGE: EXIT.UNAVAILABLE,
  NOT_LEADER: EXIT.UNAVAILABLE,
  UNAVAILABLE: EXIT.UNAVAILABLE,
  TIMEOUT: EXIT.TIMEOUT,
  TXN_ABORTED: EXIT.ABORTED,
  SNAPSHOT_TOO_OLD: EXIT.SNAPSHOT_TOO_OLD,
  INTERNAL: EXIT.INTERNAL,
};

/** A problem with the data directory or a file of it, as the user should see it. */
export class DataDirError extends Error {
  readonly code = 'DATA_DIR';
  readonly exitCode: number = EXIT.DATA_DIR;
}

/** Node's file-system error codes that mean "this path cannot be used", not "we have a bug". */
const FS_CODES: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  ENOENT: 'no such file or directory',
  EEXIST: 'already exists',
};

const MAX_LINE = 600;

/** One line: no newlines, bounded. */
export const oneLine = (s: string) => {
  const flat = s.replace(/\s*\n\s*/g, '; ').trim();
  return flat.length > MAX_LINE ? `${flat.slice(0, MAX_LINE)}…` : flat;
};

/** The code, the message and the exit code of a failure. */
export function describeFailure(err: unknown): { code: string; message: string; exitCode: number; bug: boolean } {
  if (err instanceof SynodError) return { code: err.code, message: err.message, exitCode: BY_CODE[err.code] ?? EXIT.INTERNAL, bug: false };
  if (err instanceof ConfigError) return { code: 'INVALID_ARGUMENT', message: err.issues.map((i) => `${i.field}: ${i.message}`).join('; '), exitCode: EXIT.USAGE, bug: false };
  if (err instanceof Error && (err as { code?: unknown }).code === 'INVALID_ARGUMENT') return { code: 'INVALID_ARGUMENT', message: err.message, exitCode: EXIT.USAGE, bug: false };
  if (err instanceof Error && typeof (err as { exitCode?: unknown }).exitCode === 'number' && (err as { code?: unknown }).code === 'DATA_DIR') return { code: 'DATA_DIR', message: err.message, exitCode: EXIT.DATA_DIR, bug: false };
  const sys = err as { code?: unknown; path?: unknown; syscall?: unknown };
  if (err instanceof Error && typeof sys.code === 'string' && sys.code in FS_CODES) {
    const where = typeof sys.path === 'string' ? ` ${sys.path}` : '';
    return { code: 'DATA_DIR', message: `cannot ${typeof sys.syscall === 'string' ? sys.syscall : 'use'}${where}: ${FS_CODES[sys.code]} (${sys.code})`, exitCode: EXIT.DATA_DIR, bug: false };
  }
  return { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err), exitCode: EXIT.INTERNAL, bug: true };
}
