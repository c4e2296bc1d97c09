/**
 * Steering split leaderships onto different DCs (there is no leadership-transfer command).
 *
 * A partition cannot do it: a DC cut off from the others loses every split it leads (its
 * leaderships all stop hearing a quorum after one election timeout, and its own campaigns come
 * last after the heal), so after any cut-and-heal the DC that was cut leads nothing, and with
 * three splits over three DCs "one each" is never reached (tried: 12 nudges, never).
 *
 * Loss on what a DC sends does: each split's heartbeats are lost independently, so each of its
 * leaderships lapses at its own random moment (when no ack came back for an election timeout).
 * A nudge takes the DC leading the most splits (X) and the DC leading none (Z): X's messages to
 * Z are all dropped and NUDGE_LOSS of those to the third DC (Y). Z hears nothing from X, so its
 * election timers run out first and it campaigns early; Y still hears X now and then and refuses
 * Z's pre-votes until X has let that split's leadership lapse, then Z usually wins it. The nudge
 * ends (links restored) as soon as the first of X's splits has a new leader. Usually one split
 * moves, to Z; sometimes two, or to Y: then the next nudge starts from there. Every nudge and the
 * whole loop are bounded.
 */
import type { MessageBody } from '@synod/codec';
import { chaos } from '@synod/transport';
import { agreedLeaderOf, sleep, type TestCluster } from './helpers.js';

/** How long one nudge may keep a DC's links lossy waiting for one of its splits to move. */
const NUDGE_MAX_MS = 8_000;
/** Loss probability on what the nudged DC sends to the third DC. */
const NUDGE_LOSS = 0.85;

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

/** Who leads which split according to the nodes in `dcs` (quick: 300 ms per node, unanswered ones skipped). */
async function leadersSeenFrom(tc: TestCluster, dcs: string[]): Promise<Map<string, string>> {
  const control = tc.buses[0]!;
  const nodes = tc.cluster.rangeMap.nodes().filter((n) => dcs.includes(n.dc));
  const seen = new Map<string, string>();
  await Promise.all(
    nodes.map(async (n) => {
      try {
        const r = await control.request(n.id, 'node.status', {}, { timeoutMs: 300 });
        for (const g of (r.body as MessageBody<'node.status.reply'>).groups) if (g.isLeader) seen.set(g.id, n.dc);
      } catch {
        /* not answering now: ask again */
      }
    }),
  );
  return seen;
}

/**
 * Moves leaderships until every split is led from a different DC (needs at least as many DCs as
 * splits). Returns the leaders and the steps taken; throws after `maxNudges`.
 */
export async function leadFromDistinctDcs(tc: TestCluster, opts: { maxNudges?: number; say?: (s: string) => void } = {}): Promise<{ leaders: Record<string, number>; steps: string[] }> {
  const control = tc.buses[0]!;
  const nodes = tc.cluster.rangeMap.nodes();
  const maxNudges = opts.maxNudges ?? 12;
  let led = await agreedLeaders(tc);
  const steps = [describeLeaders(tc, led)];
  for (let nudge = 0; ; nudge++) {
    const byDc = new Map<string, string[]>();
    for (const [split, i] of Object.entries(led)) byDc.set(nodes[i]!.dc, [...(byDc.get(nodes[i]!.dc) ?? []), split]);
    if ([...byDc.values()].every((s) => s.length === 1)) return { leaders: led, steps };
    if (nudge >= maxNudges) throw new Error(`splits still not led from different DCs after ${maxNudges} nudges: ${steps.join(' -> ')}`);
    const [dc, splits] = [...byDc].sort((a, b) => b[1].length - a[1].length)[0]!;
    const dcs = [...new Set(nodes.map((n) => n.dc))];
    const others = dcs.filter((d) => d !== dc);
    // The DC to win: one that leads nothing (there is one while some DC leads two or more).
    const toward = others.find((d) => !byDc.has(d)) ?? others[0]!;
    let cut = chaos.partition(control.chaos, [dc], [toward], true);
    for (const d of others.filter((x) => x !== toward)) cut = chaos.loss(cut, dc, d, NUDGE_LOSS);
    await control.publishChaos(cut);
    const t0 = Date.now();
    let moved = '';
    while (!moved && Date.now() - t0 < NUDGE_MAX_MS) {
      await sleep(40);
      const seen = await leadersSeenFrom(tc, others);
      moved = splits.find((s) => seen.has(s)) ?? '';
    }
    await control.publishChaos(chaos.heal(cut));
    led = await agreedLeaders(tc);
    steps.push(`${dc}→${toward} cut ${Date.now() - t0} ms (${moved || 'nothing'} moved) -> ${describeLeaders(tc, led)}`);
    opts.say?.(`steering: ${steps.at(-1)}`);
  }
}
