/**
 * One network namespace per DC on a private bridge, so that a partition is a real network fault
 * (iptables) rather than the simulated-DC layer's (docs/netns.md). Shell code: it runs `ip` and
 * `iptables-legacy`, every command bounded in time, every loop bounded in count.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SynodError } from '@synod/codec';
import { COMMAND_TIMEOUT_MS, findTools, requireRoot, run, type Tools } from './shell.js';

/** Where every live network is recorded, one file per claimed subnet (tmpfs: gone at reboot, as the namespaces are). */
export const DEFAULT_STATE_DIR = '/run/synod-netns';
/** The iptables chain in each namespace that holds the cut; healing flushes it. */
export const CUT_CHAIN = 'SYNOD-CUT';
export const MAX_DCS = 16;
/** Networks are /24s at 10.213.<n>.0, n in 0..255: far from the 10.0/16, 10.96/12 and 10.244/16 that Docker and kind pick. */
const SUBNET_BASE = [10, 213] as const;
const SUBNET_CANDIDATES = 256;
/** Stale records examined per create; more than this many would mean something else is wrong. */
const MAX_RECORDS = 256;

export interface DcEndpoint {
  dc: string;
  /** The network namespace's name (`ip netns exec <ns> …`). */
  ns: string;
  /** The DC's address on the bridge. */
  ip: string;
}

/** What toJSON() writes and attach() reads: enough for another process to cut, heal or remove the network. */
export interface DcNetworkJSON {
  version: 1;
  name: string;
  bridge: string;
  /** CIDR, e.g. 10.213.7.0/24. */
  subnet: string;
  hostIp: string;
  dcs: Array<DcEndpoint & { veth: string }>;
  /** The process that created it and its start time (guards against pid reuse); the network dies with it. */
  ownerPid: number;
  ownerStart: string;
  sentinelPid?: number | undefined;
  stateFile: string;
}

export interface CreateOptions {
  dcs: string[];
  /** 1–5 lowercase letters or digits, starting with a letter: a prefix of every interface name (default `sy`). */
  tag?: string;
  /** Default DEFAULT_STATE_DIR. */
  stateDir?: string;
}

const DC_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;
const TAG = /^[a-z][a-z0-9]{0,4}$/;

/** Start time of a process (clock ticks since boot), or undefined when it is gone. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22; the command name (field 2) may hold spaces, so count from its closing parenthesis.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

const isAlive = (pid: number | undefined, start: string | undefined) => pid !== undefined && start !== undefined && processStart(pid) === start;

const ipToInt = (ip: string) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
/** Whether two IPv4 prefixes share any address. */
function overlaps(a: string, aLen: number, b: string, bLen: number): boolean {
  const len = Math.min(aLen, bLen);
  if (len === 0) return true;
  const div = 2 ** (32 - len);
  return Math.floor(ipToInt(a) / div) === Math.floor(ipToInt(b) / div);
}

/** Every IPv4 prefix the host already uses: its addresses and its routes. */
async function hostPrefixes(tools: Tools): Promise<Array<[string, number]>> {
  const out: Array<[string, number]> = [];
  const addrs = JSON.parse(await run(tools.ip, ['-j', '-4', 'addr', 'show'])) as Array<{ addr_info?: Array<{ local?: string; prefixlen?: number }> }>;
  for (const l of addrs) for (const a of l.addr_info ?? []) if (a.local) out.push([a.local, a.prefixlen ?? 32]);
  for (const table of ['main', 'local']) {
    const routes = JSON.parse(await run(tools.ip, ['-j', '-4', 'route', 'show', 'table', table])) as Array<{ dst?: string }>;
    for (const r of routes) {
      if (!r.dst || r.dst === 'default') continue;
      const [ip, len] = r.dst.split('/');
      if (ip && /^\d+\.\d+\.\d+\.\d+$/.test(ip)) out.push([ip, len === undefined ? 32 : Number(len)]);
    }
  }
  return out;
}

/** Network names seen by `ip netns list` and interface names seen by `ip link`. */
async function existing(tools: Tools): Promise<{ ns: Set<string>; links: Set<string> }> {
  const ns = new Set((await run(tools.ip, ['netns', 'list'])).split('\n').map((l) => l.split(' ')[0]!).filter(Boolean));
  const links = new Set((JSON.parse(await run(tools.ip, ['-j', 'link', 'show'])) as Array<{ ifname: string }>).map((l) => l.ifname));
  return { ns, links };
}

