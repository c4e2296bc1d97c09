import { describe, expect, it } from 'vitest';
import type { SpanNode } from './span/node.js';
import { buildSpanWorld } from './span/simulation.js';
import { START_US } from './span/time.js';

/**
 * A node's TrueTime reading is shared by its splits (NodeTime.coreNow, libs/sim/src/span/README.md,
 * "Many splits per node"): it must be what TrueTime answers now, also right after a clock step or
 * a sync at the same virtual instant as a reading already taken.
 */
const fresh = (n: SpanNode) => ({ tt: n.time.tt.now(), serving: n.time.tt.isServing(), monoUs: n.clock.monoNow() });

describe('NodeTime.coreNow', () => {
  it('is reused within an instant and follows a clock step at that instant', () => {
    const w = buildSpanWorld({ seed: 1, faults: 'none', noClients: true });
    w.sched.runUntil(2_000_000);
    const node = w.nodes[0]!;
    const a = node.time.coreNow();
    expect(a).toEqual(fresh(node));
    expect(a.serving).toBe(true);
    expect(node.time.coreNow()).toBe(a);
    expect(Object.isFrozen(a) && Object.isFrozen(a.tt)).toBe(true);

    node.clock.stepUs += 50_000;
    const stepped = node.time.coreNow();
    expect(stepped).toEqual(fresh(node));
    expect(stepped.serving).toBe(false);

    node.clock.stepUs -= 50_000;
    expect(node.time.coreNow()).toEqual(fresh(node));
    expect(node.time.coreNow().serving).toBe(true);
  });

  it('follows a sync applied at the same instant', () => {
    const w = buildSpanWorld({ seed: 1, faults: 'none', noClients: true });
    const node = w.nodes[0]!;
    const before = node.time.coreNow();
    expect(before.serving).toBe(false); // no sync yet
    const wall = node.clock.wallNow();
    const trueUs = START_US + w.sched.nowUs;
    const samples = Array.from({ length: 5 }, (_, i) => ({ source: `tm-${i}`, sentLocal: wall, receivedLocal: wall, earliest: trueUs - 300, latest: trueUs + 300 }));
    expect(node.time.applySync(samples).ok).toBe(true);
    const after = node.time.coreNow();
    expect(after).toEqual(fresh(node));
    expect(after.serving).toBe(true);
  });
});
