import { describe, expect, it } from 'vitest';
import { InvariantViolation } from './invariant.js';
import type { PaxosMessage } from './messages.js';
import type { Ready } from './output.js';
import { ReadyPipeline, type ReadyEffects } from './ready-pipeline.js';

const msg = (n: number) => ({ to: 'b', msg: { type: 'heartbeatAck', group: 'g', from: 'a', ballot: { round: n, node: 'a' }, sentAtUs: 0, chosenUpTo: 0 } as const });
const entry = (slot: number) => ({ slot, value: { kind: 'noop' as const }, commands: [], duplicates: [] });

function recorder() {
  const log: string[] = [];
  const pendingFsyncs: Array<() => void> = [];
  const fatal: unknown[] = [];
  const effects: ReadyEffects = {
    persist: (_p, done) => {
      log.push('persist');
      pendingFsyncs.push(done);
    },
    send: (m) => log.push(`send ${m.length}`),
    installSnapshot: (s) => log.push(`install ${s.upTo}`),
    apply: (e) => log.push(`apply ${e.slot}`),
    settle: (r) => log.push(`settle ${r.map((x) => x.status).join(',')}`),
    deliverLocal: (m) => log.push(`local ${m.map((x) => x.type).join(',')}`),
    fatal: (err) => fatal.push(err),
  };
  return { log, pendingFsyncs, fatal, effects };
}

describe('ReadyPipeline', () => {
  it('releases a Ready only once its persist is durable, in the order send, install, apply, settle', () => {
    const r = recorder();
    const p = new ReadyPipeline(r.effects);
    const ready: Ready = {
      persist: { promised: { round: 1, node: 'a' } },
      send: [msg(1)],
      apply: [entry(5)],
      installSnapshot: { upTo: 5, data: null },
      proposalResults: [{ ids: ['x'], status: 'not_leader', leaderHint: null }],
    };
    p.run(() => ready);
    expect(r.log).toEqual(['persist']);
    r.pendingFsyncs[0]!();
    expect(r.log).toEqual(['persist', 'send 1', 'install 5', 'apply 5', 'settle not_leader']);
  });

  it('a Ready without a persist waits for an earlier Ready that has one', () => {
    const r = recorder();
    const p = new ReadyPipeline(r.effects);
    p.run(() => ({ persist: { promised: { round: 1, node: 'a' } }, send: [msg(1)], apply: [] }));
    p.run(() => ({ send: [msg(2), msg(3)], apply: [entry(0)] }));
    expect(r.log).toEqual(['persist']);
    expect(p.pending).toBe(2);
    r.pendingFsyncs[0]!();
    expect(r.log).toEqual(['persist', 'send 1', 'send 2', 'apply 0']);
  });

  it("a leader's Accepts (sendEarly) go out at once, ahead of its own and earlier persists; its own Accepted comes back last", () => {
    const r = recorder();
    const p = new ReadyPipeline(r.effects);
    const accepted: PaxosMessage = { type: 'accepted', group: 'g', from: 'a', ballot: { round: 1, node: 'a' }, slots: [0], sentAtUs: 0 };
    p.run(() => ({ persist: { accepted: [] }, send: [msg(1)], apply: [] }));
    p.run(() => ({ persist: { accepted: [] }, sendEarly: [msg(2), msg(3)], send: [msg(4)], apply: [entry(0)], local: [accepted] }));
    expect(r.log).toEqual(['persist', 'send 2', 'persist']);
    r.pendingFsyncs[1]!(); // the second is durable first: still behind the first
    expect(r.log).toEqual(['persist', 'send 2', 'persist']);
    r.pendingFsyncs[0]!();
    expect(r.log).toEqual(['persist', 'send 2', 'persist', 'send 1', 'send 1', 'apply 0', 'local accepted']);
  });

  it('Accepts wait for a pending persisted promise, in their own or an earlier Ready, and then go before the rest', () => {
    const r = recorder();
    const p = new ReadyPipeline(r.effects);
    p.run(() => ({ persist: { promised: { round: 2, node: 'a' } }, send: [], apply: [] }));
    p.run(() => ({ sendEarly: [msg(2)], send: [msg(3), msg(4)], apply: [] }));
    expect(r.log).toEqual(['persist']);
    r.pendingFsyncs[0]!();
    expect(r.log).toEqual(['persist', 'send 1', 'send 2']);
    p.run(() => ({ persist: { promised: { round: 3, node: 'a' } }, sendEarly: [msg(5)], send: [], apply: [] }));
    expect(r.log).toEqual(['persist', 'send 1', 'send 2', 'persist']); // its own promise: held
    r.pendingFsyncs[1]!();
    expect(r.log).toEqual(['persist', 'send 1', 'send 2', 'persist', 'send 1']);
  });

  it('Accepts of a Ready whose persist completes synchronously go out once', () => {
    const r = recorder();
    const p = new ReadyPipeline({ ...r.effects, persist: (_p, done) => done() });
    p.run(() => ({ persist: { accepted: [] }, sendEarly: [msg(1)], send: [msg(2), msg(3)], apply: [] }));
    expect(r.log).toEqual(['send 1', 'send 2']);
  });

  it('a replica call that throws stops the pipeline: fatal once, nothing released after', () => {
    const r = recorder();
    const p = new ReadyPipeline(r.effects);
    p.run(() => ({ persist: { promised: { round: 1, node: 'a' } }, send: [msg(1)], apply: [] }));
    const boom = new InvariantViolation('applied index only grows', 'test');
    expect(p.run(() => { throw boom; })).toBeUndefined();
    r.pendingFsyncs[0]!();
    expect(p.run(() => ({ send: [msg(2)], apply: [] }))).toBeUndefined();
    expect(r.log).toEqual(['persist']);
    expect(r.fatal).toEqual([boom]);
    expect(p.isStopped).toBe(true);
  });

  it('a failed persist stops the pipeline', () => {
    const r = recorder();
    const err = new Error('EIO');
    const p = new ReadyPipeline({ ...r.effects, persist: (_p, _done, fail) => fail(err) });
    p.run(() => ({ persist: { promised: { round: 1, node: 'a' } }, send: [msg(1)], apply: [] }));
    expect(r.log).toEqual([]);
    expect(r.fatal).toEqual([err]);
  });

  it('the broken variant ackBeforePersist releases at once (what the simulator must catch)', () => {
    const r = recorder();
    const p = new ReadyPipeline(r.effects, { ackBeforePersist: true });
    p.run(() => ({ persist: { promised: { round: 1, node: 'a' } }, send: [msg(1)], apply: [entry(0)] }));
    expect(r.log).toEqual(['persist', 'send 1', 'apply 0']);
  });
});
