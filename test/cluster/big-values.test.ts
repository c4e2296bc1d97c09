/**
 * Issue "fail-safe replication" must-show: 1 MiB values written while a follower DC is
 * partitioned, until the follower's backlog is several times the NATS max payload; heal; every
 * process stays up and the follower catches up.
 *
 * Real processes (three spanservers, three time masters) over a real nats-server. Timings are
 * printed, never asserted; every wait is bounded.
 */
import { expect, it } from 'vitest';
import { SynodError, type MessageBody } from '@synod/codec';
import { MAX_VALUE_BYTES, NATS_MAX_PAYLOAD_BYTES } from '@synod/limits';
import { ANY_DC, EMPTY_CHAOS, chaos } from '@synod/transport';
import { anyExited, exitedProcesses, groupStatus, sleep, useTestCluster, waitFor } from './helpers.js';

/** Each value is just under the 1 MiB maximum (its encoded size is MAX_VALUE_BYTES - 59). */
const VALUE_CHARS = MAX_VALUE_BYTES - 64;
/** Enough values that the follower's backlog is at least 3× the NATS max payload (and then some). */
const COUNT = Math.ceil((3 * NATS_MAX_PAYLOAD_BYTES) / VALUE_CHARS) + 6;
const WRITE_BOUND_MS = 90_000;
const CATCH_UP_BOUND_MS = 60_000;

const key = (i: number) => `big/${String(i).padStart(3, '0')}`;
/** Distinct per index, so a stale or mixed-up value is noticed. */
const value = (i: number) => `value ${i} `.padEnd(VALUE_CHARS, String.fromCharCode(97 + (i % 26)));

const cluster = useTestCluster();

it(`${COUNT} values of 1 MiB while a follower DC is partitioned: every process stays up and the follower catches up`, async () => {
  const tc = cluster();
  const control = tc.buses[0]!;
  const nodes = tc.cluster.rangeMap.nodes();
  const split = tc.cluster.rangeMap.splitFor(key(0));
  expect(tc.cluster.rangeMap.splitFor(key(COUNT - 1)).id).toBe(split.id);
  const leaderIdx = await tc.leaderOf(split.id);
  const leader = nodes[leaderIdx]!;
  const follower = nodes[(leaderIdx + 1) % nodes.length]!;
  const writer = await tc.client(leader.dc, 'big-writer');
  expect(exitedProcesses(tc)).toEqual([]);

  const before = (await groupStatus(tc, split.id)).find((r) => r.node === follower.id)!.group!;
  const partitioned = chaos.partition(EMPTY_CHAOS, [follower.dc], [ANY_DC]);
  await control.publishChaos(partitioned);
  await sleep(500);

  // Write the values one after another; a commit whose outcome is unknown (TIMEOUT, UNAVAILABLE)
  // is retried with the same value, any other error fails the test.
  const t0 = Date.now();
  let lastTs = 0;
  let retried = 0;
  for (let i = 0; i < COUNT; ) {
    if (Date.now() - t0 > WRITE_BOUND_MS) throw new Error(`only ${i} of ${COUNT} values written within ${WRITE_BOUND_MS} ms (${retried} retries)`);
    try {
      lastTs = await writer.put(key(i), value(i));
      i++;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== 'TIMEOUT' && code !== 'UNAVAILABLE') {
        const down = exitedProcesses(tc);
        throw new Error(`put of value ${i} (${VALUE_CHARS} chars) failed: ${code ?? ''} ${(err as Error).message}; processes exited: ${JSON.stringify(down)}`);
      }
      retried++;
    }
  }
  const writeMs = Date.now() - t0;
  const backlogBytes = COUNT * VALUE_CHARS;
  expect(backlogBytes).toBeGreaterThanOrEqual(3 * NATS_MAX_PAYLOAD_BYTES);
  expect(exitedProcesses(tc)).toEqual([]);

  const atHeal = (await groupStatus(tc, split.id)).find((r) => r.node === leader.id)!.group!;
  await control.publishChaos(chaos.heal(partitioned));
  const healedAt = Date.now();

  // The follower's applied index reaches the leader's (as of the heal: the leader keeps adding
  // closed-timestamp entries while idle) …
  const caughtUp = await waitFor(
    `${follower.id} to apply up to ${atHeal.appliedUpTo} (the leader's applied index at the heal)`,
    CATCH_UP_BOUND_MS,
    async () => {
      const g = (await groupStatus(tc, split.id)).find((r) => r.node === follower.id)?.group;
      return g && g.appliedUpTo >= atHeal.appliedUpTo ? g : undefined;
    },
    { failIf: anyExited(tc) },
  );
  const catchUpMs = Date.now() - healedAt;

  // … and a read served by the follower's DC, at the last write's timestamp, returns the last value.
  // A follower whose TrueTime is resyncing after the partition answers UNAVAILABLE (its clock is
  // not within bounds): fail-safe, so retried, bounded.
  const readAt = async (k: string) => {
    for (const until = Date.now() + 15_000; ; ) {
      try {
        const reply = await control.request(follower.id, 'kv.snapshot', { keys: [k], ts: lastTs, waitMs: 2_000 }, { group: split.id, timeoutMs: 10_000 });
        return (reply.body as MessageBody<'kv.values'>).values[0]?.value;
      } catch (err) {
        if (!(err instanceof SynodError && err.code === 'UNAVAILABLE') || Date.now() > until) throw err;
        await sleep(200);
      }
    }
  };
  expect(await readAt(key(COUNT - 1))).toBe(value(COUNT - 1));
  expect(await readAt(key(0))).toBe(value(0));
  const local = await tc.client(follower.dc, 'big-local-reader');
  const viaClient = await local.read([key(COUNT - 1)], { ts: lastTs });
  expect(viaClient.values.get(key(COUNT - 1))).toBe(value(COUNT - 1));

  // Every process is still running, and every spanserver answers its status.
  expect(exitedProcesses(tc)).toEqual([]);
  const final = await groupStatus(tc, split.id);
  expect(final.filter((r) => !r.group).map((r) => `${r.node}: ${r.error ?? 'no group'}`)).toEqual([]);
  const after = final.find((r) => r.node === leader.id)!.group!;
  console.log(
    `big values: ${COUNT} values of ${VALUE_CHARS} chars (${(backlogBytes / 2 ** 20).toFixed(0)} MiB backlog, ${(backlogBytes / NATS_MAX_PAYLOAD_BYTES).toFixed(1)}× the NATS max payload) ` +
      `written in ${writeMs} ms (${retried} retries) with ${follower.id} (${follower.dc}) partitioned; follower applied ${before.appliedUpTo} → ${caughtUp.appliedUpTo} ` +
      `(leader ${leader.id}: ${atHeal.appliedUpTo} at heal, ${after.appliedUpTo} now) ${catchUpMs} ms after the heal; every process up`,
  );
}, 180_000);
