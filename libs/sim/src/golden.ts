import {
  formatBallot,
  InvariantViolation,
  ReadyPipeline,
  Replica,
  type Ballot,
  type PaxosMessage,

  type PersistRequest,
  type Ready,
  type ReplicaConfig,
  type Value,
} from '@synod/paxos';
import { DurableStore } from './disk.js';
import { describePayload } from './messages.js';
import { Prng } from './prng.js';
import { Scheduler } from './scheduler.js';
import { SimStateMachine } from './state-machine.js';

/**
 * Golden interaction tests (etcd raft's `testdata/` interaction tests, for the Paxos core):
 * a scripted, deterministic world of a few replicas in which a story decides exactly which
 * node ticks, which message is dropped, who crashes and when, and which prints one line per
 * event in the simulator's trace vocabulary (`deliver`, `drop`, `synced`, `apply`,
 * `leadership`, `install-snapshot`, `crash`, `restart`), with the key fields of every message.
 *
 * It runs the same pieces as the simulator — the `ReadyPipeline`, the `DurableStore` disk, the
 * `SimStateMachine`, the `Scheduler`'s virtual µs and `describePayload` — but no randomness
 * beyond the replicas' seeded Rng: every link has the same latency, every fsync the same
 * duration, and time only moves through the script. A story's output is compared with
 * `libs/sim/testdata/golden/<story>.trace` (golden.test.ts).
 */

export interface GoldenWorldOptions {
  /** Every node of the world (each its own datacenter); all start up. */
  ids: string[];
  /** The group's initial members (default: every id); the others start as non-members (spares). */
  members?: string[];
  /** Overrides of the replicas' configuration (see `GOLDEN_CONFIG` for the defaults). */
  config?: Partial<ReplicaConfig>;
  /** One-way latency of every link (default 1 000 µs). */
  latencyUs?: number;
  /** Duration of every fsync (default 100 µs); a node's writes complete in order. */
  fsyncUs?: number;
  /** Ticks happen at multiples of this (default 5 000 µs). */
  tickUs?: number;
  /** Message types whose deliveries are counted, not printed (one summary line per section). */
  quiet?: PaxosMessage['type'][];
  /** Seed of the replicas' Rng (default 1). */
  seed?: number;
}

/**
 * The replicas' configuration in every story unless it overrides it: production's defaults
 * except fixed election timeouts (exactly 100 ms), so the trace's times read as round numbers
 * and the script decides who campaigns by which nodes it ticks.
 */
export const GOLDEN_CONFIG: Omit<ReplicaConfig, 'self' | 'peers'> = {
  group: 'g',
  heartbeatIntervalUs: 20_000,
  electionTimeoutUs: 100_000,
  features: { randomizedTimeouts: false },
};

type DropRule = (from: string, to: string, msg: PaxosMessage) => boolean;

interface GoldenNode {
  id: string;
  config: ReplicaConfig;
  up: boolean;
  incarnation: number;
  replica: Replica | null;
  pipeline: ReadyPipeline | null;
  store: DurableStore;
  sm: SimStateMachine;
  diskFreeAtUs: number;
  leaseUntil: number | null;
}

export class GoldenWorld {
  readonly sched = new Scheduler();
  readonly lines: string[] = [];
  private readonly nodes = new Map<string, GoldenNode>();
  private readonly rng: Prng;
  private readonly latencyUs: number;
  private readonly fsyncUs: number;
  private readonly tickUs: number;
  private readonly quiet: ReadonlySet<string>;
  private readonly quietCounts = new Map<string, number>();
  private readonly cut = new Set<string>();
  private drops: DropRule[] = [];

  constructor(readonly options: GoldenWorldOptions) {
    this.rng = new Prng(options.seed ?? 1);
    this.latencyUs = options.latencyUs ?? 1_000;
    this.fsyncUs = options.fsyncUs ?? 100;
    this.tickUs = options.tickUs ?? 5_000;
    this.quiet = new Set(options.quiet ?? []);
    const members = options.members ?? options.ids;
    const features = { ...GOLDEN_CONFIG.features, ...options.config?.features };
    for (const id of options.ids) {
      const config: ReplicaConfig = { ...GOLDEN_CONFIG, ...options.config, features, self: id, peers: [...members] };
      const node: GoldenNode = {
        id,
        config,
        up: true,
        incarnation: 0,
        replica: null,
        pipeline: null,
        store: new DurableStore(),
        sm: new SimStateMachine(),
        diskFreeAtUs: 0,
        leaseUntil: null,
      };
      this.nodes.set(id, node);
      this.boot(node);
    }
  }

  get nowUs(): number {
    return this.sched.nowUs;
  }

  /** The replica of `id` (throws if the node is down). */
  replica(id: string): Replica {
    const r = this.node(id).replica;
    if (r === null) throw new Error(`golden: ${id} is down`);
    return r;
  }

