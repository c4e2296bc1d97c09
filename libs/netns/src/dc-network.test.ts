import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SynodError } from '@synod/codec';
import { DcNetwork, type DcNetworkJSON } from './dc-network.js';
import { findTools, requireRoot } from './shell.js';

const isRoot = process.getuid?.() === 0;
// Under CI the root-needing tests always run (and fail without root): no silent skips there.
const runRootTests = isRoot || process.env.CI === 'true';
if (!runRootTests) console.log('netns: not root and not CI: skipping the tests that create network namespaces (they need root)');

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PORT = 7411;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(what: string, timeoutMs: number, cond: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

const children: ChildProcess[] = [];
/** Runs a node one-liner inside a DC; its stdout collected. */
function nodeIn(net: DcNetwork, dc: string, script: string): { proc: ChildProcess; out: () => string } {
  const argv = net.wrap(dc, [process.execPath, '-e', script]);
  const proc = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(proc);
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { proc, out: () => out };
}

const ECHO_SERVER = `require('net').createServer((s) => { s.on('error', () => {}); s.pipe(s); }).listen(${PORT}, '0.0.0.0', () => console.log('listening'))`;

/** Whether a new TCP connection from `dc` (or the host) to ip:PORT opens within timeoutMs. */
async function canOpen(net: DcNetwork, from: string | 'host', ip: string, timeoutMs = 800): Promise<boolean> {
  if (from === 'host') {
    return new Promise((resolve) => {
      const s = connect({ host: ip, port: PORT });
      const t = setTimeout(() => (s.destroy(), resolve(false)), timeoutMs);
      s.once('connect', () => (clearTimeout(t), s.destroy(), resolve(true)));
      s.once('error', () => (clearTimeout(t), resolve(false)));
    });
  }
  const p = nodeIn(net, from, `const s = require('net').connect(${PORT}, '${ip}', () => { console.log('OPEN'); process.exit(0); }); s.on('error', () => process.exit(1)); setTimeout(() => process.exit(2), ${timeoutMs});`);
  await new Promise((r) => p.proc.once('exit', r));
  return p.out().includes('OPEN');
}

/** Whether anything of the network is still on the host. */
function leftovers(rec: DcNetworkJSON): string[] {
  const ns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
  const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout;
  const left: string[] = [];
  for (const d of rec.dcs) {
    if (ns.includes(d.ns)) left.push(`netns ${d.ns}`);
    if (links.includes(`${d.veth}@`) || links.includes(`${d.veth}:`)) left.push(`veth ${d.veth}`);
    if (existsSync(`/etc/netns/${d.ns}`)) left.push(`/etc/netns/${d.ns}`);
  }
  if (links.includes(`${rec.bridge}:`)) left.push(`bridge ${rec.bridge}`);
  if (existsSync(rec.stateFile)) left.push(rec.stateFile);
  return left;
}

describe('without root or tools', () => {
  it('refuses a non-root user with a stable code and says why', () => {
    expect(() => requireRoot(65534)).toThrow(SynodError);
    expect(() => requireRoot(65534)).toThrow(/requires root \(network namespaces and iptables\)/);
    try {
      requireRoot(65534);
    } catch (err) {
      expect((err as SynodError).code).toBe('UNAVAILABLE');
    }
  });

  it.runIf(runRootTests)('a real non-root process (nobody, via setpriv) is refused before anything is created', () => {
    const script = `import('@synod/netns').then((m) => m.DcNetwork.create({ dcs: ['dc-a'] })).then(() => console.log('CREATED'), (e) => console.log('REFUSED', e.code, e.message))`;
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', 'tsx', '-e', script], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 20_000, env: { ...process.env, HOME: '/tmp' } });
    expect(r.stdout + r.stderr).toMatch(/REFUSED UNAVAILABLE requires root \(network namespaces and iptables\)/);
  }, 25_000);

  it('names the Debian packages when ip or iptables-legacy is missing', () => {
    expect(() => findTools({ PATH: '/nonexistent' }, [])).toThrow(/apt-get install -y iptables iproute2/);
  });
});

describe.runIf(runRootTests)('DcNetwork', () => {
  let net: DcNetwork;
  beforeAll(async () => {
    net = await DcNetwork.create({ dcs: ['dc-a', 'dc-b', 'dc-c'], tag: 'syt' });
    for (const d of net.dcs) {
      const s = nodeIn(net, d.dc, ECHO_SERVER);
      await waitUntil(`echo server in ${d.dc}`, 5_000, () => s.out().includes('listening'));
    }
  }, 20_000);
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await net?.destroy();
  });

  it('lays out one namespace per DC on a private /24 that clashes with nothing on the host, names within 15 characters', () => {
    expect(net.subnet).toMatch(/^10\.213\.\d+\.0\/24$/);
    const json = net.toJSON();
    for (const name of [json.bridge, ...json.dcs.map((d) => d.veth)]) expect(name.length).toBeLessThanOrEqual(15);
    expect(new Set(net.dcs.map((d) => d.ip)).size).toBe(3);
    expect(net.wrap('dc-b', ['true'])).toEqual([expect.stringMatching(/ip$/), 'netns', 'exec', net.dcs[1]!.ns, 'true']);
    expect(() => net.ipOf('dc-x')).toThrow(/not a DC/);
  });

  it('carries TCP between DCs and from the host; writeHosts names resolve inside the DC', async () => {
    expect(await canOpen(net, 'dc-a', net.ipOf('dc-b'))).toBe(true);
    expect(await canOpen(net, 'dc-c', net.ipOf('dc-a'))).toBe(true);
    expect(await canOpen(net, 'host', net.ipOf('dc-c'))).toBe(true);
    net.writeHosts('dc-a', { 'svc-b.example': net.ipOf('dc-b') });
    const p = nodeIn(net, 'dc-a', `require('dns').lookup('svc-b.example', { family: 4 }, (e, a) => console.log(e ? 'ERR ' + e.code : 'ADDR ' + a))`);
    await waitUntil('lookup', 5_000, () => p.out().includes('ADDR') || p.out().includes('ERR'));
    expect(p.out()).toContain(`ADDR ${net.ipOf('dc-b')}`);
  }, 15_000);

  it('partition cuts a DC both ways, an established connection included; the host still sees every side; heal restores it', async () => {
    const client = nodeIn(net, 'dc-a', `const s = require('net').connect(${PORT}, '${net.ipOf('dc-b')}', () => console.log('connected')); process.stdin.pipe(s); s.pipe(process.stdout); s.on('error', (e) => console.log('socket error ' + e.message))`);
    await waitUntil('connection dc-a → dc-b', 5_000, () => client.out().includes('connected'));
    client.proc.stdin!.write('before\n');
    await waitUntil('echo before the cut', 3_000, () => client.out().includes('before'));

    await net.partition(['dc-a']);
    client.proc.stdin!.write('during\n');
    await sleep(1_500);
    expect(client.out()).not.toContain('during');
    expect(await canOpen(net, 'dc-a', net.ipOf('dc-c'))).toBe(false);
    expect(await canOpen(net, 'dc-b', net.ipOf('dc-a'))).toBe(false);
    // The majority side still talks, and the host reaches both sides.
    expect(await canOpen(net, 'dc-b', net.ipOf('dc-c'))).toBe(true);
    expect(await canOpen(net, 'host', net.ipOf('dc-a'))).toBe(true);
    expect(await canOpen(net, 'host', net.ipOf('dc-b'))).toBe(true);
    expect(await net.cuts()).toEqual([
      ['dc-a', 'dc-b'],
      ['dc-a', 'dc-c'],
    ]);

    await net.heal();
    expect(await net.cuts()).toEqual([]);
    // The same connection delivers what was held back (TCP retransmits), and new ones open.
    await waitUntil('the held-back echo after heal', 10_000, () => client.out().includes('during'));
    expect(client.out()).not.toContain('socket error');
    expect(await canOpen(net, 'dc-b', net.ipOf('dc-a'))).toBe(true);
  }, 30_000);

  it('a partition seen from another process (attach) is the same network', async () => {
    const other = DcNetwork.attach(JSON.parse(JSON.stringify(net.toJSON())));
    await other.partition(['dc-c']);
    expect(await net.cuts()).toEqual([
      ['dc-a', 'dc-c'],
      ['dc-b', 'dc-c'],
    ]);
    expect(await canOpen(net, 'dc-a', net.ipOf('dc-c'))).toBe(false);
    await other.heal();
    expect(await canOpen(net, 'dc-a', net.ipOf('dc-c'))).toBe(true);
  }, 15_000);

  it('a second network coexists on another subnet; destroy removes all of it and is idempotent', async () => {
    const second = await DcNetwork.create({ dcs: ['dc-a', 'dc-b'], tag: 'syu' });
    const rec = second.toJSON();
    try {
      expect(second.subnet).not.toBe(net.subnet);
      expect(second.name).not.toBe(net.name);
      expect(DcNetwork.list().map((r) => r.name)).toEqual(expect.arrayContaining([net.name, second.name]));
      second.writeHosts('dc-a', { x: second.ipOf('dc-b') });
      expect(leftovers(rec).length).toBeGreaterThan(0);
    } finally {
      await second.destroy();
    }
    expect(leftovers(rec)).toEqual([]);
    await second.destroy();
    // The first network is untouched.
    expect(await canOpen(net, 'dc-a', net.ipOf('dc-b'))).toBe(true);
  }, 20_000);
});

