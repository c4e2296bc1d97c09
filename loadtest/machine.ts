/**
 * The machine line every bench prints first: cores, node, load average, and any server already
 * running here that would share the cores with the one measured. On two cores an idle synod
 * cluster left running uses about a fifth of the machine, and a run beside one is not comparable
 * (docs/benchmarks.md, "After round 5": a full run spoiled that way).
 */
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

/** Programs whose presence skews a measurement here: the servers the benches start themselves. */
const SERVERS: ReadonlyArray<[name: string, test: (argv: readonly string[]) => boolean]> = [
  ['nats-server', (a) => /(^|\/)nats-server$/.test(a[0] ?? '')],
  ['etcd', (a) => /(^|\/)etcd$/.test(a[0] ?? '')],
  ['synod', (a) => a.some((x) => /synod(\.mjs)?$|\/cli\/src\/main\.ts$/.test(x)) && a.some((x) => ['spanserver', 'placement', 'timemaster', 'up', 'gateway'].includes(x))],
];

/** Which of `processes` (pid, argv) are such servers, other than `self` and its descendants `exclude`. */
export function otherServers(processes: ReadonlyArray<{ pid: number; argv: readonly string[] }>, exclude: ReadonlySet<number>): string[] {
  const found: string[] = [];
  for (const p of processes) {
    if (exclude.has(p.pid)) continue;
    const hit = SERVERS.find(([, test]) => test(p.argv));
    if (hit) found.push(`${hit[0]}(${p.pid})`);
  }
  return found;
}

/** Every process's argv from /proc (Linux; empty elsewhere or where unreadable). */
function processes(): Array<{ pid: number; argv: string[] }> {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return [];
  }
  const out: Array<{ pid: number; argv: string[] }> = [];
  for (const d of pids) {
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, 'latin1').split('\0').filter(Boolean);
      if (argv.length > 0) out.push({ pid: Number(d), argv });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** "machine: 2 × <cpu>, node v20…, load average …; other servers running: none" (or their names and pids). */
export function machineLine(): string {
  const others = otherServers(processes(), new Set([process.pid, process.ppid]));
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  return `machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, load average ${load}; other servers running: ${others.length === 0 ? 'none' : `${others.join(', ')} (they share the cores with this run)`}`;
}
