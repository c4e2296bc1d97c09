import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { SynodError } from '@synod/codec';

/** Every command this module runs ends within this long, or is killed and reported. */
export const COMMAND_TIMEOUT_MS = 5_000;

/** Debian installs ip and iptables in /usr/sbin and /sbin, which are not on every user's PATH. */
const SBIN_DIRS = ['/usr/sbin', '/sbin', '/usr/local/sbin', '/usr/bin', '/bin'];

export const INSTALL_HINT = 'install them with: apt-get install -y iptables iproute2';

export interface Tools {
  ip: string;
  iptables: string;
}

/** The full paths of `ip` and `iptables-legacy`; a clear error naming the Debian packages when one is missing. */
export function findTools(env: NodeJS.ProcessEnv = process.env, extraDirs: readonly string[] = SBIN_DIRS): Tools {
  const dirs = [...(env.PATH ?? '').split(delimiter).filter(Boolean), ...extraDirs];
  const find = (name: string) => {
    for (const d of dirs) {
      const p = join(d, name);
      try {
        accessSync(p, constants.X_OK);
        return p;
      } catch {
        // not in this directory; the next one may have it
      }
    }
    throw new SynodError('UNAVAILABLE', `network namespaces need '${name}', which is not installed (searched ${dirs.join(', ')}): ${INSTALL_HINT}`);
  };
  return { ip: find('ip'), iptables: find('iptables-legacy') };
}

/**
 * Refuses to go on without root: namespaces, veths, bridges and iptables all need CAP_NET_ADMIN,
 * and a half-made network left by a failure part-way is worse than a clear refusal up front.
 */
export function requireRoot(uid: number | undefined = process.getuid?.()): void {
  if (uid !== 0) throw new SynodError('UNAVAILABLE', `requires root (network namespaces and iptables): run as root (uid 0), this process runs as uid ${uid ?? 'unknown'}`);
}

/** Runs `file args…`, bounded in time; rejects with the command, its exit and its stderr. */
export function run(file: string, args: string[], timeoutMs = COMMAND_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 4 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const how = (err as { killed?: boolean }).killed ? `killed after ${timeoutMs} ms` : `exit code ${String((err as { code?: unknown }).code)}`;
      reject(new SynodError('UNAVAILABLE', `'${[file, ...args].join(' ')}' failed (${how}): ${stderr.trim() || err.message}`));
    });
  });
}
