import { SynodError, type SplitEntryInput } from '@synod/codec';
import { RangeMap } from '@synod/placement';

export const DC_NAMES = ['dc-a', 'dc-b', 'dc-c', 'dc-d', 'dc-e'];
export const MAX_NODES_PER_DC = 5;

/** The content of the placement.json `synod up` writes: what the spanservers and the placement service start from. */
export interface InitialMap {
  generation: number;
  nodes: Array<{ id: string; dc: string }>;
  splits: Array<SplitEntryInput & { leaderDc: string }>;
}

/**
 * The first range map of a `synod up` cluster (docs/cli.md): `dcs × nodesPerDc` spanservers n1…,
 * DCs assigned round-robin (so n1, n2, n3 are dc-a, dc-b, dc-c as with one node per DC); the key
 * space cut at `splitKeys`; each split with one replica per DC, split i on the DC's
 * (i mod nodesPerDc)-th node so the splits spread over every node; and a preferred leader DC,
 * again round-robin, so leaders spread over the DCs.
 */
export function initialPlacement(dcCount: number, nodesPerDc: number, splitKeys: string[]): InitialMap {
  if (!Number.isInteger(dcCount) || dcCount < 1 || dcCount > DC_NAMES.length) throw new SynodError('INVALID_ARGUMENT', `--dcs must be 1..${DC_NAMES.length}`);
  if (!Number.isInteger(nodesPerDc) || nodesPerDc < 1 || nodesPerDc > MAX_NODES_PER_DC) throw new SynodError('INVALID_ARGUMENT', `--nodes-per-dc must be 1..${MAX_NODES_PER_DC}`);
  const dcs = DC_NAMES.slice(0, dcCount);
  const nodes = Array.from({ length: dcCount * nodesPerDc }, (_, i) => ({ id: `n${i + 1}`, dc: dcs[i % dcCount]! }));
  const byDc = dcs.map((dc) => nodes.filter((n) => n.dc === dc));
  const bounds = ['', ...splitKeys, ''];
  const map: InitialMap = {
    generation: 1,
    nodes,
    splits: Array.from({ length: splitKeys.length + 1 }, (_, i) => ({
      id: `s${i + 1}`,
      start: bounds[i]!,
      end: bounds[i + 1]!,
      replicas: byDc.map((inDc) => inDc[i % nodesPerDc]!.id),
      learners: [],
      leaderDc: dcs[i % dcCount]!,
      generation: 1,
    })),
  };
  // The range map's own rules (ordered, contiguous cut keys, known nodes): a bad --split-keys is refused here.
  const checked = RangeMap.safeParse(map);
  if (!checked.ok) throw new SynodError('INVALID_ARGUMENT', `--split-keys ${JSON.stringify(splitKeys.join(','))}: ${checked.error}`);
  return map;
}
