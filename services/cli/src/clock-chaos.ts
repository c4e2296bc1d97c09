/** `synod chaos skew|drift`: clock faults, broadcast on the chaos subject (never faulted itself). */
import { z } from 'zod';
import type { ClockFault } from '@synod/codec';
import { ConfigError, loadConfig, parseFlags } from '@synod/config';
import { connectBus } from '@synod/transport';
import { resolveCluster } from './client-commands.js';

export const CLOCK_CHAOS_HELP = `Clock faults:
  synod chaos skew <node|*> <ms>      step the node's clock to <ms> off true time (0 removes the skew)
  synod chaos drift <node|*> <ppm>    set the node's clock rate error (0 stops drifting; continuous)

A node whose clock then disagrees with the time masters beyond its ε stops serving within one
sync interval and resumes once it agrees again. A skewed time master is a liar: the daemons
reject it as long as most masters agree.`;

export const isClockChaos = (argv: string[]) => ['skew', 'drift'].includes(parseFlags(argv).positional[0] ?? '');

/** The fault the command words describe. */
export function clockFaultFrom(words: string[]): ClockFault {
  const [verb, node, value] = words;
  if (!node || !/^(\*|[a-z0-9][a-z0-9-]{0,62})$/.test(node)) throw new ConfigError([{ field: '<node>', message: `expected a node id or *, got ${node ?? 'nothing'}` }]);
  const n = Number(value);
  const max = verb === 'skew' ? 86_400_000 : 500_000;
  if (value === undefined || !Number.isFinite(n) || Math.abs(n) > max) {
    throw new ConfigError([{ field: verb === 'skew' ? '<ms>' : '<ppm>', message: `expected a number from -${max} to ${max}, got ${value ?? 'nothing'}` }]);
  }
  return verb === 'skew' ? { node, skewMs: n } : { node, driftPpm: n };
}

export async function runClockChaos(argv: string[]): Promise<void> {
  const { positional } = parseFlags(argv);
  const opts = loadConfig(z.object({ dataDir: z.string().default('.synod'), natsUrl: z.string().optional(), cluster: z.string().optional() }), { argv });
  const where = resolveCluster(opts);
  const fault = clockFaultFrom(positional);
  const bus = await connectBus(where.natsUrl, { nodeId: `chaos-${process.pid}`, dc: 'control', cluster: where.cluster });
  try {
    await bus.broadcastChaos('clock.fault', fault);
    process.stdout.write(JSON.stringify(fault) + '\n');
  } finally {
    await bus.close();
  }
}
