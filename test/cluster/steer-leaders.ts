/**
 * Steering split leaderships onto different DCs with the Paxos core's leader transfer
 * (`split.transfer` to a split's leader, docs/paxos.md "Learners and leader transfer"): the
 * leader waits for the target to hold every slot, drains its lease and hands over. Partitions
 * and lossy links used to do this, by making leaderships lapse at random; under load that often
 * took more than 12 nudges.
 */
import type { MessageBody } from '@synod/codec';
import { agreedLeaderOf, sleep, type TestCluster } from './helpers.js';

/** The node index leading each split, as every node agrees. */
export async function agreedLeaders(tc: TestCluster, timeoutMs = 15_000): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const s of tc.cluster.rangeMap.all()) out[s.id] = await agreedLeaderOf(tc, s.id, timeoutMs);
  return out;
}

/** `s1@dc-a s2@dc-b …` */
export function describeLeaders(tc: TestCluster, led: Record<string, number>): string {
  const nodes = tc.cluster.rangeMap.nodes();
  return Object.entries(led)
    .map(([s, i]) => `${s}@${nodes[i]!.dc}`)
    .join(' ');
}

/**
 * Moves leaderships until every split is led from a different DC (needs at least as many DCs as
 * splits). Returns the leaders and the steps taken; throws after `maxMoves` transfers.
 */
export async function leadFromDistinctDcs(tc: TestCluster, opts: { maxMoves?: number; say?: (s: string) => void } = {}): Promise<{ leaders: Record<string, number>; steps: string[] }> {
  const control = tc.buses[0]!;
  const nodes = tc.cluster.rangeMap.nodes();
  const maxMoves = opts.maxMoves ?? 12;
  let led = await agreedLeaders(tc);
  const steps = [describeLeaders(tc, led)];
  for (let move = 0; ; move++) {
    const byDc = new Map<string, string[]>();
    for (const [split, i] of Object.entries(led)) byDc.set(nodes[i]!.dc, [...(byDc.get(nodes[i]!.dc) ?? []), split]);
    if ([...byDc.values()].every((s) => s.length === 1)) return { leaders: led, steps };
    if (move >= maxMoves) throw new Error(`splits still not led from different DCs after ${maxMoves} transfers: ${steps.join(' -> ')}`);
    const [dc, splits] = [...byDc].sort((a, b) => b[1].length - a[1].length)[0]!;
    const toward = [...new Set(nodes.map((n) => n.dc))].find((d) => !byDc.has(d))!;
    const split = splits[0]!;
    const replicas = tc.cluster.rangeMap.split(split)!.replicas;
    const to = nodes.find((n) => n.dc === toward && replicas.includes(n.id))!.id;
    const t0 = Date.now();
    let outcome = 'moved';
    try {
      await control.request(nodes[led[split]!]!.id, 'split.transfer', { to }, { group: split, timeoutMs: 8_000 });
    } catch (err) {
      outcome = `not moved: ${(err as Error).message}`;
    }
    led = await agreedLeaders(tc);
    steps.push(`${split} ${dc}→${toward} by leader transfer to ${to} in ${Date.now() - t0} ms (${outcome}) -> ${describeLeaders(tc, led)}`);
    opts.say?.(`steering: ${steps.at(-1)}`);
  }
}
