import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Thrown when `nats-server` is not installed; names the package that provides it. */
export class NatsServerMissingError extends Error {
  readonly code = 'UNAVAILABLE';
  constructor(searched: string[]) {
    super(
      `nats-server binary not found (searched SYNOD_NATS_SERVER and ${searched.join(', ')}). ` +
        `Install the Debian package 'nats-server' (apt-get install -y nats-server) or set SYNOD_NATS_SERVER to its path.`,
    );
    this.name = 'NatsServerMissingError';
  }
}

/** Debian installs nats-server in /usr/sbin, which is not on every user's PATH. */
const EXTRA_DIRS = ['/usr/sbin', '/usr/local/sbin', '/usr/local/bin', '/usr/bin'];

export function findNatsServer(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.SYNOD_NATS_SERVER;
  const dirs = [...(env.PATH ?? '').split(delimiter).filter(Boolean), ...EXTRA_DIRS];
  const candidates = explicit ? [explicit] : dirs.map((d) => join(d, 'nats-server'));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not here; keep looking
    }
  }
  throw new NatsServerMissingError(explicit ? [explicit] : dirs);
}
