/**
 * The Dockerfile's build replayed without Docker (docs/install.md "Container image"): the build
 * context copied through .dockerignore into a clean directory, the build stage's RUN steps run
 * there (npm ci from the registry, the CLI build, the runtime file selection), the runtime stage's
 * COPY set assembled in another directory, and the image's command run from it with nothing else:
 * --version, the default CMD (--help), and a spanserver that opens LMDB and becomes ready.
 * Takes 1–3 minutes, nearly all of it npm ci.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startNatsServer } from '@synod/natsd';
import { initialPlacement } from '@synod/cli';
import { REPO_ROOT } from './rendered-processes.js';

// ---------------------------------------------------------------- Dockerfile
type Step =
  | { op: 'WORKDIR'; path: string }
  | { op: 'COPY'; from?: string; sources: string[]; dest: string }
  | { op: 'RUN'; command: string }
  | { op: 'ENV'; key: string; value: string }
  | { op: 'USER'; user: string }
  | { op: 'ENTRYPOINT' | 'CMD'; argv: string[] };
interface Stage {
  base: string;
  name?: string;
  steps: Step[];
}

/** Parses the instructions this test models; any other instruction (or form) is an error. */
export function parseDockerfile(text: string): Stage[] {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of lines) {
    const m = /^(\S+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`Dockerfile: cannot read ${JSON.stringify(line)}`);
    const op = m[1]!.toUpperCase();
    const rest = m[2]!;
    const stage = stages.at(-1);
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      if (!f) throw new Error(`Dockerfile: FROM ${rest}: not modelled`);
      stages.push({ base: f[1]!, ...(f[2] ? { name: f[2] } : {}), steps: [] });
      continue;
    }
    if (!stage) throw new Error(`Dockerfile: ${op} before FROM`);
    if (op === 'WORKDIR') stage.steps.push({ op, path: rest });
    else if (op === 'RUN') {
      if (rest.startsWith('[') || rest.startsWith('--')) throw new Error(`Dockerfile: RUN ${rest}: only the shell form without flags is modelled`);
      stage.steps.push({ op, command: rest });
    } else if (op === 'ENV') {
      const e = /^([A-Za-z_][A-Za-z0-9_]*)=(\S*)$/.exec(rest);
      if (!e) throw new Error(`Dockerfile: ENV ${rest}: only one KEY=value is modelled`);
      stage.steps.push({ op, key: e[1]!, value: e[2]! });
    } else if (op === 'USER') stage.steps.push({ op, user: rest });
    else if (op === 'ENTRYPOINT' || op === 'CMD') {
      if (!rest.startsWith('[')) throw new Error(`Dockerfile: ${op} ${rest}: only the exec (JSON) form is modelled`);
      stage.steps.push({ op, argv: JSON.parse(rest) as string[] });
    } else if (op === 'COPY') {
      const words = rest.split(/\s+/);
      let from: string | undefined;
      while (words[0]?.startsWith('--')) {
        const flag = words.shift()!;
        const f = /^--from=(\S+)$/.exec(flag);
        if (!f) throw new Error(`Dockerfile: COPY ${flag}: not modelled`);
        from = f[1];
      }
      if (words.length < 2) throw new Error(`Dockerfile: COPY ${rest}: needs a source and a destination`);
      stage.steps.push({ op, ...(from ? { from } : {}), sources: words.slice(0, -1), dest: words.at(-1)! });
    } else throw new Error(`Dockerfile: instruction ${op} is not modelled by this test`);
  }
  return stages;
}

// ---------------------------------------------------------------- .dockerignore
interface IgnoreRule {
  negate: boolean;
  pattern: string;
  re: RegExp;
}

/** Docker's pattern syntax (Go filepath.Match plus `**`): `*` and `?` stay within one path segment. */
function patternRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      // `**/` matches zero or more directories; a trailing `**` anything.
      if (pattern[i + 2] === '/') {
        re += '(?:.*/)?';
        i += 2;
      } else {
        re += '.*';
        i += 1;
      }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i);
      if (end < 0) throw new Error(`.dockerignore: unclosed [ in ${pattern}`);
      re += `[${pattern.slice(i + 1, end).replace(/^!/, '^')}]`;
      i = end;
    } else if (c === '\\') re += `\\${pattern[++i] ?? ''}`;
    else re += c.replace(/[.+^${}()|]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export function parseDockerignore(text: string): IgnoreRule[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      // Docker cleans each pattern (filepath.Clean) and drops a leading slash.
      const pattern = posix.normalize(l.slice(negate ? 1 : 0).trim()).replace(/^\/+/, '').replace(/\/+$/, '');
      return { negate, pattern, re: patternRegExp(pattern) };
    });
}

/** Whether a context path is left out: the last rule matching it or one of its parent directories decides. */
export function excluded(rules: IgnoreRule[], rel: string): boolean {
  const parts = rel.split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let out = false;
  for (const r of rules) if (prefixes.some((p) => r.re.test(p))) out = !r.negate;
  return out;
}

