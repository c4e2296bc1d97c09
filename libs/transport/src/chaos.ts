import type { ChaosState, LinkFault } from '@synod/codec';

export const EMPTY_CHAOS: ChaosState = { version: 0, links: [], isolated: [] };

export type Verdict = { deliver: true; delayMs: number } | { deliver: false; why: 'partition' | 'isolated' | 'loss' };
const NOW: Verdict = { deliver: true, delayMs: 0 };

/**
 * Decides the fate of one message crossing the simulated network, from the sender's DC to the
 * receiver's. Pure: randomness comes in as `rand`, so the simulator and tests can replay it.
 */
export function judge(state: ChaosState, from: { node: string; dc: string }, to: { node: string; dc: string }, rand: () => number): Verdict {
  if (state.version === 0) return NOW;
  if (state.isolated.length > 0 && (state.isolated.includes(from.node) || state.isolated.includes(to.node))) {
    // A node talking to itself is not crossing the network.
    if (from.node !== to.node) return { deliver: false, why: 'isolated' };
  }
  const link = faultOnLink(state, from.dc, to.dc);
  if (!link) return NOW;
  if (link.down) return { deliver: false, why: 'partition' };
  if (link.loss > 0 && rand() < link.loss) return { deliver: false, why: 'loss' };
  const delayMs = link.latencyMs + (link.jitterMs > 0 ? rand() * link.jitterMs : 0);
  return delayMs > 0 ? { deliver: true, delayMs } : NOW;
}

/** `*` stands for every other DC, so `partition dc-a` needs no list of DCs. */
export const ANY_DC = '*';
const linkMatches = (l: LinkFault, from: string, to: string) =>
  (l.from === from || (l.from === ANY_DC && from !== to)) && (l.to === to || (l.to === ANY_DC && from !== to));

/** The fault in force on messages from DC `from` to DC `to`: the last link entry that matches, if any. */
export function faultOnLink(state: ChaosState, from: string, to: string): LinkFault | undefined {
  let link: LinkFault | undefined;
  for (const l of state.links) if (linkMatches(l, from, to)) link = l;
  return link;
}

type LinkPatch = Partial<Omit<LinkFault, 'from' | 'to'>>;

/** Sets fields on the link from→to, creating it if needed; returns a new state (same version). */
function patchLink(links: LinkFault[], from: string, to: string, patch: LinkPatch): LinkFault[] {
  const existing = links.find((l) => l.from === from && l.to === to);
  const base: LinkFault = existing ?? { from, to, down: false, latencyMs: 0, jitterMs: 0, loss: 0 };
  return [...links.filter((l) => l !== existing), { ...base, ...patch }];
}

/** Builders for fault pictures; each returns the next version. */
export const chaos = {
  /** Cuts `dcs` off from `others`; `oneWay` cuts only the direction dcs → others. */
  partition(state: ChaosState, dcs: string[], others: string[], oneWay = false): ChaosState {
    let links = state.links;
    for (const a of dcs)
      for (const b of others) {
        if (a === b) continue;
        links = patchLink(links, a, b, { down: true });
        if (!oneWay) links = patchLink(links, b, a, { down: true });
      }
    return { ...state, version: state.version + 1, links };
  },
  /** One-way latency on from → to (use twice for both directions). */
  latency(state: ChaosState, from: string, to: string, latencyMs: number, jitterMs = 0): ChaosState {
    return { ...state, version: state.version + 1, links: patchLink(state.links, from, to, { latencyMs, jitterMs }) };
  },
  loss(state: ChaosState, from: string, to: string, loss: number): ChaosState {
    return { ...state, version: state.version + 1, links: patchLink(state.links, from, to, { loss }) };
  },
  isolate(state: ChaosState, node: string): ChaosState {
    return { ...state, version: state.version + 1, isolated: [...new Set([...state.isolated, node])] };
  },
  heal(state: ChaosState): ChaosState {
    return { version: state.version + 1, links: [], isolated: [] };
  },
};
