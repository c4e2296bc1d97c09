import type { GroundCommit, SpanHistory, SpanViolation } from './history.js';

/**
 * The span simulation's checkers: pure functions of a recorded history (span/history.ts), each
 * returning its violations. Times are true virtual time; ground truth is the applied log.
 *
 *  - strictSerializability: replaying the committed transactions in timestamp order, every
 *    read-write transaction's reads equal the state just below its timestamp, and its applied
 *    writes are the ones its client sent;
 *  - snapshotExact: every lock-free read at `ts` returns exactly the newest version at or below
 *    `ts` of each key (nothing above, nothing missing);
 *  - realTimeOrder: an operation acknowledged before (or at the instant) another was invoked has
 *    the lower timestamp (RW→RW strictly, RW→RO ts_RO ≥ ts_RW, RO→RW strictly, RO→RO non-decreasing);
 *    a strong read of one split (rule 9a: it may run at its leader's last commit, below timestamps
 *    acknowledged on other splits) is ordered instead at the lowest point at or above everything
 *    acknowledged before it, which must be below the next version of every key it read (it returns
 *    the snapshot there too), and later operations are ordered after that point;
 *  - tSafeNotAhead: every commit at or below a replica's reported t_safe was already durably
 *    visible in that replica's MVCC store when it reported it;
 *  - ackedAppliedOnce: each transaction is applied at most once per split (and committed by one
 *    commit record); an acknowledged commit is in the ground truth at the acknowledged timestamp,
 *    an abort (reply or status) is in no split's log, and every status answer agrees with it;
 *  - atomicCommit: a cross-split transaction's outcome is its coordinator's: every participant
 *    that applied it applied it at the coordinator's timestamp, none applied one the coordinator
 *    did not commit, none aborted one it committed, and it committed only with every participant
 *    prepared;
 *  - bankConserved: every lock-free read of every split's accounts sums to the bank's total
 *    (transfers cross splits: no single split's total is conserved);
 *  - twoPhaseLiveness: once every fault is healed, 2PC settles: within a bound no replica holds a
 *    prepared transaction, a lock or a coordination.
 *
 * A cross-split transaction has one GroundCommit per split that applied it: the coordinator's
 * commit record ('commit', with its participants) and each participant's 'decide'. Its ground
 * truth (timestamp, whether it committed) is the coordinator's; its writes are all of them.
 */

const MAX_REPORTED = 5;

/** Canonical JSON (sorted object keys): values are compared by content. */
export function canonical(v: unknown): string {
  if (v === undefined) return 'undefined';
  return JSON.stringify(v, (_k, x: unknown) =>
    x !== null && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : x,
  );
}

interface Version {
  ts: number;
  value: unknown;
  txn: string;
}