  // ------------------------------------------------------------------ script

  /** A section heading in the trace: what the script does next and why. */
  note(text: string): void {
    this.flushQuiet();
    this.lines.push('', `# ${text}`);
  }

  /**
   * Lets `durationUs` of virtual time pass. At every multiple of the tick interval the nodes in
   * `tick` (default: every node that is up) are ticked; messages and fsyncs land as they fall due.
   */
  run(durationUs: number, tick?: string[]): void {
    const end = this.sched.nowUs + durationUs;
    const first = Math.floor(this.sched.nowUs / this.tickUs) * this.tickUs + this.tickUs;
    for (let t = first; t <= end; t += this.tickUs) {
      this.sched.at(t, () => {
        for (const id of tick ?? [...this.nodes.keys()]) this.tick(id);
      });
    }
    this.sched.runUntil(end);
  }

  /** Lets time pass until `pred` holds (ticking `tick`), at most `maxUs`. */
  runUntil(pred: () => boolean, tick?: string[], maxUs = 5_000_000): void {
    const end = this.sched.nowUs + maxUs;
    while (!pred()) {
      if (this.sched.nowUs >= end) throw new Error(`golden: condition not reached within ${maxUs} us; trace so far:\n${this.lines.slice(-40).join('\n')}`);
      this.run(this.tickUs, tick);
    }
  }

  /** Lets every message and fsync in flight land, ticking nobody. */
  settle(): void {
    for (let i = 0; this.sched.pending > 0; i++) {
      if (i > 10_000) throw new Error('golden: no quiescence (a message storm?)');
      this.sched.runUntil(Number.MAX_SAFE_INTEGER, () => true);
    }
  }

  /** Ticks one node now. */
  tick(id: string): void {
    const n = this.node(id);
    if (n.up) this.call(n, (r) => r.tick(this.nowUs));
  }

  /** A client's commands (ids; payload `{client, seq}` derived from the id) proposed at `id`. */
  propose(id: string, cmdIds: string[]): void {
    const n = this.node(id);
    const cmds = cmdIds.map((cid) => ({ id: cid, payload: { client: cid.replace(/[0-9]+$/, ''), seq: Number(cid.match(/[0-9]+$/)?.[0] ?? 0) } }));
    const ready = this.call(n, (r) => r.propose(cmds, this.nowUs));
    const res = (ready?.proposalResults ?? []).map((p) => `${p.ids.join(',')} ${p.status}`).join('; ');
    this.print(`${id} propose ${res}`);
  }

  /** Asks `id` (the leader) to change the membership. */
  reconfigure(id: string, change: { peers: string[]; q1?: number; q2?: number }): void {
    const n = this.node(id);
    const ready = this.call(n, (r) => r.reconfigure(change, this.nowUs));
    this.print(`${id} reconfigure peers=${change.peers.join(',')} ${ready?.reconfigureResult?.status ?? 'failed'}`);
  }

  /** Drops every message for which `rule` holds, from now until `allowAll`. */
  dropWhen(rule: DropRule): void {
    this.drops.push(rule);
  }

  allowAll(): void {
    this.drops = [];
  }

  /** Cuts every link to and from `id` (messages already in flight are dropped when they land). */
  isolate(id: string): void {
    for (const other of this.nodes.keys()) if (other !== id) this.cutLinks(id, other);
    this.print(`partition ${id} | ${[...this.nodes.keys()].filter((o) => o !== id).join(',')}`);
  }

  /** Cuts the links between `a` and `b`, both ways. */
  cutBetween(a: string, b: string): void {
    this.cutLinks(a, b);
    this.print(`partition ${a} | ${b}`);
  }

  /** Restores the links between `a` and `b`. */
  reconnect(a: string, b: string): void {
    this.cut.delete(`${a}>${b}`);
    this.cut.delete(`${b}>${a}`);
    this.print(`reconnect ${a} - ${b}`);
  }

  heal(): void {
    this.cut.clear();
    this.print('heal');
  }

  /** The node stops: its unsynced writes, its pipeline and its volatile state are lost. */
  crash(id: string): void {
    const n = this.node(id);
    if (!n.up) return;
    n.up = false;
    n.incarnation++;
    n.replica = null;
    n.pipeline = null;
    n.diskFreeAtUs = 0;
    n.leaseUntil = null;
    this.print(`crash ${id}`);
  }

  /** The node comes back from what it synced (snapshot + tail). */
  restart(id: string): void {
    const n = this.node(id);
    if (n.up) return;
    n.up = true;
    n.incarnation++;
    this.print(`restart ${id}`);
    this.boot(n);
  }

