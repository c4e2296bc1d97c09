import { createInterface } from 'node:readline';

export type ControlCommand = { id?: unknown; op?: unknown } & Record<string, unknown>;

/**
 * The control channel of a synod child process (steered by a parent such as `synod up` or a
 * test): JSON-line commands on stdin, one JSON-line reply each on stdout carrying the command's
 * `id`, logs on stderr. A line that is not JSON, or a handler that throws, gets an error reply
 * with a stable code. `onClose` runs when stdin closes (the parent went away).
 */
export function serveStdioControl(handle: (cmd: ControlCommand) => object | Promise<object>, onClose?: () => void): { reply: (o: object) => void } {
  const reply = (o: object) => void process.stdout.write(JSON.stringify(o) + '\n');
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    let cmd: ControlCommand;
    try {
      cmd = JSON.parse(line) as ControlCommand;
    } catch {
      return reply({ ok: false, code: 'INVALID_ARGUMENT', message: 'not a JSON line' });
    }
    Promise.resolve()
      .then(() => handle(cmd))
      .then(
        (r) => reply({ id: cmd.id, ...r }),
        (err: { code?: string; message?: string }) => reply({ id: cmd.id, ok: false, code: err?.code ?? 'INTERNAL', message: String(err?.message ?? err).slice(0, 500) }),
      );
  });
  if (onClose) rl.on('close', onClose);
  return { reply };
}
