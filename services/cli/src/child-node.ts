import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, openSync, renameSync, statSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { synodCommand } from './self-command.js';

// The tests of this package import it from here.
export { synodCommand } from './self-command.js';

/** A child's log file grows to this many bytes, then moves to `<file>.1` (one older generation kept). */
export const LOG_FILE_MAX_BYTES = 10 * 1024 * 1024;

/**
 * Appends lines to a file, rotating it to `<file>.1` once it passes maxBytes, so one log takes at
 * most about twice that on disk.
 */
export class RotatingLog {
  private stream: WriteStream;
  private bytes: number;

  constructor(
    readonly path: string,
    private readonly maxBytes = LOG_FILE_MAX_BYTES,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    this.bytes = existsSync(path) ? statSync(path).size : 0;
    this.stream = this.open();
  }

  /** Opened synchronously, so the file exists (and can be rotated) from the first write on. */
  private open(): WriteStream {
    return createWriteStream(this.path, { fd: openSync(this.path, 'a') });
  }

  write(line: string): void {
    if (this.bytes >= this.maxBytes) {
      // Writes still queued on the old stream land in the renamed file: its descriptor follows it.
      this.stream.end();
      renameSync(this.path, `${this.path}.1`);
      this.stream = this.open();
      this.bytes = 0;
    }
    const text = line + '\n';
    this.bytes += Buffer.byteLength(text);
    this.stream.write(text);
  }

  close(): Promise<void> {
    return new Promise((r) => this.stream.end(r));
  }
}

/** How a child ended: its exit code, or the signal that ended it. */
export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * A synod subprocess steered by JSON lines over stdio (see probe-node.ts). Replies are matched
 * to requests by id, so many commands may be outstanding at once.
 */
export class ChildNode {
  private nextId = 1;
  private readonly waiting = new Map<number, (reply: Record<string, unknown>) => void>();
  private readyResolve!: () => void;
  readonly ready: Promise<void>;
  readonly exited: Promise<number | null>;
  /** The same moment as `exited`, with the signal when one ended the process. */
  readonly exit: Promise<ChildExit>;
  readonly stderrTail: string[] = [];
  /** Where this child's stderr (its log) is appended, when spawned with a log file. */
  readonly logFile: string | undefined;
  /** Substrings someone waits to see on stderr, and whether they have appeared since. */
  private readonly stderrWatches = new Map<string, boolean>();

  private constructor(
    readonly name: string,
    readonly proc: ChildProcess,
    logFile?: string,
  ) {
    this.ready = new Promise((r) => (this.readyResolve = r));
    this.exit = new Promise((r) => proc.once('exit', (code, signal) => r({ code, signal })));
    this.exited = this.exit.then((e) => e.code);
    this.logFile = logFile;
    const log = logFile ? new RotatingLog(logFile) : undefined;
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (msg.ready) this.readyResolve();
      const id = msg.id as number | undefined;
      if (id !== undefined) {
        this.waiting.get(id)?.(msg);
        this.waiting.delete(id);
      }
    });
    createInterface({ input: proc.stderr! }).on('line', (line) => {
      for (const text of this.stderrWatches.keys()) if (line.includes(text)) this.stderrWatches.set(text, true);
      this.stderrTail.push(line);
      if (this.stderrTail.length > 40) this.stderrTail.shift();
      log?.write(line);
    });
    if (log) proc.stderr!.once('close', () => void log.close());
  }

  /**
   * Starts watching stderr for `text` (the tail keeps only the last lines, which a busy
   * process can push a line out of); the returned function says whether it has appeared.
   */
  watchStderr(text: string): () => boolean {
    this.stderrWatches.set(text, false);
    return () => this.stderrWatches.get(text) === true;
  }

  /**
   * With `logFile`, every stderr line (the child's log) is also appended there. With `prefix`
   * (e.g. `ip netns exec <ns>`, which execs the command: the pid stays the child's) the command
   * runs under it.
   */
  static spawn(name: string, args: string[], env: NodeJS.ProcessEnv = process.env, logFile?: string, prefix: string[] = [], nodeFlags: readonly string[] = []): ChildNode {
    const { cmd, args: full, cwd } = synodCommand(args, nodeFlags);
    const argv = [...prefix, cmd, ...full];
    return new ChildNode(name, spawn(argv[0]!, argv.slice(1), { cwd, stdio: ['pipe', 'pipe', 'pipe'], env }), logFile);
  }

  async waitReady(timeoutMs = 15_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.name} not ready in ${timeoutMs} ms:\n${this.stderrTail.join('\n')}`)), timeoutMs);
    });
    const died = this.exited.then((code) => {
      throw new Error(`${this.name} exited with ${code}:\n${this.stderrTail.join('\n')}`);
    });
    try {
      await Promise.race([this.ready, timeout, died]);
    } finally {
      clearTimeout(timer);
    }
  }

  call<T = Record<string, unknown>>(cmd: Record<string, unknown>, timeoutMs = 10_000): Promise<T & { ok: boolean }> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${this.name} did not answer ${JSON.stringify(cmd)}`));
      }, timeoutMs);
      this.waiting.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply as T & { ok: boolean });
      });
      this.proc.stdin!.write(JSON.stringify({ id, ...cmd }) + '\n');
    });
  }

  /** Asks the process to stop (stdin closes, then SIGTERM, then SIGKILL) and waits for it. */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.stdin!.end();
    const term = setTimeout(() => this.proc.kill('SIGTERM'), 2_000);
    const kill = setTimeout(() => this.proc.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(term);
    clearTimeout(kill);
  }
}
