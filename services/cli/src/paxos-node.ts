/**
 * One Paxos replica process: hosts one group's replica on the bus with durable LMDB state.
 * Clients propose with `paxos.propose` requests to its inbox. Steered over stdin/stdout JSON lines:
 *   → {"id":1,"op":"status"}  ← {"id":1,"ok":true,"isLeader":true,"leader":"n1","chosenUpTo":12,"appliedUpTo":12,
 *                                "ballot":{...},"appliedCommands":40,"digest":"9a3f…"}
 * The digest is a rolling FNV-1a hash of applied command ids: equal on replicas that applied the same log.
 */
import { z } from 'zod';
import { booleanFlag, createLogger, loadConfig, nodeIdentity, serveStdioControl } from '@synod/config';
import { PaxosHost } from '@synod/paxos-host';
import { openStorage } from '@synod/storage';
import { connectBus } from '@synod/transport';

export const PAXOS_NODE_HELP = `synod paxos-node — run one replica of one Paxos group

Options (also env SYNOD_<NAME>):
  --node-id <id>               required
  --dc <dc>                    required
  --peers <n1,n2,n3>           every replica of the group, including this one (required)
  --data-dir <path>            LMDB directory (required)
  --group <id>                 default g1
  --nats-url <url>             default nats://127.0.0.1:4222
  --cluster <name>             default synod
  --heartbeat-ms <ms>          default 50
  --election-timeout-ms <ms>   default 500 (randomized up to twice that)
  --max-batch <n>              commands per log entry, default 512 (1 = no batching)
  --max-entries-per-message <n> default 64 (1 = no batching)
  --window <n>                 unchosen slots in flight, default 64
  --fsync <bool>               default true
  --log-level <level>          default info (logs go to stderr)`;

const schema = z.object({
  ...nodeIdentity,
  peers: z.string().transform((s) => s.split(',').filter(Boolean)).pipe(z.array(nodeIdentity.nodeId).min(1).max(9)),
  dataDir: z.string().min(1),
  group: z.string().min(1).max(63).default('g1'),
  heartbeatMs: z.coerce.number().positive().default(50),
  electionTimeoutMs: z.coerce.number().positive().default(500),
  maxBatch: z.coerce.number().int().min(1).default(512),
  maxEntriesPerMessage: z.coerce.number().int().min(1).default(64),
  window: z.coerce.number().int().min(1).default(64),
  fsync: booleanFlag.default(true),
});

export async function runPaxosNode(argv: string[]): Promise<void> {
  const cfg = loadConfig(schema, { argv });
  const log = createLogger({ service: 'paxos-node', nodeId: cfg.nodeId, dc: cfg.dc, level: cfg.logLevel });
  const storage = openStorage({ path: cfg.dataDir, fsync: cfg.fsync });
  const bus = await connectBus(cfg.natsUrl, { nodeId: cfg.nodeId, dc: cfg.dc, cluster: cfg.cluster, logger: log });
  const host = new PaxosHost({ bus, storage, logger: log });
  // A tiny state machine: a rolling digest of applied command ids, so replicas can be compared.
  let digest = 0x811c9dc5;
  let appliedCommands = 0;
  const replica = await host.addGroup({
    apply: (entry) => {
      for (const c of entry.commands) {
        for (let i = 0; i < c.id.length; i++) digest = Math.imul(digest ^ c.id.charCodeAt(i), 0x01000193) >>> 0;
        appliedCommands++;
      }
    },
    config: {
      group: cfg.group,
      self: cfg.nodeId,
      peers: cfg.peers,
      heartbeatIntervalUs: cfg.heartbeatMs * 1000,
      electionTimeoutUs: cfg.electionTimeoutMs * 1000,
      maxBatch: cfg.maxBatch,
      maxEntriesPerMessage: cfg.maxEntriesPerMessage,
      window: cfg.window,
    },
  });
  const stop = async () => {
    await host.close();
    await bus.close();
    await storage.close();
    process.exit(0);
  };
  const { reply } = serveStdioControl(
    () => ({ ok: true, isLeader: replica.isLeader(), leader: replica.leaderHint(), chosenUpTo: replica.chosenUpTo(), appliedUpTo: replica.appliedUpTo(), ballot: replica.ballot(), appliedCommands, digest: digest.toString(16) }),
    () => void stop(),
  );
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  reply({ ready: true, nodeId: cfg.nodeId, group: cfg.group });
}