  /** One line summing up a replica's state. */
  show(id: string): void {
    const n = this.node(id);
    if (!n.up || n.replica === null) {
      this.print(`${id} state down promised=${fmtBallot(n.store.promised)}`);
      return;
    }
    const r = n.replica;
    const lease = r.leaseValidUntil(this.nowUs);
    this.print(
      `${id} state role=${r.getRole()} promised=${fmtBallot(r.ballot())} own=${fmtBallot(r.ownBallot())} ` +
        `leader=${r.leaderHint() ?? '-'} chosen=${r.chosenUpTo()} applied=${r.appliedUpTo()}` +
        `${r.snapshotUpTo() > 0 ? ` snapshot=${r.snapshotUpTo()}` : ''} lease=${lease === null ? '-' : `until ${lease}`}`,
    );
  }

  /** The whole trace, after a header of `#` lines. */
  text(header: string[]): string {
    this.flushQuiet();
    return `${[...header.map((h) => (h === '' ? '#' : `# ${h}`)), ...this.lines].join('\n')}\n`;
  }

  // ------------------------------------------------------------------ plumbing

  private node(id: string): GoldenNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`golden: no node ${id}`);
    return n;
  }

  private cutLinks(a: string, b: string): void {
    this.cut.add(`${a}>${b}`);
    this.cut.add(`${b}>${a}`);
  }

  private print(line: string): void {
    this.lines.push(`${String(this.sched.nowUs).padStart(8)} ${line}`);
  }

  private flushQuiet(): void {
    if (this.quietCounts.size === 0) return;
    const parts = [...this.quietCounts].sort(([x], [y]) => (x < y ? -1 : 1)).map(([key, k]) => `${k} ${key}`).join(', ');
    this.quietCounts.clear();
    this.lines.push(`${' '.repeat(8)} (${parts} not shown)`);
  }

  private boot(n: GoldenNode): void {
    const durable = n.store.snapshotState();
    const inc = n.incarnation;
    n.replica = new Replica(n.config, this.rng.fork(`${n.id}#${inc}`), { durable, nowUs: this.nowUs });
    const snap = durable.snapshot;
    n.sm = snap ? SimStateMachine.restore(snap.data, snap.upTo) : new SimStateMachine();
    n.pipeline = new ReadyPipeline({
      persist: (p, done) => this.persist(n, inc, p, done),
      send: (messages) => {
        for (const o of messages) this.send(n.id, o.to, o.msg);
      },
      deliverLocal: (messages) => {
        for (const msg of messages) this.call(n, (r) => r.step(msg, this.nowUs));
      },
      installSnapshot: ({ upTo, data }) => {
        n.sm = SimStateMachine.restore(data, upTo);
        this.print(`${n.id} install-snapshot ${upTo}`);
      },
      apply: (e) => {
        this.print(`${n.id} apply ${e.slot} ${fmtValue(e.value)}${e.duplicates.length ? ` dup=${e.duplicates.join(',')}` : ''}`);
        n.sm.apply(e);
        if (e.takeSnapshot) {
          // As the simulator's node: captured at exactly slot + 1, handed back outside this release.
          const data = n.sm.export();
          this.sched.after(0, () => {
            if (inc === n.incarnation && n.up) this.call(n, (r) => r.snapshotTaken(e.slot + 1, data, this.nowUs));
          });
        }
      },
      settle: () => undefined,
      leadership: (l) => this.print(`${n.id} leadership leader=${l.isLeader} hint=${l.leaderHint ?? '-'} b=${fmtBallot(l.ballot)}`),
      fatal: (err) => {
        if (err instanceof InvariantViolation) this.print(`${n.id} ASSERTION ${err.invariant}: ${err.message}`);
        throw err;
      },
    });
  }

  /** One call into a replica, through its Ready pipeline; notes lease changes. */
  private call(n: GoldenNode, fn: (r: Replica) => Ready): Ready | undefined {
    const r = n.replica;
    const p = n.pipeline;
    if (!n.up || r === null || p === null) return undefined;
    const ready = p.run(() => fn(r));
    const until = r.leaseValidUntil(this.nowUs);
    if (until !== null && n.leaseUntil === null) this.print(`${n.id} lease held until=${until}`);
    if (until === null && n.leaseUntil !== null) this.print(`${n.id} lease lapsed`);
    n.leaseUntil = until;
    return ready;
  }

  private persist(n: GoldenNode, inc: number, p: PersistRequest, done: () => void): void {
    const at = Math.max(this.nowUs, n.diskFreeAtUs) + this.fsyncUs;
    n.diskFreeAtUs = at;
    this.sched.at(at, () => {
      if (inc !== n.incarnation) return; // crashed before the fsync completed
      n.store.write(p);
      this.print(`${n.id} synced ${fmtPersist(p)}`);
      done();
    });
  }

  private send(from: string, to: string, msg: PaxosMessage): void {
    const label = `${describePayload({ kind: 'paxos', msg })}${details(msg)}`;
    if (this.drops.some((rule) => rule(from, to, msg))) {
      this.event(msg, 'dropped', `drop ${from}>${to} ${label} (scripted)`);
      return;
    }
    if (this.cut.has(`${from}>${to}`)) {
      this.event(msg, 'dropped', `drop ${from}>${to} ${label} (partition)`);
      return;
    }
    const wire = JSON.stringify(msg); // the receiver gets a fresh copy, as over a real wire
    this.sched.after(this.latencyUs, () => {
      if (this.cut.has(`${from}>${to}`)) {
        this.event(msg, 'dropped', `drop-late ${from}>${to} ${label} (partition)`);
        return;
      }
      const dest = this.node(to);
      if (!dest.up) {
        this.event(msg, 'lost', `lost ${from}>${to} ${label} (${to} is down)`);
        return;
      }
      this.event(msg, 'delivered', `deliver ${from}>${to} ${label}`);
      this.call(dest, (r) => r.step(JSON.parse(wire) as PaxosMessage, this.nowUs));
    });
  }

  /** Prints a message's fate, or only counts it if its type is quiet. */
  private event(msg: PaxosMessage, fate: string, line: string): void {
    if (!this.quiet.has(msg.type)) {
      this.print(line);
      return;
    }
    const key = `${msg.type} ${fate}`;
    this.quietCounts.set(key, (this.quietCounts.get(key) ?? 0) + 1);
  }
}