/**
 * Removes everything a record names that still exists: processes left in its namespaces, the
 * namespaces (their veth ends go with them), host-side veths, the bridge, /etc/netns/<ns>, and
 * last the record. Returns what could not be removed (the record then stays, for the next try).
 */
async function teardown(rec: DcNetworkJSON, tools: Tools): Promise<string[]> {
  const problems: string[] = [];
  const before = await existing(tools);
  for (const d of rec.dcs) {
    if (before.ns.has(d.ns)) {
      // A namespace lives on while a process is in it, holding its veth and address.
      const pids = (await run(tools.ip, ['netns', 'pids', d.ns]).catch((err: Error) => (problems.push(err.message), ''))).split(/\s+/).filter(Boolean);
      for (const p of pids.slice(0, 4096)) {
        try {
          process.kill(Number(p), 'SIGKILL');
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ESRCH') problems.push(`kill ${p} in ${d.ns}: ${(err as Error).message}`);
        }
      }
      await run(tools.ip, ['netns', 'del', d.ns]).catch((err: Error) => problems.push(err.message));
    }
    try {
      rmSync(join('/etc/netns', d.ns), { recursive: true, force: true });
    } catch (err) {
      problems.push(`remove /etc/netns/${d.ns}: ${(err as Error).message}`);
    }
  }
  const after = await existing(tools);
  for (const link of [...rec.dcs.map((d) => d.veth), rec.bridge]) {
    if (!after.links.has(link)) continue;
    try {
      await run(tools.ip, ['link', 'del', link]);
    } catch (err) {
      // A veth goes away with its namespace's last process, a moment after netns del: one
      // that is gone by now was no failure.
      await new Promise((r) => setTimeout(r, 500));
      if ((await existing(tools)).links.has(link)) problems.push((err as Error).message);
    }
  }
  if (problems.length === 0) rmSync(rec.stateFile, { force: true });
  return problems;
}

/**
 * The sentinel: a detached shell that blocks reading a pipe only the owner holds. When the owner
 * ends in any way (SIGKILL included) the pipe closes, the read returns, and the shell removes the
 * network. It keeps the record when a step failed, so the next create() retries and reports.
 */
const SENTINEL = `
read -r _ || true
ip="$1"; br="$2"; state="$3"; veths="$4"; shift 4
ok=1
for ns in "$@"; do
  for p in $(timeout 5 "$ip" netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
  if [ -e "/run/netns/$ns" ]; then timeout 5 "$ip" netns del "$ns" || ok=0; fi
  rm -rf "/etc/netns/$ns" || ok=0
done
gone() { ! timeout 5 "$ip" link show "$1" >/dev/null 2>&1; }
# A veth goes away with its namespace's last process, a moment after netns del: a failed del
# of one that is gone by now is no failure.
for l in $veths "$br"; do
  gone "$l" || timeout 5 "$ip" link del "$l" 2>/dev/null || { sleep 1; gone "$l"; } || ok=0
done
[ "$ok" = 1 ] && rm -f "$state"
`;

export class DcNetwork {
  private sentinel: { pid: number; end: () => void } | undefined;
  private destroyed = false;

  private constructor(
    private readonly rec: DcNetworkJSON,
    private readonly tools: Tools,
  ) {}

  get name(): string {
    return this.rec.name;
  }
  get subnet(): string {
    return this.rec.subnet;
  }
  /** The bridge's address: host processes reach every DC through it, and every DC reaches the host at it. */
  get hostIp(): string {
    return this.rec.hostIp;
  }
  get dcs(): DcEndpoint[] {
    return this.rec.dcs.map(({ dc, ns, ip }) => ({ dc, ns, ip }));
  }

  private endpoint(dc: string): DcNetworkJSON['dcs'][number] {
    const d = this.rec.dcs.find((e) => e.dc === dc);
    if (!d) throw new SynodError('INVALID_ARGUMENT', `${JSON.stringify(dc)} is not a DC of network ${this.rec.name} (its DCs: ${this.rec.dcs.map((e) => e.dc).join(', ')})`);
    return d;
  }

