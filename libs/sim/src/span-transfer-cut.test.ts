import { describe, expect, it } from 'vitest';
import type { BrokenForTesting } from '@synod/paxos';
import { ScriptedClient } from './span/scripted.js';
import { buildSpanWorld, finishSpanWorld, type SpanResult } from './span/simulation.js';

/**
 * A leader transfer racing a DC cut (docs/paxos.md "Learners and leader transfer"; the placement
 * defect seen in a CI run: placement kept moving a split's leadership into a DC that had just
 * been cut off, and every attempt stopped the split's commits until the transfer's deadline).
 *
 * n-b leads s0; a writer in dc-b commits there one write after another. At CUT dc-a is cut off
 * from the other DCs; 20 ms later, and again every second, s0's leader is asked to hand over to
 * n-a, as a placement op would retry it. The first request comes while n-a was heard from within
 * an election timeout (150 ms), so it starts, and must give up once n-a has been silent that long
 * instead of at its deadline (a lease plus an election timeout, 750 ms); the later ones must be
 * refused at once. The majority side (dc-b, dc-c) then never stops committing for long.
 */
const CUT = 2_500_000;
const END = 6_500_000;

interface Outcome {
  res: SpanResult;
  statuses: string[];
  commits: number;
  /** Longest time between two commits acknowledged to the writer, from the cut to the end. */
  longestGapUs: number;
}

function transferIntoCutDc(paxosBroken?: BrokenForTesting): Outcome {
  const w = buildSpanWorld({
    seed: 17,
    shape: 'slow-clients',
    faults: 'none',
    noClients: true,
    preferLeaders: { leaders: { s0: 'n-b', s1: 'n-b', s2: 'n-c' }, untilUs: 1_500_000 },
    faultPhaseUs: END + 500_000,
    drainUs: 500_000,
    paxosBroken,
  });
  const leader = w.nodes.find((n) => n.id === 'n-b')!;
  const writer = new ScriptedClient('writer-b', 'dc-b', w.sched, w.net, w.rec.history);
  const committedAt: number[] = [];
  const statuses: string[] = [];
  let n = 0;
  const write = (): void => {
    if (w.sched.nowUs >= END) return;
    const key = `k0/w/${n++ % 8}`;
    writer.rw('s0', 'n-b', [key], () => [{ key, value: `v${n}` }], (r) => {
      if (r.outcome.state === 'committed') committedAt.push(w.sched.nowUs);
      w.sched.after(1_000, write);
    });
  };
  w.sched.at(2_000_000, () => {
    expect(leader.isLeaderOf('s0')).toBe(true);
    write();
  });
  w.sched.at(CUT, () => w.net.net.isolate('dc-a', w.dcs));
  for (let t = CUT + 20_000; t < END - 500_000; t += 1_000_000) w.sched.at(t, () => statuses.push(leader.transferLeadership('s0', 'n-a')));
  const res = finishSpanWorld(w);
  const after = [CUT, ...committedAt.filter((t) => t > CUT), END];
  let longestGapUs = 0;
  for (let i = 1; i < after.length; i++) longestGapUs = Math.max(longestGapUs, after[i]! - after[i - 1]!);
  return { res, statuses, commits: committedAt.length, longestGapUs };
}

describe('span: a leader transfer racing a DC cut', () => {
  it('gives up once the target is silent, refuses it afterwards, and the majority side keeps committing', () => {
    const o = transferIntoCutDc();
    expect(o.res.ok, o.res.violations.map((v) => v.checker).join(',')).toBe(true);
    expect(o.statuses[0]).toBe('started');
    expect(o.statuses.slice(1).length).toBeGreaterThanOrEqual(3);
    expect(new Set(o.statuses.slice(1))).toEqual(new Set(['unreachable']));
    // One election timeout of silence (150 ms) plus the writer's retries; never a whole deadline.
    expect(o.longestGapUs).toBeLessThan(300_000);
    expect(o.commits).toBeGreaterThan(100);
  });

  it('without the silence rule (transferIgnoresSilence), each request stalls the split until its deadline', () => {
    const o = transferIntoCutDc({ transferIgnoresSilence: true });
    expect(o.statuses.filter((s) => s === 'started').length).toBeGreaterThanOrEqual(3);
    expect(o.longestGapUs).toBeGreaterThanOrEqual(600_000);
  });
});
