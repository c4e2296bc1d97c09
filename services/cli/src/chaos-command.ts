import { z } from 'zod';
import type { ChaosState } from '@synod/codec';
import { ConfigError, booleanFlag, loadConfig, nodeIdentity, parseFlags } from '@synod/config';
import { ANY_DC, chaos } from '@synod/transport';
import { connectToolBus, resolveCluster } from './client-commands.js';
import { collectClockFaults, healClocks } from './clock-chaos.js';

export const CHAOS_HELP = `synod chaos — inject network faults into a running cluster

Usage:
  synod chaos partition <dc> [--from <dc,dc>] [--one-way]   cut <dc> off (from all other DCs by default)
  synod chaos latency <from-dc> <to-dc> <ms> [--jitter <ms>] [--both]  one-way latency (both with --both)
  synod chaos loss <from-dc> <to-dc> <probability>            drop a share of messages on a link
  synod chaos isolate <node>                                  cut one node off from everyone
  synod chaos heal                                            remove every fault (clock faults too)
  synod chaos show                                            print the current fault picture and clock faults

Options:
  --data-dir <dir>   a cluster started by 'synod up' (reads <dir>/cluster.json), default .synod
  --nats-url <url>   or the NATS server directly (env SYNOD_NATS_URL, default nats://127.0.0.1:4222)
  --cluster <name>   cluster subject prefix (env SYNOD_CLUSTER, default synod)

Every change is a new version of the cluster's fault picture, broadcast to all processes;
each applies the newest version it has seen.`;

const options = z.object({
  dataDir: z.string().default('.synod'),
  natsUrl: z.string().optional(),
  cluster: z.string().optional(),
  from: z.string().optional(),
  oneWay: booleanFlag.default(false),
  jitter: z.coerce.number().min(0).default(0),
  both: booleanFlag.default(false),
});

const num = (s: string | undefined, what: string, max: number) => {
  const n = Number(s);
  if (s === undefined || !Number.isFinite(n) || n < 0 || n > max) throw new ConfigError([{ field: what, message: `expected a number from 0 to ${max}, got ${s ?? 'nothing'}` }]);
  return n;
};
const need = (s: string | undefined, what: string) => {
  if (!s) throw new ConfigError([{ field: what, message: 'missing' }]);
  return s;
};

/** Computes the next fault picture from the current one and the command words. */
export function nextChaos(current: ChaosState, words: string[], opts: z.infer<typeof options>): ChaosState | undefined {
  const [verb, ...args] = words;
  switch (verb) {
    case 'partition': {
      const others = opts.from ? opts.from.split(',').filter(Boolean) : [ANY_DC];
      return chaos.partition(current, [need(args[0], '<dc>')], others, opts.oneWay);
    }
    case 'latency': {
      const [from, to] = [need(args[0], '<from-dc>'), need(args[1], '<to-dc>')];
      const ms = num(args[2], '<ms>', 60_000);
      const one = chaos.latency(current, from, to, ms, opts.jitter);
      return opts.both ? { ...chaos.latency(one, to, from, ms, opts.jitter), version: current.version + 1 } : one;
    }
    case 'loss':
      return chaos.loss(current, need(args[0], '<from-dc>'), need(args[1], '<to-dc>'), num(args[2], '<probability>', 1));
    case 'isolate':
      return chaos.isolate(current, need(args[0], '<node>'));
    case 'heal':
      return chaos.heal(current);
    case 'show':
      return undefined;
    default:
      throw new ConfigError([{ field: '<command>', message: `unknown chaos command '${verb ?? ''}' (see synod chaos --help)` }]);
  }
}

export async function runChaos(argv: string[]): Promise<void> {
  const { positional } = parseFlags(argv);
  const opts = loadConfig(options, { argv });
  const where = resolveCluster(opts);
  const bus = await connectToolBus(where, `chaos-${process.pid}`, 'control', 'operator');
  try {
    const next = nextChaos(bus.chaos, positional, opts);
    if (next) await bus.publishChaos(next);
    if (positional[0] === 'heal') await healClocks(bus);
    // Clock faults are not part of the versioned picture: every process reports its own.
    const clockFaults = positional[0] === 'show' ? await collectClockFaults(bus) : undefined;
    process.stdout.write(JSON.stringify({ ...(next ?? bus.chaos), ...(clockFaults ? { clockFaults } : {}) }, null, 2) + '\n');
  } finally {
    await bus.close();
  }
}
