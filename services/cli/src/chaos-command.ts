import { z } from 'zod';
import { SynodError, type ChaosState } from '@synod/codec';
import { DcNetwork } from '@synod/netns';
import { ConfigError, booleanFlag, loadConfig, nodeIdentity, parseFlags } from '@synod/config';
import { ANY_DC, EMPTY_CHAOS, chaos } from '@synod/transport';
import { checkName, connectToolBus, resolveCluster, type KnownNames } from './client-commands.js';
import { collectClockFaults, healClocks, isClockChaos, runClockChaos } from './clock-chaos.js';

export const CHAOS_HELP = `synod chaos — inject network faults into a running cluster

Usage:
  synod chaos partition <dc> [--from <dc,dc>] [--one-way]   cut <dc> off (from all other DCs by default)
  synod chaos latency <from-dc> <to-dc> <ms> [--jitter <ms>] [--both]  one-way latency (both with --both)
  synod chaos loss <from-dc> <to-dc> <probability>            drop a share of messages on a link
  synod chaos isolate <node>                                  cut one node off from everyone
  synod chaos heal                                            remove every fault (clock faults too)
  synod chaos show                                            print the current fault picture and clock faults
  synod chaos partition <dc> --network                        a real cut: iptables drops every packet between
                                                              <dc> and the other DCs (cluster from 'synod up --netns')
  synod chaos heal --network                                  remove the iptables cuts (a plain heal does too)
  synod chaos show --network                                  print the DC pairs cut by iptables

DC and node names are checked against the cluster's (from its cluster file): an unknown one is
refused, nothing is sent. Prints the fault picture as JSON (both -o json and table).

--network (docs/netns.md) needs root and a cluster started with 'synod up --netns'; it touches no
NATS message, only the DCs' network namespaces, and latency/loss stay simulated (no netem here).

Every change is a new version of the cluster's fault picture, broadcast to all processes;
each applies the newest version it has seen.`;

export const chaosOptions = z.object({
  dataDir: z.string().optional().describe('the cluster started by synod up (reads <dir>/cluster.json)'),
  natsUrl: z.string().optional().describe('or the NATS server directly'),
  cluster: z.string().optional().describe('cluster subject prefix'),
  from: z.string().optional().describe('partition: cut off from these DCs only (comma-separated)'),
  oneWay: booleanFlag.default(false).describe('partition: one direction only'),
  jitter: z.coerce.number().min(0).max(60_000).default(0).describe('latency: ± this many ms'),
  both: booleanFlag.default(false).describe('latency: both directions'),
  masters: booleanFlag.default(false).describe('skew/drift: time masters too'),
  network: booleanFlag.default(false).describe('partition/heal/show: real iptables cuts between the DC network namespaces of a cluster from synod up --netns (needs root)'),
  output: z.enum(['json', 'table']).default('json').describe('output format (the fault picture is JSON either way)'),
});
const options = chaosOptions;

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
export function nextChaos(current: ChaosState, words: string[], opts: z.infer<typeof options>, known?: KnownNames): ChaosState | undefined {
  const [verb, ...args] = words;
  const dc = (s: string | undefined, what: string) => checkName('DC', need(s, what), known, what);
  switch (verb) {
    case 'partition': {
      const others = opts.from ? opts.from.split(',').filter(Boolean).map((d) => dc(d, '--from')) : [ANY_DC];
      return chaos.partition(current, [dc(args[0], '<dc>')], others, opts.oneWay);
    }
    case 'latency': {
      const [from, to] = [dc(args[0], '<from-dc>'), dc(args[1], '<to-dc>')];
      const ms = num(args[2], '<ms>', 60_000);
      const one = chaos.latency(current, from, to, ms, opts.jitter);
      return opts.both ? { ...chaos.latency(one, to, from, ms, opts.jitter), version: current.version + 1 } : one;
    }
    case 'loss':
      return chaos.loss(current, dc(args[0], '<from-dc>'), dc(args[1], '<to-dc>'), num(args[2], '<probability>', 1));
    case 'isolate':
      return chaos.isolate(current, checkName('node', need(args[0], '<node>'), known, '<node>'));
    case 'heal':
      return chaos.heal(current);
    case 'show':
      return undefined;
    default:
      throw new ConfigError([{ field: '<command>', message: `unknown chaos command '${verb ?? ''}' (see synod chaos --help)` }]);
  }
}

export async function runChaos(argv: string[]): Promise<void> {
  if (isClockChaos(argv)) return runClockChaos(argv);
  const { positional } = parseFlags(argv);
  const opts = loadConfig(options, { argv });
  if (opts.masters) throw new ConfigError([{ field: '--masters', message: 'only for synod chaos skew|drift' }]);
  const where = resolveCluster(opts);
  if (opts.network) return runNetworkChaos(positional, opts, where);
  // Checked before connecting: a bad word never waits on the network.
  nextChaos(EMPTY_CHAOS, positional, opts, where.known());
  const bus = await connectToolBus(where, `chaos-${process.pid}`, 'control', 'operator');
  try {
    const next = nextChaos(bus.chaos, positional, opts, where.known());
    if (next) await bus.publishChaos(next);
    if (positional[0] === 'heal') await healClocks(bus);
    // A plain heal removes every fault, a real cut included; one that cannot be removed is said, not hidden.
    if (positional[0] === 'heal' && where.network !== undefined) {
      await DcNetwork.attach(where.network)
        .heal()
        .catch((err: Error) => process.stderr.write(`synod chaos: the network cut of this 'synod up --netns' cluster was NOT healed: ${err.message} (run 'synod chaos heal --network' as root)\n`));
    }
    // Clock faults are not part of the versioned picture: every process reports its own.
    const clockFaults = positional[0] === 'show' ? await collectClockFaults(bus) : undefined;
    process.stdout.write(JSON.stringify({ ...(next ?? bus.chaos), ...(clockFaults ? { clockFaults } : {}) }, null, 2) + '\n');
  } finally {
    await bus.close();
  }
}

/** `--network`: cut or heal the DCs' network namespaces of a `synod up --netns` cluster with iptables. */
async function runNetworkChaos(words: string[], opts: z.infer<typeof options>, where: ReturnType<typeof resolveCluster>): Promise<void> {
  const [verb, ...args] = words;
  if (verb !== 'partition' && verb !== 'heal' && verb !== 'show') throw new ConfigError([{ field: '--network', message: `only for partition, heal and show, not '${verb ?? ''}' (latency and loss stay simulated: this kernel offers no netem)` }]);
  if (opts.from !== undefined || opts.oneWay) throw new ConfigError([{ field: '--network', message: 'a network partition cuts the DC from every other DC both ways: --from and --one-way are for the simulated one' }]);
  if (where.network === undefined) throw new SynodError('INVALID_ARGUMENT', `the cluster in ${where.dataDir} was not started with 'synod up --netns' (its cluster.json records no network): drop --network for a simulated partition`);
  const dc = verb === 'partition' ? checkName('DC', need(args[0], '<dc>'), where.known(), '<dc>') : undefined;
  const net = DcNetwork.attach(where.network);
  if (dc !== undefined) await net.partition([dc]);
  if (verb === 'heal') await net.heal();
  const cuts = await net.cuts();
  process.stdout.write(JSON.stringify({ network: net.name, subnet: net.subnet, dcs: net.dcs, cuts }, null, 2) + '\n');
}
