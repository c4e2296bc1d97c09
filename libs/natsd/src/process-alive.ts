/**
 * Whether a process with this pid exists (signal 0 probes without signalling). EPERM means it
 * exists but belongs to someone else. Used for pid files and for tests that must see a child gone.
 */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
