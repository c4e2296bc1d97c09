import { describe, expect, it } from 'vitest';
import { Harness } from './core-harness.fixture.js';

/**
 * A leader whose lease lapsed, as a quiet group's does (docs/transactions.md, "Quiescent
 * splits"): requests wait for the lease instead of aborting, and an idle one asks for no wake.
 */
const ref = (id: string, startTs = 1) => ({ id, startTs });
const leading = { round: 1, node: 'n1' };

function quietLeader(): Harness {
  const h = new Harness();
  h.ready();
  h.advance(100_000); // closed timestamps have gone out
  h.view({ leading, leaderHint: 'n1', leaseEndMonoUs: null, localReadOk: false });
  return h;
}

describe('a leader without a lease', () => {
  it('parks a commit until the lease is back, then commits it', () => {
    const h = quietLeader();
    const c = h.send({ kind: 'commit', txn: ref('t1'), readKeys: [], writes: [{ key: 'a', value: 1 }], waitUs: 5_000_000 });
    h.advance(10_000);
    expect(h.answer(c)).toBeUndefined();
    expect(h.log.slice(h.slot)).toEqual([]); // nothing proposed without a lease
    h.view({ leading, leaderHint: 'n1', leaseEndMonoUs: h.mono + 500_000, localReadOk: true });
    h.advance(1_000);
    h.applyAll();
    h.advance(2 * h.epsilon + 10);
    expect(h.answer(c)).toMatchObject({ type: 'reply', body: { kind: 'committed' } });
  });

  it('answers UNAVAILABLE, not an abort, when the lease does not come back in time', () => {
    const h = quietLeader();
    const c = h.send({ kind: 'commit', txn: ref('t1'), readKeys: [], writes: [{ key: 'a', value: 1 }], waitUs: 50_000 });
    h.advance(60_000);
    expect(h.answer(c)).toMatchObject({ type: 'error', error: { code: 'UNAVAILABLE', message: expect.stringMatching(/holds no lease/) } });
  });

  it('asks for no wake while idle, and is a quiet leader; with a lease it wakes for closed timestamps', () => {
    const h = quietLeader();
    expect(h.core.nextWakeMonoUs(h.now())).toBeNull();
    expect(h.core.quietLeader(h.now())).toBe(true);
    h.view({ leading, leaderHint: 'n1', leaseEndMonoUs: h.mono + 500_000, localReadOk: true });
    expect(h.core.nextWakeMonoUs(h.now())).not.toBeNull();
    expect(h.core.quietLeader(h.now())).toBe(false);
  });

  it('is no quiet leader while a request waits', () => {
    const h = quietLeader();
    h.send({ kind: 'commit', txn: ref('t1'), readKeys: [], writes: [{ key: 'a', value: 1 }], waitUs: 5_000_000 });
    expect(h.core.quietLeader(h.now())).toBe(false);
  });
});