describe.runIf(runRootTests)('clean-up after a killed owner', () => {
  /** A child process that creates a network, starts a process in it, prints the record and waits. */
  function owner(): Promise<{ proc: ChildProcess; rec: DcNetworkJSON; inner: number }> {
    const script = `
      const { DcNetwork } = await import('@synod/netns');
      const { spawn } = await import('node:child_process');
      const net = await DcNetwork.create({ dcs: ['dc-a', 'dc-b'], tag: 'syk' });
      net.writeHosts('dc-a', { peer: net.ipOf('dc-b') });
      const argv = net.wrap('dc-a', ['sleep', '120']);
      const inner = spawn(argv[0], argv.slice(1), { stdio: 'ignore', detached: true });
      console.log(JSON.stringify({ rec: net.toJSON(), inner: inner.pid }));
      setInterval(() => {}, 1000);`;
    const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(proc);
    let out = '';
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`owner did not report in time: ${out}`)), 20_000);
      proc.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line) {
          clearTimeout(t);
          const j = JSON.parse(line) as { rec: DcNetworkJSON; inner: number };
          resolve({ proc, rec: j.rec, inner: j.inner });
        }
      });
    });
  }
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it('the sentinel removes everything, processes inside included, when the owner is SIGKILLed', async () => {
    const { proc, rec, inner } = await owner();
    expect(leftovers(rec).length).toBeGreaterThan(0);
    expect(alive(inner)).toBe(true);
    proc.kill('SIGKILL');
    const t0 = Date.now();
    await waitUntil('the killed owner’s network to disappear', 10_000, () => leftovers(rec).length === 0 && !alive(inner));
    console.log(`netns: sentinel cleaned up ${Date.now() - t0} ms after SIGKILL`);
  }, 35_000);

  it('a record whose owner and sentinel were both killed is removed by the next create (removeStale)', async () => {
    const { proc, rec } = await owner();
    process.kill(rec.sentinelPid!, 'SIGKILL');
    proc.kill('SIGKILL');
    await waitUntil('the owner to be gone', 5_000, () => !alive(proc.pid!));
    await sleep(300);
    expect(leftovers(rec).length).toBeGreaterThan(0);
    const removed = await DcNetwork.removeStale();
    expect(removed).toContain(rec.name);
    await waitUntil('the stale network to disappear', 5_000, () => leftovers(rec).length === 0);
  }, 35_000);
});
