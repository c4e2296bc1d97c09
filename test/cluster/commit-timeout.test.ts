/**
 * A commit times out at the client because the leader's DC is cut off mid-commit, and the client
 * still reports the transaction's real outcome (docs/transactions.md, rule 12; the client resends
 * with the same id, then asks `kv.txn-status`).
 *
 * A client in another DC runs `counter += 1` (a locking read at the leader, then a commit). Its
 * bus is wrapped so that the moment the commit is sent, the leader's DC is partitioned from every
 * other DC: the commit's reply cannot come back. The partition is healed (after 1 or 3 s) while the
 * client is still resending or looking the outcome up (it gives up after 20 s), or has
 * already learned it from the majority side. Then:
 *
 * - whatever the client reported is the truth: the counter went up by exactly one, its newest
 *   version is at the reported commit timestamp, and a snapshot just below it still shows the old
 *   value (a retried attempt committing after an earlier one had, too, would show +2; a commit
 *   applied twice would leave a newer version than the reported one);
 * - the first attempt's id (the one whose commit went unanswered) has the outcome the client acted
 *   on: committed at the reported ts if the client returned it (attempts 1), aborted if the client
 *   ran the transaction again; `client.txnStatus` says so, and (in the first round) so does
 *   `synod txn status <id> --key <k>`.
 *   If the client gave up (TIMEOUT naming the id), the lookup after the heal decides, and the
 *   counter must match that.
 *
 * Three rounds, each with a fresh client (request timeout 1.5 s):
 *   1. partition published as the commit leaves the client, 1 resend, heal after 3 s (the leader
 *      may or may not get the commit; its followers most likely never accept it);
 *   2. partition 60 ms later, during commit wait (every node has ε = 150 ms, so commit wait is
 *      ~300 ms: the commit is chosen, only its reply is lost), 1 resend, heal after 3 s;
 *   3. as 2 with no resend, healed after 1 s, while the client is looking the outcome up.
 * Each prints the path taken (resolvedBy, attempts, what the leader says of the first id).
 *
 * Teeth: with the client changed (locally, uncommitted) to take an unanswered commit as aborted
 * and run the transaction again, round 3 fails (the re-run reads 101 and writes 102).
 */
import { expect, it } from 'vitest';
import { SynodClient } from '@synod/client';
import { SynodError, type MessageBody } from '@synod/codec';
import { runSynod } from '../gateway/gateway-process.js';
import type { ProcessResult } from '../run-process.js';
import { chaos, connectBus } from '@synod/transport';
import { agreedLeaderOf, anyExited, sleep, useTestCluster, waitFor } from './helpers.js';

const EPSILON_MS = 150;
const OUTCOME_LOOKUP_MS = 20_000;
const cluster = useTestCluster({ truetime: 'local', epsilonMs: EPSILON_MS });

/** Runs the synod CLI against the test cluster (it finds it through <dir>/cluster.json); bounded by `timeoutMs`. */
function synod(dir: string, args: string[], timeoutMs = 20_000): Promise<ProcessResult> {
  return runSynod([...args, '--data-dir', dir], timeoutMs);
}

let round = 0;
let cliChecked = false;