/** The index of the first of `vs` (sorted by ts) above `ts` (at or above it when `atOrAbove`). */
function firstAbove(vs: readonly Version[], ts: number, atOrAbove: boolean): number {
  let lo = 0;
  let hi = vs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (atOrAbove ? vs[mid]!.ts < ts : vs[mid]!.ts <= ts) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The ground truth as versions per key, ascending by ts. */
export class GroundState {
  readonly byKey = new Map<string, Version[]>();
  /** Every split's application of each transaction (a cross-split one has several). */
  readonly byTxn = new Map<string, GroundCommit[]>();
  /** (key, ts) written by two different transactions. */
  readonly clashes: string[] = [];

  constructor(commits: readonly GroundCommit[]) {
    for (const c of commits) {
      const list = this.byTxn.get(c.txn);
      if (list) list.push(c);
      else this.byTxn.set(c.txn, [c]);
      for (const w of c.writes) {
        let vs = this.byKey.get(w.key);
        if (!vs) this.byKey.set(w.key, (vs = []));
        vs.push({ ts: c.ts, value: w.deleted ? undefined : w.value, txn: c.txn });
      }
    }
    for (const [key, vs] of this.byKey) {
      vs.sort((a, b) => a.ts - b.ts);
      for (let i = 1; i < vs.length; i++) if (vs[i]!.ts === vs[i - 1]!.ts && vs[i]!.txn !== vs[i - 1]!.txn) this.clashes.push(`${key}@${vs[i]!.ts}: ${vs[i - 1]!.txn} and ${vs[i]!.txn}`);
    }
  }

  /** The newest version of `key` at or below `ts` (strictly below when `strict`). */
  at(key: string, ts: number, strict = false): Version | undefined {
    const vs = this.byKey.get(key);
    if (!vs) return undefined;
    const i = firstAbove(vs, ts, strict);
    return i === 0 ? undefined : vs[i - 1];
  }

  /** The oldest version of `key` above `ts`. */
  above(key: string, ts: number): Version | undefined {
    const vs = this.byKey.get(key);
    return vs ? vs[firstAbove(vs, ts, false)] : undefined;
  }

  /** The version of `key` carrying `value`, if one was ever committed. */
  find(key: string, value: unknown): Version | undefined {
    const c = canonical(value);
    return this.byKey.get(key)?.find((v) => canonical(v.value) === c);
  }

  /**
   * The transaction's ground truth: its commit record (a single split's, or a 2PC coordinator's),
   * else (a participant applied what its coordinator never committed) the first split's decide.
   */
  commitOf(txn: string): GroundCommit | undefined {
    const cs = this.byTxn.get(txn);
    return cs?.find((c) => c.kind !== 'decide') ?? cs?.[0];
  }

  /** Everything the transaction wrote, over every split that applied it. */
  writesOf(txn: string): GroundCommit['writes'] {
    return (this.byTxn.get(txn) ?? []).flatMap((c) => c.writes);
  }
}

const describeVersion = (v: Version | undefined): string => (v ? `${canonical(v.value)} (${v.txn} at ${v.ts})` : 'nothing');

class Collector {
  readonly out: SpanViolation[] = [];
  private suppressed = 0;
  constructor(private readonly checker: string) {}
  add(atUs: number, detail: string): void {
    if (this.out.length < MAX_REPORTED) this.out.push({ checker: this.checker, detail, atUs });
    else this.suppressed++;
  }
  done(): SpanViolation[] {
    if (this.suppressed > 0 && this.out.length > 0) this.out[this.out.length - 1]!.detail += ` (and ${this.suppressed} more)`;
    return this.out;
  }
}

export function strictSerializability(h: SpanHistory, state = new GroundState(h.commits)): SpanViolation[] {
  const v = new Collector('strictSerializability');
  for (const clash of state.clashes) v.add(0, `two transactions wrote one key at one timestamp: ${clash}`);
  for (const rw of h.rw) {
    const c = state.commitOf(rw.id);
    if (!c) continue;
    const atUs = rw.outcome.state === 'committed' || rw.outcome.state === 'aborted' ? rw.outcome.atUs : rw.invokeUs;
    for (const r of rw.reads) {
      const below = state.at(r.key, c.ts, true);
      if (canonical(below?.value) !== canonical(r.value)) {
        const seen = r.value === undefined ? undefined : state.find(r.key, r.value);
        v.add(
          atUs,
          `${rw.id} (${rw.client}, split ${rw.split}${rw.participants?.length ? `+${rw.participants.join('+')}` : ''}) committed at ${c.ts} but read ${r.key}=${canonical(r.value)}${seen ? ` (${seen.txn} at ${seen.ts})` : ''}; the state just below ${c.ts} holds ${describeVersion(below)}`,
        );
      }
    }
    const sent = new Map(rw.writes.map((w) => [w.key, canonical(w.deleted ? undefined : w.value)]));
    const applied = new Map(state.writesOf(rw.id).map((w) => [w.key, canonical(w.deleted ? undefined : w.value)]));
    // A run cut short (an online violation) may end between a coordinator's commit and its
    // participants' decides: then only what was applied is compared (atomicCommit judges the rest).
    const complete = h.end !== undefined;
    const same = (complete ? sent.size === applied.size : applied.size <= sent.size) && [...(complete ? sent : applied)].every(([k, val]) => applied.get(k) === val && sent.get(k) === val);
    if (!same) v.add(atUs, `${rw.id} applied writes ${JSON.stringify([...applied])} but its client sent ${JSON.stringify([...sent])}`);
  }
  return v.done();
}

export function snapshotExact(h: SpanHistory, state = new GroundState(h.commits)): SpanViolation[] {
  const v = new Collector('snapshotExact');
  for (const ro of h.ro) {
    for (const r of ro.reads) {
      const want = state.at(r.key, ro.ts);
      if (canonical(want?.value) === canonical(r.value)) continue;
      const seen = r.value === undefined ? undefined : state.find(r.key, r.value);
      const what = seen === undefined ? (r.value === undefined ? 'nothing' : `${canonical(r.value)}, never committed`) : `${canonical(r.value)} (${seen.txn} at ${seen.ts}${seen.ts > ro.ts ? ', ABOVE the read timestamp' : ''})`;
      v.add(ro.ackUs, `${ro.mode} read ${ro.id} (${ro.client}) at ts ${ro.ts}, split ${r.split}: ${r.key} returned ${what}; the newest version at or below ${ro.ts} is ${describeVersion(want)}`);
    }
  }
  return v.done();
}

interface Timed {
  id: string;
  kind: 'rw' | 'ro';
  invokeUs: number;
  ackUs: number;
  ts: number;
  /**
   * A strong read of one split (RoRecord.soleSplit): the oldest version of a key it read above its
   * timestamp (none: Infinity). Its result is the snapshot at any timestamp below that version, so
   * it may be ordered anywhere there (docs/transactions.md, rule 9a).
   */
  sole?: { next: Version | undefined; key: string | undefined };
  /** Where it is ordered: its timestamp, or for a sole-split read the lowest point at or above every operation acknowledged before it. */
  at: number;
}

/** The index after the last of `acked` (sorted by ackUs) acknowledged at or before `us`. */
function ackedBy(acked: readonly Timed[], us: number): number {
  let lo = 0;
  let hi = acked.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (acked[mid]!.ackUs <= us) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function realTimeOrder(h: SpanHistory, state = new GroundState(h.commits)): SpanViolation[] {
  const v = new Collector('realTimeOrder');
  // Acknowledged operations: committed read-write transactions the client learnt of, strong reads.
  const acked: Timed[] = [];
  // Operations that must be ordered after what was acknowledged before their invocation.
  const later: Timed[] = [];
  for (const rw of h.rw) {
    const c = state.commitOf(rw.id);
    if (rw.outcome.state === 'committed') acked.push({ id: rw.id, kind: 'rw', invokeUs: rw.invokeUs, ackUs: rw.outcome.atUs, ts: rw.outcome.ts, at: rw.outcome.ts });
    if (c) later.push({ id: rw.id, kind: 'rw', invokeUs: rw.invokeUs, ackUs: Number.POSITIVE_INFINITY, ts: c.ts, at: c.ts });
  }
  for (const ro of h.ro) {
    if (ro.mode !== 'strong') continue;
    const t: Timed = { id: ro.id, kind: 'ro', invokeUs: ro.invokeUs, ackUs: ro.ackUs, ts: ro.ts, at: ro.ts };
    if (ro.soleSplit) {
      let next: Version | undefined;
      let key: string | undefined;
      for (const r of ro.reads) {
        const n = state.above(r.key, ro.ts);
        if (n && (!next || n.ts < next.ts)) [next, key] = [n, r.key];
      }
      t.sole = { next, key };
    }
    acked.push(t);
    later.push(t);
  }
  acked.sort((a, b) => a.ackUs - b.ackUs);
  // Prefix maxima of where the RW and the RO operations acknowledged so far are ordered.
  const bestRw: Array<Timed | undefined> = [];
  const bestRo: Array<Timed | undefined> = [];
  let rw: Timed | undefined;
  let ro: Timed | undefined;
  for (const [i, a] of acked.entries()) {
    if (a.sole) {
      // Ordered at the lowest point its result allows after everything acknowledged before it
      // (those are earlier in `acked`: acknowledged before it was invoked). Past the next version
      // of a key it read, it missed that write: reported below, and ordered at its timestamp.
      const n = Math.min(i, ackedBy(acked, a.invokeUs));
      const before = Math.max(bestRw[n - 1]?.at ?? 0, bestRo[n - 1]?.at ?? 0);
      if (before > a.ts && (a.sole.next === undefined || before < a.sole.next.ts)) a.at = before;
    }
    if (a.kind === 'rw' && (!rw || a.at > rw.at)) rw = a;
    if (a.kind === 'ro' && (!ro || a.at > ro.at)) ro = a;
    bestRw.push(rw);
    bestRo.push(ro);
  }
  for (const b of later) {
    // Operations acknowledged before b was invoked: acked[0 .. n). The same instant counts as
    // before (a client that invokes b on a's answer): a's timestamp was surely past when it was
    // acknowledged (commit wait, or a read's wait until ts < earliest), so it is below true time.
    const n = ackedBy(acked, b.invokeUs);
    if (n === 0) continue;
    for (const a of [bestRw[n - 1], bestRo[n - 1]]) {
      if (!a || a === b) continue;
      if (b.sole) {
        // A read of one split may be ordered above its timestamp, up to the next version of a key it read.
        const next = b.sole.next;
        if (next === undefined || a.at < next.ts) continue;
        v.add(
          b.invokeUs,
          `${a.kind.toUpperCase()}→RO: ${a.id} was acknowledged at ${a.ackUs} with ts ${a.at}, ${b.id} (a strong read of one split) was invoked later at ${b.invokeUs} but read at ts ${b.ts}, below ${b.sole.key}'s version at ${next.ts} (${next.txn}): it missed a write at or below ${a.at}`,
        );
        continue;
      }
      // RO after RW or RO: it may share the timestamp. Anything else: strictly later.
      const ok = b.kind === 'ro' ? b.ts >= a.at : b.ts > a.at;
      if (!ok)
        v.add(
          b.invokeUs,
          `${a.kind.toUpperCase()}→${b.kind.toUpperCase()}: ${a.id} was acknowledged at ${a.ackUs} with ts ${a.at}, ${b.id} was invoked later at ${b.invokeUs} but has ts ${b.ts}`,
        );
    }
  }
  return v.done();
}

export function tSafeNotAhead(h: SpanHistory): SpanViolation[] {
  const v = new Collector('tSafeNotAhead');
  const commitsBySplit = new Map<string, GroundCommit[]>();
  for (const c of h.commits) {
    if (c.writes.length === 0) continue;
    const list = commitsBySplit.get(c.split);
    if (list) list.push(c);
    else commitsBySplit.set(c.split, [c]);
  }
  const samplesBy = new Map<string, typeof h.tSafe>();
  for (const s of h.tSafe) {
    const k = `${s.node}|${s.split}`;
    const list = samplesBy.get(k);
    if (list) list.push(s);
    else samplesBy.set(k, [s]);
  }
  for (const [k, samples] of samplesBy) {
    samples.sort((a, b) => a.atUs - b.atUs);
    const prefixMax: number[] = [];
    let m = Number.NEGATIVE_INFINITY;
    for (const s of samples) prefixMax.push((m = Math.max(m, s.tSafe)));
    const split = samples[0]!.split;
    const visible = h.visible.get(k) ?? new Map<number, number>();
    for (const c of commitsBySplit.get(split) ?? []) {
      // The first sample whose t_safe covers c.
      let lo = 0;
      let hi = samples.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (prefixMax[mid]! < c.ts) lo = mid + 1;
        else hi = mid;
      }
      if (lo === samples.length) continue;
      const s = samples[lo]!;
      const seenAt = visible.get(c.ts);
      if (seenAt === undefined || seenAt > s.atUs)
        v.add(s.atUs, `${s.node} reported t_safe ${s.tSafe} for ${split} at ${s.atUs}, but ${c.txn} (ts ${c.ts}, slot ${c.slot}) was ${seenAt === undefined ? 'never' : `only at ${seenAt}`} durably visible there`);
    }
  }
  return v.done();
}

export function ackedAppliedOnce(h: SpanHistory, state = new GroundState(h.commits)): SpanViolation[] {
  const v = new Collector('ackedAppliedOnce');
  for (const [txn, cs] of state.byTxn) {
    const perSplit = new Map<string, GroundCommit[]>();
    for (const c of cs) perSplit.set(c.split, [...(perSplit.get(c.split) ?? []), c]);
    for (const [split, list] of perSplit)
      if (list.length > 1) v.add(0, `${txn} applied ${list.length} times on ${split}: ${list.map((c) => `slot ${c.slot} ts ${c.ts}`).join(', ')}`);
    const records = cs.filter((c) => c.kind !== 'decide');
    if (records.length > 1) v.add(0, `${txn} committed by ${records.length} commit records: ${records.map((c) => `${c.split} slot ${c.slot} ts ${c.ts}`).join(', ')}`);
  }
  const check = (txn: string, atUs: number, what: string, told: { committed: boolean; ts?: number | undefined }): void => {
    const c = state.commitOf(txn);
    if (told.committed && !c) v.add(atUs, `${what}: ${txn} committed at ${told.ts}, but no replica ever applied it`);
    else if (told.committed && c && c.ts !== told.ts) v.add(atUs, `${what}: ${txn} committed at ${told.ts}, but it was applied at ${c.ts}`);
    else if (!told.committed && c) v.add(atUs, `${what}: ${txn} aborted, but it was applied at ${c.ts} (${c.split} slot ${c.slot})`);
  };
  for (const rw of h.rw) {
    const o = rw.outcome;
    if (o.state === 'committed') check(rw.id, o.atUs, `${rw.client} was told by ${o.via === 'reply' ? 'the commit reply' : 'a status lookup'}`, { committed: true, ts: o.ts });
    else if (o.state === 'aborted') check(rw.id, o.atUs, `${rw.client} was told by ${o.via === 'reply' ? 'the commit reply' : 'a status lookup'} (${o.reason})`, { committed: false });
  }
  for (const s of h.status) check(s.txn, s.atUs, 'a status answer', { committed: s.state === 'committed', ts: s.ts });
  return v.done();
}

/**
 * Atomic commitment across splits (docs/transactions.md rules 13-16): the coordinator's log
 * decides. A participant applies the transaction only if the coordinator committed it, and then
 * at the coordinator's timestamp; no participant aborts what the coordinator committed; and the
 * coordinator commits only once every participant it names has prepared.
 */
export function atomicCommit(h: SpanHistory, state = new GroundState(h.commits)): SpanViolation[] {
  const v = new Collector('atomicCommit');
  // The coordinator of each cross-split transaction: its commit record's split, else the one its prepares name, else its client's.
  const coordinator = new Map<string, string>();
  const prepares = new Map<string, Map<string, number>>();
  for (const p of h.prepares) {
    if (!coordinator.has(p.txn)) coordinator.set(p.txn, p.coordinator);
    let m = prepares.get(p.txn);
    if (!m) prepares.set(p.txn, (m = new Map()));
    m.set(p.split, p.ts);
  }
  for (const rw of h.rw) if (rw.participants?.length && !coordinator.has(rw.id)) coordinator.set(rw.id, rw.split);
  for (const c of h.commits) if (c.participants?.length) coordinator.set(c.txn, c.split);
  const abortsOf = new Map<string, typeof h.aborts>();
  for (const a of h.aborts) abortsOf.set(a.txn, [...(abortsOf.get(a.txn) ?? []), a]);
  for (const [txn, coord] of coordinator) {
    const cs = state.byTxn.get(txn) ?? [];
    const record = cs.find((c) => c.split === coord && c.kind !== 'decide');
    const aborts = abortsOf.get(txn) ?? [];
    const coordAbort = aborts.find((a) => a.split === coord);
    for (const c of cs) {
      if (c === record) continue;
      if (c.split === coord) v.add(0, `${txn}: its coordinator ${coord} applied it through a ${c.kind ?? 'commit'} at slot ${c.slot}, not its commit record`);
      else if (!record)
        v.add(0, `${txn}: participant ${c.split} applied it at ${c.ts} (slot ${c.slot}), but its coordinator ${coord} ${coordAbort ? `decided abort (slot ${coordAbort.slot}: ${coordAbort.reason})` : 'never committed it'}`);
      else if (c.ts !== record.ts) v.add(0, `${txn}: participant ${c.split} applied it at ${c.ts}, its coordinator ${coord} committed it at ${record.ts}`);
      else if (!record.participants?.includes(c.split)) v.add(0, `${txn}: ${c.split} applied it at ${c.ts}, but ${coord}'s commit record names participants ${JSON.stringify(record.participants ?? [])}`);
    }
    if (!record) continue;
    for (const a of aborts)
      if (a.split !== coord) v.add(0, `${txn}: participant ${a.split} decided it aborted (slot ${a.slot}: ${a.reason}), but its coordinator ${coord} committed it at ${record.ts} (slot ${record.slot})`);
    for (const p of record.participants ?? [])
      if (!prepares.get(txn)?.has(p)) v.add(0, `${txn}: coordinator ${coord} committed it at ${record.ts} (slot ${record.slot}), but participant ${p} never prepared it`);
  }
  return v.done();
}

export function bankConserved(h: SpanHistory): SpanViolation[] {
  const v = new Collector('bankConserved');
  const { initial, accounts } = h.bank;
  const all = Object.entries(accounts).flatMap(([split, keys]) => keys.map((key) => ({ split, key })));
  const total = initial * all.length;
  for (const ro of h.ro) {
    const got = new Map<string, unknown>();
    for (const r of ro.reads) got.set(`${r.split}|${r.key}`, r.value);
    if (!all.every((a) => got.has(`${a.split}|${a.key}`))) continue;
    let sum = 0;
    for (const a of all) {
      const val = got.get(`${a.split}|${a.key}`);
      sum += typeof val === 'number' ? val : val === undefined ? initial : Number.NaN;
    }
    if (sum !== total) {
      const bySplit = Object.entries(accounts).map(([split, keys]) => `${split}: ${keys.map((k) => `${k}=${canonical(got.get(`${split}|${k}`))}`).join(' ')}`);
      v.add(ro.ackUs, `${ro.mode} read ${ro.id} at ts ${ro.ts}: the accounts sum to ${sum}, not ${total}: ${bySplit.join('; ')}`);
    }
  }
  return v.done();
}

/**
 * Liveness after the heal: every prepared transaction is decided, every lock released and every
 * coordination ended within `end.boundUs` of the run's drain (the simulation waits that long at
 * most, and records what every up replica holds then).
 */
export function twoPhaseLiveness(h: SpanHistory): SpanViolation[] {
  const v = new Collector('twoPhaseLiveness');
  const end = h.end;
  if (!end) return [];
  const preparedAt = new Map(h.prepares.map((p) => [`${p.split}|${p.txn}`, p.atUs]));
  for (const s of end.states) {
    if (s.prepared.length === 0 && s.locksHeld === 0 && s.coordinating === 0) continue;
    const what = [
      ...s.prepared.map((p) => `prepared ${p.txn} at ${p.ts} (coordinator ${p.coordinator}, prepared at ${preparedAt.get(`${s.split}|${p.txn}`) ?? '?'}us)`),
      ...(s.locksHeld > 0 ? [`${s.locksHeld} locks held`] : []),
      ...(s.coordinating > 0 ? [`${s.coordinating} transactions being coordinated`] : []),
    ];
    v.add(end.atUs, `${s.node}/${s.split} at ${end.atUs}us, ${end.atUs - end.healUs}us after every fault healed (bound ${end.boundUs}us after the drain): ${what.join(', ')}`);
  }
  return v.done();
}

export const SPAN_CHECKERS = {
  strictSerializability,
  snapshotExact,
  realTimeOrder,
  tSafeNotAhead,
  ackedAppliedOnce,
  atomicCommit,
  bankConserved,
  twoPhaseLiveness,
} as const;
export type SpanCheckerName = keyof typeof SPAN_CHECKERS;

/** Runs every checker; violations in checker order. */
export function checkSpanHistory(h: SpanHistory): SpanViolation[] {
  const state = new GroundState(h.commits);
  return [
    ...strictSerializability(h, state),
    ...snapshotExact(h, state),
    ...realTimeOrder(h, state),
    ...tSafeNotAhead(h),
    ...ackedAppliedOnce(h, state),
    ...atomicCommit(h, state),
    ...bankConserved(h),
    ...twoPhaseLiveness(h),
  ];
}
