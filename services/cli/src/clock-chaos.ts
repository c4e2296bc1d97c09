/** `synod chaos skew|drift`: clock faults, broadcast on the chaos subject (never faulted itself). */
import type { ClockFault } from '@synod/codec';
import { ConfigError, loadConfig, parseFlags } from '@synod/config';
import type { Bus } from '@synod/transport';
import { ALL_BUT_MASTERS, ALL_WITH_MASTERS, FAULT_QUERY, FAULT_REPORT_PREFIX } from '@synod/truetime';
import { chaosOptions } from './chaos-command.js';
import { checkName, connectToolBus, resolveCluster, type KnownNames } from './client-commands.js';

export const CLOCK_CHAOS_HELP = `Clock faults:
  synod chaos skew <node|*> <ms> [--masters]    step the node's clock to <ms> off true time (0 removes the skew)
  synod chaos drift <node|*> <ppm> [--masters]  set the node's clock rate error (0 stops drifting; continuous)

'*' is every process except the time masters. Clock chaos on time masters needs --masters: with
it, '*' includes them, and a time master may be named (without it, naming one is refused).
'synod chaos heal' also clears every clock fault; 'synod chaos show' lists them.

A node whose clock then disagrees with the time masters beyond its ε stops serving within one
sync interval (a step against its monotonic clock at once) and resumes once it agrees again. A
skewed time master is a liar: the daemons reject it as long as most masters agree. Should every
master step, a synced node refuses a reading its elapsed monotonic time cannot explain.`;

export const isClockChaos = (argv: string[]) => ['skew', 'drift'].includes(parseFlags(argv).positional[0] ?? '');

/** The fault the command words describe. */
export function clockFaultFrom(words: string[], known?: KnownNames): ClockFault {
  const [verb, node, value] = words;
  if (!node || !/^(\*|[a-z0-9][a-z0-9-]{0,62})$/.test(node)) throw new ConfigError([{ field: '<node>', message: `expected a node id or *, got ${node ?? 'nothing'}` }]);
  if (node !== '*') checkName('node', node, known, '<node>');
  if (words.length > 3) throw new ConfigError([{ field: '<words>', message: `synod chaos ${verb} takes <node|*> <value>; unexpected ${JSON.stringify(words[3])}` }]);
  const n = Number(value);
  const max = verb === 'skew' ? 86_400_000 : 500_000;
  if (value === undefined || !Number.isFinite(n) || Math.abs(n) > max) {
    throw new ConfigError([{ field: verb === 'skew' ? '<ms>' : '<ppm>', message: `expected a number from -${max} to ${max}, got ${value ?? 'nothing'}` }]);
  }
  return verb === 'skew' ? { node, skewMs: n } : { node, driftPpm: n };
}

/** The fault as broadcast: `*` with --masters becomes `**` (every process, time masters too). */
export function targetFault(fault: ClockFault, masters: boolean): ClockFault {
  return fault.node === ALL_BUT_MASTERS && masters ? { ...fault, node: ALL_WITH_MASTERS } : fault;
}

/** Whether `node` is a time master: it answers `time.get` on its inbox. */
async function isTimeMaster(bus: Bus, node: string): Promise<boolean> {
  try {
    return (await bus.request(node, 'time.get', {}, { timeoutMs: 500 })).kind === 'time.now';
  } catch {
    return false;
  }
}

/** Asks every process for its clock fault (`?`) and collects the answers for `waitMs`. */
export async function collectClockFaults(bus: Bus, waitMs = 500): Promise<Array<{ node: string; skewMs: number; driftPpm: number }>> {
  const found = new Map<string, { node: string; skewMs: number; driftPpm: number }>();
  bus.on('clock.fault', (env) => {
    const f = env.body;
    if (f.node.startsWith(FAULT_REPORT_PREFIX)) {
      const node = f.node.slice(FAULT_REPORT_PREFIX.length);
      found.set(node, { node, skewMs: f.skewMs ?? 0, driftPpm: f.driftPpm ?? 0 });
    }
  });
  await bus.broadcastChaos('clock.fault', { node: FAULT_QUERY, skewMs: 0 });
  await new Promise((r) => setTimeout(r, waitMs));
  return [...found.values()].sort((a, b) => a.node.localeCompare(b.node));
}

/** Clears every clock fault, time masters' too (`synod chaos heal`). */
export const healClocks = (bus: Bus) => bus.broadcastChaos('clock.fault', { node: ALL_WITH_MASTERS, skewMs: 0, driftPpm: 0 });

export async function runClockChaos(argv: string[]): Promise<void> {
  const { positional } = parseFlags(argv);
  const opts = loadConfig(chaosOptions.pick({ dataDir: true, natsUrl: true, cluster: true, masters: true, output: true }), { argv });
  const where = resolveCluster(opts);
  const fault = targetFault(clockFaultFrom(positional, where.known()), opts.masters);
  const bus = await connectToolBus(where, `chaos-${process.pid}`, 'control', 'operator');
  try {
    if (fault.node !== ALL_BUT_MASTERS && fault.node !== ALL_WITH_MASTERS && !opts.masters && (await isTimeMaster(bus, fault.node)))
      throw new ConfigError([{ field: '<node>', message: `${fault.node} is a time master: clock chaos on a time master needs --masters (every node's TrueTime depends on the masters)` }]);
    await bus.broadcastChaos('clock.fault', fault);
    if (fault.node === ALL_BUT_MASTERS) process.stderr.write(`note: '*' leaves the time masters alone; pass --masters to include them\n`);
    process.stdout.write(JSON.stringify(fault) + '\n');
  } finally {
    await bus.close();
  }
}