// -------------------------------------------------------------------- the printer

export function fmtBallot(b: Ballot): string {
  return b.round === 0 ? '0' : formatBallot(b);
}

export function fmtValue(v: Value): string {
  if (v.kind === 'noop') return 'noop';
  if (v.kind === 'config') return `config(${v.peers.join(',')} q=${v.q1}/${v.q2}${v.learners?.length ? ` learners=${v.learners.join(',')}` : ''})`;
  return v.cmds.map((c) => c.id).join(',');
}

function fmtPersist(p: PersistRequest): string {
  const parts: string[] = [];
  if (p.promised) parts.push(`promised=${fmtBallot(p.promised)}`);
  if (p.snapshot) parts.push(`snapshot=${p.snapshot.upTo}`);
  if (p.accepted?.length) parts.push(`accepted=[${p.accepted.map((e) => `${e.slot}:${fmtValue(e.value)}@${fmtBallot(e.ballot)}`).join(' ')}]`);
  if (p.truncateBelow !== undefined) parts.push(`truncate<${p.truncateBelow}`);
  return parts.join(' ');
}

/** The key fields of a message, after the simulator's `group:type b=ballot` label. */
export function details(m: PaxosMessage): string {
  const entries = (es: ReadonlyArray<{ slot: number; value: Value }>): string => `[${es.map((e) => `${e.slot}:${fmtValue(e.value)}`).join(' ')}]`;
  switch (m.type) {
    case 'prepare':
      return ` fromSlot=${m.fromSlot}`;
    case 'promise':
      return (
        ` accepted=[${m.accepted.map((e) => `${e.slot}:${fmtValue(e.value)}@${fmtBallot(e.ballot)}`).join(' ')}] chosenUpTo=${m.chosenUpTo}` +
        `${m.snapshotUpTo > 0 ? ` snapshotUpTo=${m.snapshotUpTo}` : ''}${m.continueFrom !== undefined ? ` continueFrom=${m.continueFrom}` : ''}`
      );
    case 'preVote':
      return '';
    case 'preVoteReply':
      return ` granted=${m.granted} promised=${fmtBallot(m.promised)}`;
    case 'nack':
      return ` promised=${fmtBallot(m.promised)}`;
    case 'accept':
      return ` entries=${entries(m.entries)} chosenUpTo=${m.chosenUpTo}`;
    case 'accepted':
      return ` slots=${m.slots.join(',')}`;
    case 'heartbeat':
      return ` chosenUpTo=${m.chosenUpTo}${m.quiet ? ' quiet' : ''}`;
    case 'heartbeatAck':
      return ` chosenUpTo=${m.chosenUpTo}${m.quiet ? ' quiet' : ''}`;
    case 'wake':
      return '';
    case 'catchupRequest':
      return ` slots=${m.fromSlot}..${m.toSlot}`;
    case 'catchupReply':
      return ` entries=${entries(m.entries)} chosenUpTo=${m.chosenUpTo}`;
    case 'forward':
      return ` cmds=${m.cmds.map((c) => c.id).join(',')}`;
    case 'snapshotChunk':
      return ` upTo=${m.upTo} chunk=${m.chunk} of=${m.chunks} chars=${m.data.length}`;
    case 'snapshotRequest':
      return ` upTo=${m.upTo} chunk=${m.chunk}`;
    case 'timeoutNow':
    case 'leaseRelease':
      return '';
  }
}
