/**
 * Issue "cross-split transactions" must-show: the bank workload with its accounts over the three
 * splits (Bank `spread: 'all'`), each split led from a different DC (steered there first, see
 * steer-leaders.ts), so most transfers commit by two-phase commit (docs/transactions.md). Two
 * faults, one per test, on one cluster of real processes:
 *
 *  (a) the coordinator leader's process is SIGKILLed at an observed moment: a participant has
 *      logged its prepare (the client holds its `kv.prepared` reply) and the coordinator has no
 *      commit record for it yet; then it is restarted. To make that moment observable and wide,
 *      every message into the coordinator leader's DC is delayed VOTE_DELAY_MS (chaos latency):
 *      the participants' votes, and the client's commit request, reach it that much later, and
 *      the kill comes a few ms after the prepare reply, well inside that window. After recovery
 *      the observed transaction must be aborted at the coordinator and at the participant (the
 *      new coordinator leader never accepted a commit for it: presumed abort).
 *  (b) a participant leader's DC is partitioned from every other DC for PARTITION_MS and healed.
 *
 * Each checks: money is conserved in every read-only snapshot (the bank's strong audits, and
 * bounded-staleness audits served by the replica in each DC: a snapshot below the set-up's commit
 * must show no account at all, any other must sum to the total), no acknowledged transfer is lost
 * (each one's journal key is there after), and within ABORT_BOUND_MS after the heal (restart) no
 * replica of any split holds locks or prepared transactions (`node.status`, what `synod status`
 * prints). The workload stops taking new transfers at the heal (its own live transactions hold
 * locks too). The bound, from CoreLimits: a coordinator logs an abort when not every participant
 * prepared within prepareBoundUs (5 s; less when the commit's waitMs is shorter), participants
 * repeat their vote every 250 ms, locks of a transaction idle for 10 s are released
 * (idleAbortUs): 15 s.
 * Printed: leaders and steering, transactions in flight at the fault, failover, time to quiet.
 * SYNOD_TEST_TRACE=<file> appends progress lines to that file as they happen.
 */
import { appendFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { SynodClient } from '@synod/client';
import { SynodError, type MessageBody } from '@synod/codec';
import { Bank, collectStatus } from '@synod/cli';
import { chaos, connectBus, type Bus } from '@synod/transport';
import { anyExited, sleep, useTestCluster, waitFor, type TestCluster } from './helpers.js';
import { describeLeaders, leadFromDistinctDcs } from './steer-leaders.js';

const EPSILON_MS = 5;
/** Chaos latency on every link into the coordinator leader's DC in (a): the window between a prepare and the coordinator hearing of it. */
const VOTE_DELAY_MS = 400;
const PARTITION_MS = 3_000;
/** prepareBoundUs (5 s) + vote interval (250 ms) + idleAbortUs (10 s) … rounded: see the file comment. */
const ABORT_BOUND_MS = 15_000;
const WORKERS = 6;

const cluster = useTestCluster({ truetime: 'local', epsilonMs: EPSILON_MS });

/** Progress lines, as they happen, to the file named by SYNOD_TEST_TRACE (vitest prints console output only at the end). */
const trace = (s: string) => {
  if (process.env.SYNOD_TEST_TRACE) appendFileSync(process.env.SYNOD_TEST_TRACE, `${new Date().toISOString().slice(11, 23)} ${s}\n`);
};

/** What the client sent for one transaction id (the 2PC requests only). */
interface Tracked {
  coordinator: string;
  participants: string[];
  /** Participant split → when its kv.prepared reply came (ms, performance.now). */
  prepared: Map<string, number>;
  commitSentAt?: number;
  /** The commit got an answer (a reply or a refusal): its outcome is known to the client. */
  commitAnswered: boolean;
}

/**
 * The bank client's bus, wrapped to record every kv.prepare and kv.commit it sends and how each
 * ended, and to call `onPrepared` the moment a participant's kv.prepared reply arrives.
 */
function track(bus: Bus, onPrepared: (txnId: string, t: Tracked, split: string) => void): Map<string, Tracked> {
  const txns = new Map<string, Tracked>();
  const request = bus.request.bind(bus);
  bus.request = ((to, kind, body, opts) => {
    const p = request(to, kind, body, opts);
    if (kind === 'kv.prepare') {
      const b = body as MessageBody<'kv.prepare'>;
      const t: Tracked = txns.get(b.txn.id) ?? { coordinator: b.coordinator, participants: [], prepared: new Map(), commitAnswered: false };
      txns.set(b.txn.id, t);
      p.then(
        () => {
          t.prepared.set(opts?.group ?? '?', performance.now());
          onPrepared(b.txn.id, t, opts?.group ?? '?');
        },
        () => undefined,
      );
    } else if (kind === 'kv.commit') {
      const b = body as MessageBody<'kv.commit'>;
      if (b.participants?.length) {
        const t: Tracked = txns.get(b.txn.id) ?? { coordinator: opts?.group ?? '?', participants: [], prepared: new Map(), commitAnswered: false };
        txns.set(b.txn.id, t);
        t.coordinator = opts?.group ?? t.coordinator;
        t.participants = b.participants;
        t.commitSentAt ??= performance.now();
        p.then(
          () => (t.commitAnswered = true),
          (err: unknown) => {
            if (!(err instanceof SynodError) || !['TIMEOUT', 'UNAVAILABLE'].includes(err.code)) t.commitAnswered = true;
          },
        );
      }
    }
    return p;
  }) as typeof bus.request;
  return txns;
}

/** Cross-split transactions whose commit was sent and not answered: in flight. */
const inFlight = (txns: Map<string, Tracked>) => [...txns.values()].filter((t) => t.commitSentAt !== undefined && !t.commitAnswered);

interface Workload {
  bank: Bank;
  client: SynodClient;
  txns: Map<string, Tracked>;
  /** Bounded-staleness audits from a client in each DC (served by its own replica). */
  followerAudits: Record<string, { ok: number; failed: number; bad: number; beforeSetup: number }>;
  /** What each bad follower audit read, split by split. */
  badAuditDetails: string[];
  /** Stops new transfers and the audits; resolves when every worker has finished its transfer. */
  stop(): Promise<void>;
}

async function startWorkload(tc: TestCluster, prefix: string, onPrepared: (txnId: string, t: Tracked, split: string) => void = () => undefined): Promise<Workload> {
  // The writer sits outside the three DCs: partitioning a DC does not cut the client off.
  const bus = await connectBus(tc.cluster.info.natsUrl, { nodeId: `xsplit-writer-${prefix.replace(/\W/g, '')}`, dc: 'clients' });
  tc.buses.push(bus);
  const txns = track(bus, onPrepared);
  const client = new SynodClient(bus, tc.cluster.rangeMap, { timeoutMs: 2_000, outcomeLookupMs: 10_000 });
  const bank = new Bank(client, { accounts: 12, initial: 100, workers: WORKERS, journal: true, spread: 'all', prefix });
  await bank.setup();
  const followerAudits: Workload['followerAudits'] = {};
  const badAuditDetails: string[] = [];
  let auditing = true;
  const loops = await Promise.all(
    tc.cluster.rangeMap.nodes().map(async (node) => {
      const c = await tc.client(node.dc, `xsplit-auditor-${prefix.replace(/\W/g, '')}-${node.dc}`);
      const stats = (followerAudits[node.dc] = { ok: 0, failed: 0, bad: 0, beforeSetup: 0 });
      // A bounded-staleness read of every account at one timestamp from this DC's replica (as
      // client.read does it: the first split picks the timestamp, the others read at it), each
      // reply kept so that a bad sum can be explained.
      const bySplit = new Map<string, string[]>();
      for (const k of bank.keys) bySplit.set(bank.splitOf.get(k)!, [...(bySplit.get(bank.splitOf.get(k)!) ?? []), k]);
      // Wrapped, so that awaiting the set-up does not wait for the loop itself.
      return {
        loop: (async () => {
          while (auditing) {
            try {
              let ts: number | undefined;
              const seen: Array<{ split: string; ts: number; values: Array<{ key: string; value?: unknown; ts?: number }> }> = [];
              for (const [split, keys] of bySplit) {
                const r = await c.bus.request(node.id, 'kv.snapshot', { keys, waitMs: 1_000, ...(ts === undefined ? { maxStalenessUs: 10_000_000 } : { ts }) }, { group: split, timeoutMs: 2_000 });
                const body = r.body as MessageBody<'kv.values'>;
                ts = body.ts;
                seen.push({ split, ts: body.ts ?? 0, values: body.values });
              }
              stats.ok++;
              const sum = seen.reduce((a, x) => a + x.values.reduce((b, v) => b + Number(v.value), 0), 0);
              // Below the set-up's commit (bounded staleness may read there) no account exists yet: all or nothing.
              const before = ts! < bank.setupTs && seen.every((x) => x.values.every((v) => v.value === undefined));
              if (before) stats.beforeSetup++;
              else if (sum !== bank.total) {
                stats.bad++;
                badAuditDetails.push(`${node.id} sum ${sum} at ${ts}: ${seen.map((x) => `${x.split}@${x.ts} ${x.values.map((v) => `${v.key}=${String(v.value)}@${v.ts}`).join(' ')}`).join(' | ')}`);
              }
            } catch {
              stats.failed++;
            }
            await sleep(30);
          }
        })(),
      };
    }),
  );
  bank.start();
  return {
    bank,
    client,
    txns,
    followerAudits,
    badAuditDetails,
    async stop() {
      auditing = false;
      await Promise.all([bank.stop(), ...loops.map((l) => l.loop)]);
    },
  };
}

/** Locks and prepared transactions over every replica of every split; `down` lists nodes that did not answer. */
async function twoPhaseLeftovers(tc: TestCluster): Promise<{ locks: number; prepared: number; down: string[]; detail: string }> {
  const rows = await collectStatus(tc.buses[0]!, tc.cluster.rangeMap.nodes());
  let locks = 0;
  let prepared = 0;
  const detail: string[] = [];
  for (const r of rows)
    for (const g of r.status?.groups ?? []) {
      locks += g.locksHeld ?? 0;
      prepared += g.prepared ?? 0;
      if ((g.locksHeld ?? 0) > 0 || (g.prepared ?? 0) > 0) detail.push(`${r.node}/${g.id}${g.isLeader ? '*' : ''}: locks ${g.locksHeld} prepared ${g.prepared}`);
    }
  return { locks, prepared, down: rows.filter((r) => !r.status).map((r) => r.node), detail: detail.join(', ') || 'none' };
}

/** Waits (bounded by ABORT_BOUND_MS from `fromMs`) until the workload has stopped and no replica holds locks or prepared transactions; returns ms since `fromMs`. */
async function quietWithinBound(tc: TestCluster, w: Workload, fromMs: number): Promise<number> {
  let stopped = false;
  const stopping = w.stop().then(() => (stopped = true));
  let last = '';
  await waitFor(
    `no locks or prepared transactions anywhere within ${ABORT_BOUND_MS} ms`,
    Math.max(0, fromMs + ABORT_BOUND_MS - Date.now()),
    async () => {
      const s = await twoPhaseLeftovers(tc);
      trace(`quiet? ${s.detail} down ${s.down.join(',')} stopped ${stopped} inFlight ${w.bank.inFlight}`);
      last = `workload ${stopped ? 'stopped' : `still finishing (${w.bank.inFlight} transfers)`}; leftovers: ${s.detail}; down: ${s.down.join(',') || 'none'}`;
      return stopped && s.down.length === 0 && s.locks === 0 && s.prepared === 0 ? true : undefined;
    },
    { everyMs: 200, failIf: anyExited(tc) },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last: ${last}`);
  });
  await stopping;
  return Date.now() - fromMs;
}

/** Checks money and the journal after the workload stopped; returns a summary line. */
async function checkBank(w: Workload, faultedDc: string): Promise<string> {
  const { bank } = w;
  const final = await bank.audit();
  expect(final.sum, 'the final strong audit').toBe(bank.total);
  expect(bank.stats.audits, 'strong audits ran').toBeGreaterThan(0);
  expect(bank.stats.badAudits, `strong audits that did not sum to ${bank.total}`).toBe(0);
  for (const [dc, s] of Object.entries(w.followerAudits)) {
    if (s.bad > 0) {
      // Which acknowledged transfers the bad snapshots saw half of.
      const explain = w.badAuditDetails.map((d) => {
        const at = Number(/ at (\d+):/.exec(d)?.[1]);
        const near = bank.acknowledged.filter((t) => Math.abs(t.ts - at) < 2_000_000).map((t) => `${t.txnId} ${t.from}->${t.to} ${t.amount} @${t.ts}${t.crossSplit ? ' (2PC)' : ''}`);
        return `${d}\n    acknowledged within 2 s of it: ${near.join('; ')}`;
      });
      console.log(`[bank-cross-split] bad follower audits:\n  ${explain.join('\n  ')}`);
    }
    expect(s.bad, `bounded-staleness audits in ${dc} that did not sum to ${bank.total}`).toBe(0);
    if (dc !== faultedDc) expect(s.ok, `audits served in ${dc}`).toBeGreaterThan(0);
  }
  const lost = await bank.lostTransfers();
  expect(lost, 'acknowledged transfers missing from the journal').toEqual([]);
  expect(bank.stats.crossSplit, 'transfers that crossed splits').toBeGreaterThan(0);
  return (
    `${bank.stats.transfers} acknowledged transfers (${bank.stats.crossSplit} across splits), all journaled; ` +
    `${bank.stats.audits} strong audits, follower audits ${JSON.stringify(w.followerAudits)}; retries ${bank.stats.retries}, failed ${bank.stats.failed}` +
    `${bank.stats.lastError ? ` (last: ${bank.stats.lastError.slice(0, 160)})` : ''}`
  );
}

it('(a) the coordinator leader is SIGKILLed with a prepare logged and no commit record, then restarted', async () => {
  const tc = cluster();
  const control = tc.buses[0]!;
  const nodes = tc.cluster.rangeMap.nodes();
  const t0 = Date.now();
  const { leaders, steps } = await leadFromDistinctDcs(tc, { say: trace });
  trace(`leaders ${describeLeaders(tc, leaders)}`);
  const steeredMs = Date.now() - t0;
  // The first split coordinates every transfer that writes it (coordinator = first split written).
  const coordSplit = tc.cluster.rangeMap.all()[0]!.id;
  const victimIdx = leaders[coordSplit]!;
  const victim = nodes[victimIdx]!;

  let observed: { txnId: string; participant: string; atMs: number } | undefined;
  let armed = false;
  let killedAt = 0;
  let atKill: { inFlight: number; withPrepare: number; bankInFlight: number } | undefined;
  const w = await startWorkload(tc, 'bank-a/', (txnId, t, split) => {
    // The moment: a participant's prepare is logged (its kv.prepared reply is here, its vote left
    // with it) and the coordinator has no commit record (its vote arrives VOTE_DELAY_MS later).
    if (!armed || observed || t.coordinator !== coordSplit || t.commitAnswered) return;
    observed = { txnId, participant: split, atMs: Date.now() - t0 };
    tc.cluster.nodes[victimIdx]!.proc.kill('SIGKILL');
    killedAt = Date.now();
    const flying = inFlight(w.txns);
    atKill = { inFlight: flying.length, withPrepare: flying.filter((x) => x.prepared.size > 0).length, bankInFlight: w.bank.inFlight };
  });
  trace('(a) workload started');
  await sleep(1_500);
  trace(`(a) healthy: ${w.bank.stats.transfers} transfers (${w.bank.stats.crossSplit} cross-split)`);
  expect(w.bank.stats.crossSplit, 'cross-split transfers commit while healthy').toBeGreaterThan(0);

  // Widen the window: everything into the coordinator leader's DC arrives VOTE_DELAY_MS late.
  const slow = chaos.latency(control.chaos, '*', victim.dc, VOTE_DELAY_MS);
  await control.publishChaos(slow);
  await sleep(300); // every process has the picture
  armed = true;
  await waitFor('a transaction prepared at a participant of the coordinator split', 15_000, () => (observed ? true : undefined), { everyMs: 5 });
  trace(`(a) killed ${victim.id}: ${JSON.stringify(observed)} ${JSON.stringify(atKill)}`);
  const acknowledgedAtKill = w.bank.acknowledged.length;
  // Right after the kill: the participant split shows the prepared transaction.
  const participantPrepared = await waitFor('the participant to show its prepared transaction', 3_000, async () => {
    const rows = await collectStatus(control, nodes.filter((n) => n.id !== victim.id));
    const n = Math.max(0, ...rows.flatMap((r) => r.status?.groups.filter((g) => g.id === observed!.participant).map((g) => g.prepared ?? 0) ?? []));
    return n > 0 ? n : undefined;
  });
  await tc.cluster.nodes[victimIdx]!.exited;
  trace(`(a) exited; participant shows ${participantPrepared} prepared`);

  // Failover: a transfer that writes the coordinator split commits after the kill.
  let failoverMs = -1;
  await waitFor('a transfer through the coordinator split after the kill', 15_000, () => {
    const t = w.bank.acknowledged.slice(acknowledgedAtKill).find((x) => x.ts > killedAt * 1000 && w.bank.splitOf.get(x.from) === coordSplit);
    if (t) failoverMs = Date.now() - killedAt;
    return t ? true : undefined;
  });
  trace(`(a) failover ${failoverMs} ms`);
  await sleep(Math.max(0, 2_000 - (Date.now() - killedAt)));
  tc.cluster.nodes[victimIdx] = tc.cluster.spawnNode(victimIdx);
  await tc.cluster.nodes[victimIdx]!.waitReady(30_000);
  await control.publishChaos(chaos.heal(control.chaos));
  const recoveredAt = Date.now();
  trace('(a) restarted and healed');
  const quietMs = await quietWithinBound(tc, w, recoveredAt);
  trace(`(a) quiet after ${quietMs} ms`);
  const summary = await checkBank(w, victim.dc);

  // The observed transaction had no commit record: its coordinator and its participant decided it aborted.
  const atCoord = await w.client.txnStatus(tc.cluster.rangeMap.split(coordSplit)!, observed!.txnId);
  const atPart = await w.client.txnStatus(tc.cluster.rangeMap.split(observed!.participant)!, observed!.txnId);
  expect(atCoord.state, `${observed!.txnId} at ${coordSplit}`).toBe('aborted');
  expect(atPart.state, `${observed!.txnId} at ${observed!.participant}`).toBe('aborted');
  expect(anyExited(tc)()).toBeUndefined();
  console.log(
    `[bank-cross-split a] leaders ${describeLeaders(tc, leaders)} (steered in ${steeredMs} ms: ${steps.join(' -> ')}); coordinator split ${coordSplit} led by ${victim.id} in ${victim.dc}\n` +
      `[bank-cross-split a] ${VOTE_DELAY_MS} ms latency into ${victim.dc}; SIGKILL ${victim.id} at +${observed!.atMs} ms when ${observed!.txnId} was prepared at ${observed!.participant} (status there: ${participantPrepared} prepared) with no commit record at ${coordSplit}\n` +
      `[bank-cross-split a] in flight at the kill: ${atKill!.inFlight} cross-split transactions with an unanswered commit (${atKill!.withPrepare} with a participant prepared), ${atKill!.bankInFlight} transfers in progress\n` +
      `[bank-cross-split a] failover of ${coordSplit}: ${failoverMs} ms; restarted and healed ${recoveredAt - killedAt} ms after the kill; no locks or prepared transactions anywhere ${quietMs} ms later (bound ${ABORT_BOUND_MS} ms)\n` +
      `[bank-cross-split a] ${observed!.txnId}: ${atCoord.state} at ${coordSplit}${atCoord.reason ? ` (${atCoord.reason})` : ''}, ${atPart.state} at ${observed!.participant}${atPart.reason ? ` (${atPart.reason})` : ''}\n` +
      `[bank-cross-split a] ${summary}`,
  );
}, 120_000);

it('(b) a participant leader\'s DC is partitioned and healed', async () => {
  const tc = cluster();
  const control = tc.buses[0]!;
  const nodes = tc.cluster.rangeMap.nodes();
  const t0 = Date.now();
  const { leaders, steps } = await leadFromDistinctDcs(tc, { say: trace });
  trace(`leaders ${describeLeaders(tc, leaders)}`);
  const steeredMs = Date.now() - t0;
  const [coordSplit, partSplit] = tc.cluster.rangeMap.all().map((s) => s.id);
  const cut = nodes[leaders[partSplit!]!]!;
  const w = await startWorkload(tc, 'bank-b/');
  trace('(b) workload started');
  await sleep(1_500);
  trace(`(b) healthy: ${w.bank.stats.transfers} transfers (${w.bank.stats.crossSplit} cross-split)`);
  expect(w.bank.stats.crossSplit, 'cross-split transfers commit while healthy').toBeGreaterThan(0);

  const state = chaos.partition(control.chaos, [cut.dc], ['*']);
  await control.publishChaos(state);
  const partitionedAt = Date.now();
  const flying = inFlight(w.txns);
  const atCut = { inFlight: flying.length, withPrepare: flying.filter((x) => x.prepared.size > 0).length, throughCut: flying.filter((x) => x.coordinator === partSplit || x.participants.includes(partSplit!)).length, bankInFlight: w.bank.inFlight };
  const transfersAtCut = w.bank.stats.transfers;
  await sleep(PARTITION_MS);
  const duringCut = w.bank.stats.transfers - transfersAtCut;
  const leftoversAtHeal = await twoPhaseLeftovers(tc);
  await control.publishChaos(chaos.heal(state));
  const healedAt = Date.now();
  trace(`(b) healed; ${duringCut} transfers during the cut; leftovers at heal ${leftoversAtHeal.detail}`);
  const quietMs = await quietWithinBound(tc, w, healedAt);
  trace(`(b) quiet after ${quietMs} ms`);
  const summary = await checkBank(w, cut.dc);
  expect(anyExited(tc)()).toBeUndefined();
  console.log(
    `[bank-cross-split b] leaders ${describeLeaders(tc, leaders)} (steered in ${steeredMs} ms: ${steps.join(' -> ')}); coordinator of most transfers ${coordSplit}; participant split ${partSplit} led by ${cut.id} in ${cut.dc}\n` +
      `[bank-cross-split b] partitioned ${cut.dc} for ${healedAt - partitionedAt} ms; in flight at the cut: ${atCut.inFlight} cross-split transactions with an unanswered commit (${atCut.withPrepare} with a participant prepared, ${atCut.throughCut} touching ${partSplit}), ${atCut.bankInFlight} transfers in progress; ${duringCut} transfers acknowledged during the cut\n` +
      `[bank-cross-split b] at the heal: ${leftoversAtHeal.locks} locks, ${leftoversAtHeal.prepared} prepared (${leftoversAtHeal.detail}); none anywhere ${quietMs} ms after the heal (bound ${ABORT_BOUND_MS} ms)\n` +
      `[bank-cross-split b] ${summary}`,
  );
}, 120_000);