async function commitThroughPartition({ partitionAfterMs, commitResends, healAfterMs }: { partitionAfterMs: number; commitResends: number; healAfterMs: number }): Promise<string> {
  const tc = cluster();
  round++;
  const nodes = tc.cluster.rangeMap.nodes();
  const key = `counter-${round}`;
  const split = tc.cluster.rangeMap.splitFor(key);
  const leader = nodes[await agreedLeaderOf(tc, split.id)]!;
  const clientDc = nodes.find((n) => n.dc !== leader.dc)!.dc;
  const setup = await tc.client(clientDc, `ctimeout-setup-${round}`);
  await setup.put(key, 100);

  // The client under test: 1.5 s request timeouts, `commitResends` resends, then status lookups for up to 20 s.
  const bus = await connectBus(tc.cluster.info.natsUrl, { nodeId: `ctimeout-client-${round}`, dc: clientDc });
  tc.buses.push(bus);
  const client = new SynodClient(bus, tc.cluster.rangeMap, { timeoutMs: 1_500, commitResends, outcomeLookupMs: OUTCOME_LOOKUP_MS });
  // From the current picture: a state whose version is not above the last one (a heal) is ignored.
  const partitioned = chaos.partition(tc.buses[0]!.chaos, [leader.dc], ['*']);
  let firstCommit: { txnId: string; to: string; atMs: number } | undefined;
  let partitionedAtMs = -1;
  let clientDone = false;
  const sends: string[] = [];
  const t0 = performance.now();
  const ms = () => Math.round(performance.now() - t0);
  // The moment the first commit is on its way, cut the leader's DC off (after partitionAfterMs).
  const request = bus.request.bind(bus);
  bus.request = ((to, kind, body, opts) => {
    const p = request(to, kind, body, opts);
    if (kind === 'kv.commit' || kind === 'kv.txn-status') sends.push(`+${ms()}ms ${kind} ${(body as { txn?: { id: string }; txnId?: string }).txn?.id ?? (body as { txnId?: string }).txnId} -> ${to}`);
    if (kind === 'kv.commit' && !firstCommit) {
      firstCommit = { txnId: (body as MessageBody<'kv.commit'>).txn.id, to, atMs: ms() };
      const cut = () => tc.buses[0]!.publishChaos(partitioned).then(() => (partitionedAtMs = ms()));
      if (partitionAfterMs === 0) void cut();
      else setTimeout(() => void cut(), partitionAfterMs);
    }
    return p;
  }) as typeof bus.request;

  const txn = client
    .transaction(async (tx) => {
      const v = (await tx.get(key)) as number;
      tx.put(key, v + 1);
      return v;
    })
    .then(
      (r) => ({ ok: true as const, r, atMs: ms() }),
      (err: unknown) => ({ ok: false as const, err, atMs: ms() }),
    )
    .finally(() => (clientDone = true));
  // Heal after healAfterMs, while the client is still at it (or has already learned the outcome).
  await waitFor('the commit to be sent and the partition published', 10_000, () => (partitionedAtMs >= 0 ? true : undefined), {
    everyMs: 10,
    failIf: () => anyExited(tc)() ?? (clientDone && !firstCommit ? 'the transaction ended without sending a commit' : undefined),
  });
  await sleep(healAfterMs);
  const stillResolving = !clientDone;
  await tc.buses[0]!.publishChaos(chaos.heal(partitioned));
  const healedAtMs = ms();
  const settled = await txn;
  const doneAtMs = ms();
  expect(firstCommit, 'the transaction sent a commit').toBeDefined();
  const first = firstCommit!;
  expect(first.to, 'the first commit went to the leader whose DC was cut off').toBe(leader.id);

  // The truth, read after the heal from the split's leader.
  const truthFirst = await client.txnStatus(key, first.txnId);
  const strong = await client.call(split, 'kv.snapshot', { keys: [key], waitMs: 2_000 }, 'leader');
  const newest = strong.values[0]!;
  let reported: string;
  let path: string;
  if (settled.ok) {
    const r = settled.r;
    reported = `committed at ${r.ts}`;
    path = `resolvedBy ${r.resolvedBy}, attempts ${r.attempts}, txnId ${r.txnId}, commit wait ${Math.round(r.commitWaitUs / 1000)} ms`;
    // The scenario happened: the first commit got no answer of its own.
    expect(r.resolvedBy !== 'reply' || r.attempts > 1, `the first commit went unanswered (partition ${partitionedAtMs - first.atMs} ms after it was sent; ${path})`).toBe(true);
    // Exactly once: +1, newest version at the reported ts, the old value just below it.
    expect(newest.value, `counter after ${path}`).toBe(101);
    expect(r.result, 'the transaction read the value before it').toBe(100);
    expect(newest.ts, 'the newest version is the reported commit').toBe(r.ts);
    const below = await client.read([key], { ts: r.ts - 1 });
    expect(below.values.get(key), 'just below the commit: the old value').toBe(100);
    // What the client acted on for the unanswered id is what the leader decided.
    if (r.attempts === 1) {
      expect(r.txnId).toBe(first.txnId);
      expect(truthFirst).toMatchObject({ state: 'committed', ts: r.ts });
    } else {
      expect(truthFirst.state, `attempt 1 (${first.txnId}) was retried, so it must be aborted`).toBe('aborted');
      expect(await client.txnStatus(key, r.txnId)).toMatchObject({ state: 'committed', ts: r.ts });
    }
  } else {
    // The client gave up: TIMEOUT naming the id. The lookup after the heal decides.
    const err = settled.err;
    expect(err, String(err)).toBeInstanceOf(SynodError);
    expect((err as SynodError).code, String(err)).toBe('TIMEOUT');
    const named = String((err as SynodError).hint?.txn);
    expect(named.replace(/\.\d+$/, '')).toBe(first.txnId.replace(/\.\d+$/, ''));
    const truth = await client.txnStatus(key, named);
    reported = `unknown (TIMEOUT for ${named}); looked up after the heal: ${truth.state}${truth.ts ? ` at ${truth.ts}` : ''}`;
    path = `gave up after ${OUTCOME_LOOKUP_MS} ms of lookups`;
    if (truth.state === 'committed') {
      expect(newest.value).toBe(101);
      expect(newest.ts).toBe(truth.ts);
    } else {
      expect(truth.state).toBe('aborted');
      expect(newest.value).toBe(100);
    }
  }
  const truthLine = truthFirst.state === 'committed' ? `committed at ${truthFirst.ts}` : `${truthFirst.state}${truthFirst.reason ? `: ${truthFirst.reason}` : ''}`;

  // Once: the CLI says the same about the unanswered id.
  let cliLine = '';
  if (!cliChecked) {
    cliChecked = true;
    const cli = await synod(tc.dir, ['txn', 'status', first.txnId, '--key', key, '--dc', clientDc]);
    cliLine = cli.out.trim();
    expect(cli.code, `synod txn status: ${cli.err}`).toBe(0);
    if (truthFirst.state === 'committed') expect(cliLine).toBe(`committed at ${truthFirst.ts}`);
    else expect(cliLine).toMatch(/^aborted/);
  }
  expect(anyExited(tc)()).toBeUndefined();
  const line =
    `[commit-timeout] round ${round} (partition ${partitionAfterMs} ms after the commit is sent, commitResends ${commitResends}, heal after ${healAfterMs} ms): leader ${leader.id} in ${leader.dc}, client in ${clientDc}; ` +
    `commit ${first.txnId} sent at +${first.atMs}ms to ${first.to}, ${leader.dc} cut off at +${partitionedAtMs}ms, healed at +${healedAtMs}ms (client ${stillResolving ? 'still resolving' : 'already done'}), client done at +${settled.atMs}ms (awaited at +${doneAtMs}ms)\n` +
    `[commit-timeout]   client reported: ${reported} (${path}); leader says of ${first.txnId}: ${truthLine}; counter ${String(newest.value)} @ ${newest.ts}` +
    (cliLine ? `; synod txn status ${first.txnId} --key ${key}: "${cliLine}"` : '') +
    `\n[commit-timeout]   sends: ${sends.join(' | ')}`;
  console.log(line);
  return line;
}

it('a commit cut off as it is sent: the client reports the real outcome after the heal', async () => {
  await commitThroughPartition({ partitionAfterMs: 0, commitResends: 1, healAfterMs: 3_000 });
}, 40_000);

it('a commit cut off during commit wait: the client reports the real outcome after the heal', async () => {
  await commitThroughPartition({ partitionAfterMs: 60, commitResends: 1, healAfterMs: 3_000 });
}, 40_000);

it('a commit cut off during commit wait, no resend, healed while the client looks the outcome up', async () => {
  await commitThroughPartition({ partitionAfterMs: 60, commitResends: 0, healAfterMs: 1_000 });
}, 40_000);
