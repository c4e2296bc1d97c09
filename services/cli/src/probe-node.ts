/**
 * A transport probe: one node on the synod bus that answers pings and records one-way notes,
 * driven over stdin/stdout with JSON lines so a parent (the demo, integration tests) can steer it
 * without its control traffic crossing the simulated network it is probing.
 *
 *   → {"id":1,"op":"ping","to":"n2","timeoutMs":500}   ← {"id":1,"ok":true,"rttMs":0.41}
 *   → {"id":2,"op":"note","to":"n2","token":"t1"}        ← {"id":2,"ok":true}
 *   → {"id":3,"op":"notes"}                              ← {"id":3,"ok":true,"notes":[{"from":"n1","token":"t1"}]}
 *   → {"id":4,"op":"stats"}                              ← {"id":4,"ok":true,"received":..,"dropped":..,"chaosVersion":..}
 */
import { z } from 'zod';
import { SynodError } from '@synod/codec';
import { createLogger, loadConfig, nodeIdentity, serveStdioControl } from '@synod/config';
import { connectBus } from '@synod/transport';

const command = z.discriminatedUnion('op', [
  z.object({ id: z.number(), op: z.literal('ping'), to: z.string(), timeoutMs: z.number().default(1000) }),
  z.object({ id: z.number(), op: z.literal('note'), to: z.string(), token: z.string() }),
  z.object({ id: z.number(), op: z.literal('notes') }),
  z.object({ id: z.number(), op: z.literal('stats') }),
]);

export async function runProbeNode(argv: string[]): Promise<void> {
  const cfg = loadConfig(z.object(nodeIdentity), { argv });
  const log = createLogger({ service: 'probe', nodeId: cfg.nodeId, dc: cfg.dc, level: cfg.logLevel });
  const bus = await connectBus(cfg.natsUrl, { nodeId: cfg.nodeId, dc: cfg.dc, cluster: cfg.cluster, logger: log });
  const notes: Array<{ from: string; token: string }> = [];
  bus.on('ping', (env) => ({ kind: 'pong', body: { nonce: env.body.nonce } }));
  bus.on('note', (env) => void notes.push({ from: env.from, token: env.body.token }));

  let nonce = 0;
  const handle = async (raw: unknown): Promise<object> => {
    const parsed = command.safeParse(raw);
    if (!parsed.success) return { ok: false, code: 'INVALID_ARGUMENT', message: parsed.error.message.slice(0, 200) };
    const cmd = parsed.data;
    switch (cmd.op) {
      case 'ping': {
        const t0 = performance.now();
        try {
          await bus.request(cmd.to, 'ping', { nonce: ++nonce }, { timeoutMs: cmd.timeoutMs });
          return { ok: true, rttMs: performance.now() - t0 };
        } catch (err) {
          return { ok: false, code: err instanceof SynodError ? err.code : 'INTERNAL' };
        }
      }
      case 'note':
        bus.send(cmd.to, 'note', { token: cmd.token });
        await bus.wire.flush();
        return { ok: true };
      case 'notes':
        return { ok: true, notes };
      case 'stats':
        return { ok: true, ...bus.stats(), chaosVersion: bus.chaos.version };
    }
  };
  const stop = async () => {
    await bus.close();
    process.exit(0);
  };
  const { reply } = serveStdioControl(handle, () => void stop());
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  reply({ ready: true, nodeId: cfg.nodeId, dc: cfg.dc });
}