/** Copies the build context through the rules; an excluded directory is skipped unless an exception may apply below it. */
export function copyContext(src: string, dest: string, rules: IgnoreRule[]): void {
  const walk = (rel: string) => {
    for (const name of readdirSync(join(src, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(src, r));
      const out = excluded(rules, r);
      if (st.isDirectory()) {
        if (out && !rules.some((x) => x.negate && (x.pattern.startsWith(`${r}/`) || x.pattern.startsWith('**')))) continue;
        walk(r);
      } else if (!out) {
        mkdirSync(join(dest, rel), { recursive: true });
        cpSync(join(src, r), join(dest, r), { verbatimSymlinks: true });
      }
    }
  };
  walk('');
}

// ---------------------------------------------------------------- the replay
const tmp = mkdtempSync(join(tmpdir(), 'synod-image-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A path inside a stage, as a directory under that stage's root. */
const inStage = (root: string, workdir: string, p: string) => join(root, p.startsWith('/') ? p : posix.join(workdir, p));

function copyInto(srcDir: string, sources: string[], destDir: string) {
  mkdirSync(destDir, { recursive: true });
  for (const s of sources) {
    const from = join(srcDir, s);
    if (!existsSync(from)) throw new Error(`COPY source ${s} does not exist`);
    // A directory source copies its contents (Docker's COPY semantics).
    if (lstatSync(from).isDirectory()) for (const name of readdirSync(from)) cpSync(join(from, name), join(destDir, name), { recursive: true, verbatimSymlinks: true });
    else cpSync(from, join(destDir, posix.basename(s)));
  }
}

describe('Dockerfile and .dockerignore, replayed without Docker', () => {
  const stages = parseDockerfile(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
  const rules = parseDockerignore(readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8'));

  it('the .dockerignore matcher follows Docker\'s rules (patterns, ** at any depth, ! exceptions, parents)', () => {
    const r = parseDockerignore('**/node_modules\n*.md\n/docs\ntest/**\n!test/package.json\nlib?/x[0-9]\n');
    expect(excluded(r, 'node_modules')).toBe(true);
    expect(excluded(r, 'libs/a/node_modules/x/index.js')).toBe(true);
    expect(excluded(r, 'README.md')).toBe(true);
    expect(excluded(r, 'docs/README.md')).toBe(true); // below an excluded directory
    expect(excluded(r, 'libs/a/README.md')).toBe(false); // * stays in one segment
    expect(excluded(r, 'test/k8s/a.ts')).toBe(true);
    expect(excluded(r, 'test/package.json')).toBe(false);
    expect(excluded(r, 'libs/x1')).toBe(true);
    expect(excluded(r, 'libs/xa')).toBe(false);
  });

  it('two stages: build from node 20+, runtime from the same base, non-root numeric USER, exec-form ENTRYPOINT', () => {
    expect(stages.map((s) => s.name)).toEqual(['build', 'runtime']);
    for (const s of stages) expect(Number(/^node:(\d+)/.exec(s.base)?.[1])).toBeGreaterThanOrEqual(20);
    const runtime = stages[1]!;
    const user = runtime.steps.find((s) => s.op === 'USER') as { user: string } | undefined;
    expect(user?.user).toMatch(/^\d+:\d+$/);
    expect(Number(user!.user.split(':')[0])).toBeGreaterThan(0);
    expect(runtime.steps.find((s) => s.op === 'ENTRYPOINT')).toEqual({ op: 'ENTRYPOINT', argv: ['node', '/app/synod.mjs'] });
    // The runtime stage runs nothing and copies only from the build stage.
    expect(runtime.steps.filter((s) => s.op === 'RUN')).toEqual([]);
    expect(runtime.steps.filter((s) => s.op === 'COPY').every((s) => (s as { from?: string }).from === 'build')).toBe(true);
  });

  it('builds the runtime files from a clean copy of the context, and the image command runs from them alone', async () => {
    const t0 = Date.now();
    const context = join(tmp, 'context');
    copyContext(REPO_ROOT, context, rules);
    // The context has what the build needs, and nothing the rules leave out.
    for (const f of ['package.json', 'package-lock.json', 'services/cli/build.mjs', 'infra/image/runtime-files.mjs', 'test/package.json', 'loadtest/package.json', 'libs/codec/package.json']) expect(existsSync(join(context, f)), f).toBe(true);
    for (const f of ['node_modules', 'k8s', 'docs', 'test/k8s', 'services/cli/dist', '.git', 'k8s/overlays/kind/secrets']) expect(existsSync(join(context, f)), f).toBe(false);

    const roots = new Map<string, string>();
    let entrypoint: string[] = [];
    let cmd: string[] = [];
    let runtimeRoot = '';
    let runtimeWorkdir = '/';
    let runtimeEnv: Record<string, string> = {};
    for (const [i, stage] of stages.entries()) {
      const root = join(tmp, `stage-${stage.name ?? i}`);
      mkdirSync(root, { recursive: true });
      roots.set(stage.name ?? String(i), root);
      let workdir = '/';
      const env: Record<string, string> = {};
      for (const step of stage.steps) {
        if (step.op === 'WORKDIR') {
          workdir = posix.resolve(workdir, step.path);
          mkdirSync(join(root, workdir), { recursive: true });
        } else if (step.op === 'ENV') env[step.key] = step.value;
        else if (step.op === 'COPY') {
          const srcRoot = step.from ? roots.get(step.from) : context;
          if (!srcRoot) throw new Error(`COPY --from=${step.from}: no such stage`);
          // A COPY --from path is absolute in that stage; a context path is relative to the context.
          copyInto(srcRoot, step.sources.map((s) => (step.from ? s.replace(/^\//, '') : s)), inStage(root, workdir, step.dest));
        } else if (step.op === 'RUN') {
          // Absolute paths would reach outside this directory: the Dockerfile keeps RUN relative.
          expect(step.command.split(/\s+/).filter((w) => w.startsWith('/')), `RUN ${step.command}`).toEqual([]);
          const t = Date.now();
          const r = spawnSync('sh', ['-c', step.command], { cwd: join(root, workdir), env: { ...process.env, ...env, CI: 'true' }, encoding: 'utf8', timeout: 10 * 60_000, maxBuffer: 64 * 1024 * 1024 });
          console.log(`dockerfile: RUN ${step.command}: exit ${r.status} in ${Math.round((Date.now() - t) / 1000)} s`);
          expect(r.error).toBeUndefined();
          expect(r.status, `RUN ${step.command}\n${r.stderr.slice(-3000)}`).toBe(0);
        } else if (step.op === 'ENTRYPOINT') entrypoint = step.argv;
        else if (step.op === 'CMD') cmd = step.argv;
      }
      runtimeRoot = root;
      runtimeWorkdir = workdir;
      runtimeEnv = env;
    }
    const app = join(runtimeRoot, 'app');
    // Only the bundle and the runtime packages: no dev dependency, no TypeScript source.
    expect(existsSync(join(app, 'synod.mjs'))).toBe(true);
    for (const p of ['lmdb', 'pino', 'msgpackr-extract']) expect(existsSync(join(app, 'node_modules', p)), p).toBe(true);
    for (const p of ['vitest', 'typescript', 'esbuild', 'nx', 'tsx', 'zod', '@synod']) expect(existsSync(join(app, 'node_modules', p)), p).toBe(false);
    // No synod TypeScript source (packages in node_modules ship their own test files; they stay as npm laid them out).
    const files = spawnSync('find', [app, '-path', join(app, 'node_modules'), '-prune', '-o', '-name', '*.ts', '-print'], { encoding: 'utf8' }).stdout.trim();
    expect(files).toBe('');

    // The image's command, from the runtime directory alone: a minimal environment, cwd its WORKDIR.
    const home = join(tmp, 'home');
    mkdirSync(home);
    const run = entrypoint.map((a, i) => (i === 0 && a === 'node' ? process.execPath : a.replace(/^\/app\//, `${app}/`)));
    const env = { PATH: '/usr/bin:/bin', ...runtimeEnv, HOME: home };
    const exec = (args: string[]) => spawnSync(run[0]!, [...run.slice(1), ...args], { cwd: join(runtimeRoot, runtimeWorkdir), env, encoding: 'utf8', timeout: 60_000 });
    const version = exec(['--version']);
    expect(version.status, version.stderr).toBe(0);
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+ \(/);
    const help = exec(cmd);
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toContain('spanserver');

    // A spanserver: LMDB (native), pino and the bundle's chunks load; it elects itself and is ready.
    const nats = await startNatsServer();
    const data = join(tmp, 'span');
    mkdirSync(data);
    writeFileSync(join(data, 'placement.json'), JSON.stringify(initialPlacement(1, 1, [])));
    const port = await freePort();
    const child = spawn(run[0]!, [...run.slice(1), 'spanserver', '--node-id', 'n1', '--dc', 'dc-a', '--data-dir', join(data, 'n1'), '--placement', join(data, 'placement.json'), '--truetime', 'local', '--nats-url', nats.url, '--metrics-port', String(port), '--log-level', 'warn', '--control-stdin', 'false'], {
      cwd: join(runtimeRoot, runtimeWorkdir),
      // As in a pod (k8s/base/spanserver.yaml): stdin closed from the start, and the flag that keeps it serving anyway.
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => void (stderr += b.toString()));
    try {
      let ready: { status: number; body: string } | undefined;
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && child.exitCode === null) {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2_000) });
          ready = { status: res.status, body: await res.text() };
          if (res.status === 200) break;
        } catch {
          // not listening yet
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(ready?.status, `spanserver from the runtime files (exit ${child.exitCode}): ${ready?.body ?? 'no answer'}\n${stderr.slice(-2000)}`).toBe(200);
      expect(existsSync(join(data, 'n1'))).toBe(true);
    } finally {
      child.kill('SIGTERM');
      const exited = await Promise.race([new Promise((r) => child.once('exit', () => r(true))), new Promise((r) => setTimeout(() => r(false), 10_000))]);
      if (!exited) child.kill('SIGKILL');
      await nats.stop();
    }
    console.log(`dockerfile: replayed the build and ran the image command in ${Math.round((Date.now() - t0) / 1000)} s`);
  }, 15 * 60_000);
});