  ipOf(dc: string): string {
    return this.endpoint(dc).ip;
  }
  nsOf(dc: string): string {
    return this.endpoint(dc).ns;
  }

  /** argv that runs `argv` inside the DC's namespace (ip netns exec replaces itself with it: the pid is the command's). */
  wrap(dc: string, argv: string[]): string[] {
    return [this.tools.ip, 'netns', 'exec', this.endpoint(dc).ns, ...argv];
  }

  /**
   * Writes /etc/netns/<ns>/hosts, which `ip netns exec` bind-mounts over /etc/hosts for commands
   * started afterwards: how names (e.g. Kubernetes Service names) resolve inside the DC.
   */
  writeHosts(dc: string, entries: Record<string, string>): void {
    const d = this.endpoint(dc);
    const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost', ...Object.entries(entries).map(([host, ip]) => `${ip}\t${host}`)];
    const dir = join('/etc/netns', d.ns);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'hosts'), lines.join('\n') + '\n');
  }

  private iptables(ns: string, args: string[]): Promise<string> {
    // -w: the xtables lock is one file shared by every namespace.
    return run(this.tools.ip, ['netns', 'exec', ns, this.tools.iptables, '-w', '5', ...args], COMMAND_TIMEOUT_MS + 5_000);
  }

  /**
   * Cuts `dcs` off from every other DC, both ways: every packet between a cut DC's address and
   * another DC's is dropped in both namespaces, established connections included (the rules match
   * every packet, not only new connections). The host stays reachable from every DC, so tools on
   * the host keep seeing both sides. Cumulative: a second partition adds to the first.
   */
  async partition(dcs: string[]): Promise<void> {
    const cut = dcs.map((dc) => this.endpoint(dc));
    const rest = this.rec.dcs.filter((d) => !cut.includes(d));
    for (const a of cut) {
      for (const b of rest) {
        for (const [here, there] of [
          [a, b],
          [b, a],
        ] as const) {
          await this.iptables(here.ns, ['-A', CUT_CHAIN, '-s', there.ip, '-j', 'DROP']);
          await this.iptables(here.ns, ['-A', CUT_CHAIN, '-d', there.ip, '-j', 'DROP']);
        }
      }
    }
  }

  /** Removes every cut. */
  async heal(): Promise<void> {
    for (const d of this.rec.dcs) await this.iptables(d.ns, ['-F', CUT_CHAIN]);
  }

  /** The DC pairs currently cut (read from the namespaces' rules), each pair once, sorted. */
  async cuts(): Promise<Array<[string, string]>> {
    const byIp = new Map(this.rec.dcs.map((d) => [d.ip, d.dc]));
    const pairs = new Set<string>();
    for (const d of this.rec.dcs) {
      const rules = await this.iptables(d.ns, ['-S', CUT_CHAIN]);
      for (const m of rules.matchAll(/-[sd] (\d+\.\d+\.\d+\.\d+)\/32 -j DROP/g)) {
        const other = byIp.get(m[1]!);
        if (other) pairs.add([d.dc, other].sort().join('\u0000'));
      }
    }
    return [...pairs].sort().map((p) => p.split('\u0000') as [string, string]);
  }

  /**
   * Removes the network (idempotent). Processes still inside a namespace are killed: the namespace
   * would otherwise outlive its name. Rejects naming whatever could not be removed.
   */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    // The sentinel first, so that it does not race this teardown.
    this.sentinel?.end();
    const problems = await teardown(this.rec, this.tools);
    if (problems.length > 0) throw new SynodError('UNAVAILABLE', `network ${this.rec.name} not fully removed: ${problems.join('; ')}`);
    this.destroyed = true;
    this.sentinel = undefined;
  }

  toJSON(): DcNetworkJSON {
    return { ...this.rec, dcs: this.rec.dcs.map((d) => ({ ...d })) };
  }

  /**
   * A network another process created (e.g. `synod up --netns`, from its cluster.json), to
   * partition or heal it. It has no sentinel: it still ends with its owner.
   */
  static attach(json: unknown): DcNetwork {
    requireRoot();
    const rec = parseRecord(json);
    return new DcNetwork(rec, findTools());
  }

  /** The networks recorded on this host (live or left by a dead owner). */
  static list(stateDir = DEFAULT_STATE_DIR): DcNetworkJSON[] {
    let files: string[];
    try {
      files = readdirSync(stateDir).filter((f) => f.endsWith('.json')).slice(0, MAX_RECORDS);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return files.map((f) => parseRecord(JSON.parse(readFileSync(join(stateDir, f), 'utf8')), join(stateDir, f)));
  }

  /**
   * Removes every recorded network whose owner is gone (its sentinel should have, but may have
   * been killed too, or failed); returns their names. Rejects naming what could not be removed.
   */
  static async removeStale(stateDir = DEFAULT_STATE_DIR): Promise<string[]> {
    requireRoot();
    const tools = findTools();
    const removed: string[] = [];
    const problems: string[] = [];
    for (const rec of DcNetwork.list(stateDir)) {
      if (isAlive(rec.ownerPid, rec.ownerStart)) continue;
      if (rec.sentinelPid !== undefined) {
        try {
          process.kill(rec.sentinelPid, 'SIGKILL');
        } catch {
          // already gone: it finished, or was killed with its owner
        }
      }
      const p = await teardown(rec, tools);
      if (p.length) problems.push(`${rec.name} (owner pid ${rec.ownerPid} gone): ${p.join('; ')}`);
      else removed.push(rec.name);
    }
    if (problems.length) throw new SynodError('UNAVAILABLE', `stale synod networks could not be removed: ${problems.join(' | ')}`);
    return removed;
  }

  /** Creates the network; see docs/netns.md for its layout and address choice. */
  static async create(opts: CreateOptions): Promise<DcNetwork> {
    requireRoot();
    const tools = findTools();
    const tag = opts.tag ?? 'sy';
    if (!TAG.test(tag)) throw new SynodError('INVALID_ARGUMENT', `network tag ${JSON.stringify(tag)}: 1–5 lowercase letters or digits, starting with a letter`);
    if (opts.dcs.length < 1 || opts.dcs.length > MAX_DCS) throw new SynodError('INVALID_ARGUMENT', `a network has 1..${MAX_DCS} DCs, not ${opts.dcs.length}`);
    for (const dc of opts.dcs) if (!DC_NAME.test(dc)) throw new SynodError('INVALID_ARGUMENT', `DC name ${JSON.stringify(dc)}: lowercase letters, digits and '-', at most 32`);
    if (new Set(opts.dcs).size !== opts.dcs.length) throw new SynodError('INVALID_ARGUMENT', `DC names repeat: ${opts.dcs.join(', ')}`);
    const stateDir = opts.stateDir ?? DEFAULT_STATE_DIR;
    await DcNetwork.removeStale(stateDir);
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });

    const { ns: nsNow, links: linksNow } = await existing(tools);
    // Interface names: tag (≤5) + 4 hex + 1 letter + index (≤2): at most 12 of Linux's 15.
    let name = '';
    for (let i = 0; i < 16; i++) {
      const candidate = `${tag}${randomBytes(2).toString('hex')}`;
      if (!linksNow.has(`${candidate}b`) && ![...nsNow].some((n) => n.startsWith(`${candidate}-`))) {
        name = candidate;
        break;
      }
    }
    if (!name) throw new SynodError('UNAVAILABLE', 'no unused network name found in 16 tries');

    const used = await hostPrefixes(tools);
    const start = randomBytes(1)[0]!;
    let rec: DcNetworkJSON | undefined;
    for (let i = 0; i < SUBNET_CANDIDATES && !rec; i++) {
      const third = (start + i) % 256;
      const base = `${SUBNET_BASE[0]}.${SUBNET_BASE[1]}.${third}`;
      if (used.some(([ip, len]) => overlaps(`${base}.0`, 24, ip, len))) continue;
      const stateFile = join(stateDir, `${base}.0.json`);
      const candidate: DcNetworkJSON = {
        version: 1,
        name,
        bridge: `${name}b`,
        subnet: `${base}.0/24`,
        hostIp: `${base}.1`,
        dcs: opts.dcs.map((dc, k) => ({ dc, ns: `${name}-${dc}`, ip: `${base}.${11 + k}`, veth: `${name}h${k}` })),
        ownerPid: process.pid,
        ownerStart: processStart(process.pid) ?? '',
        stateFile,
      };
      try {
        // The claim: exclusive creation, so two creates at once never take one subnet.
        writeFileSync(stateFile, JSON.stringify(candidate, null, 2) + '\n', { flag: 'wx', mode: 0o600 });
        rec = candidate;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    if (!rec) throw new SynodError('UNAVAILABLE', `no free /24 in ${SUBNET_BASE.join('.')}.0.0/16: every one overlaps a host address, a route or another synod network`);

    const net = new DcNetwork(rec, tools);
    // The sentinel before any interface exists: a kill at any point of the set-up is cleaned up.
    const sentinel = spawn('sh', ['-c', SENTINEL, 'synod-netns-sentinel', tools.ip, rec.bridge, rec.stateFile, rec.dcs.map((d) => d.veth).join(' '), ...rec.dcs.map((d) => d.ns)], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    sentinel.unref();
    (sentinel.stdin as unknown as { unref?: () => void }).unref?.();
    sentinel.stdin!.on('error', () => undefined);
    const sentinelPid = sentinel.pid;
    if (sentinelPid === undefined) {
      rmSync(rec.stateFile, { force: true });
      throw new SynodError('UNAVAILABLE', 'could not start the clean-up sentinel (sh)');
    }
    net.sentinel = {
      pid: sentinelPid,
      end: () => {
        try {
          process.kill(sentinelPid, 'SIGKILL');
        } catch {
          // it already ended
        }
        sentinel.stdin!.destroy();
      },
    };
    rec.sentinelPid = sentinelPid;
    writeFileSync(rec.stateFile, JSON.stringify(rec, null, 2) + '\n', { mode: 0o600 });

    try {
      const ip = (args: string[]) => run(tools.ip, args);
      await ip(['link', 'add', rec.bridge, 'type', 'bridge']);
      await ip(['addr', 'add', `${rec.hostIp}/24`, 'dev', rec.bridge]);
      await ip(['link', 'set', rec.bridge, 'up']);
      for (const d of rec.dcs) {
        const inner = `${name}n${rec.dcs.indexOf(d)}`;
        await ip(['netns', 'add', d.ns]);
        await ip(['-n', d.ns, 'link', 'set', 'lo', 'up']);
        await ip(['link', 'add', d.veth, 'type', 'veth', 'peer', 'name', inner]);
        await ip(['link', 'set', inner, 'netns', d.ns]);
        await ip(['link', 'set', d.veth, 'master', rec.bridge]);
        await ip(['link', 'set', d.veth, 'up']);
        await ip(['-n', d.ns, 'addr', 'add', `${d.ip}/24`, 'dev', inner]);
        await ip(['-n', d.ns, 'link', 'set', inner, 'up']);
        // One chain hooked into both directions: partition() appends to it, heal() flushes it.
        await net.iptables(d.ns, ['-N', CUT_CHAIN]);
        await net.iptables(d.ns, ['-I', 'INPUT', '-j', CUT_CHAIN]);
        await net.iptables(d.ns, ['-I', 'OUTPUT', '-j', CUT_CHAIN]);
      }
    } catch (err) {
      const cleanup = await net.destroy().then(
        () => '',
        (e: Error) => `; clean-up failed too: ${e.message}`,
      );
      throw new SynodError('UNAVAILABLE', `creating network ${name} failed: ${(err as Error).message}${cleanup}`);
    }
    return net;
  }
}

function parseRecord(json: unknown, stateFile?: string): DcNetworkJSON {
  const r = json as Partial<DcNetworkJSON> | null;
  const ok =
    r !== null &&
    typeof r === 'object' &&
    r.version === 1 &&
    typeof r.name === 'string' &&
    typeof r.bridge === 'string' &&
    typeof r.subnet === 'string' &&
    typeof r.hostIp === 'string' &&
    typeof r.ownerPid === 'number' &&
    typeof r.stateFile === 'string' &&
    Array.isArray(r.dcs) &&
    r.dcs.length <= MAX_DCS &&
    r.dcs.every((d) => typeof d?.dc === 'string' && typeof d.ns === 'string' && typeof d.ip === 'string' && typeof d.veth === 'string');
  if (!ok) throw new SynodError('INVALID_ARGUMENT', `not a synod network record${stateFile ? ` (${stateFile})` : ''}`);
  return { ...(r as DcNetworkJSON), ownerStart: r.ownerStart ?? '', ...(stateFile ? { stateFile } : {}) };
}
