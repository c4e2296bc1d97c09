import { describe, expect, it } from 'vitest';
import { storageFixture } from './storage.fixture.js';
import { ballot, entry, snapshot } from './test-helpers.js';

// docs/spanserver.md, "Cutting a split" and "Hosting and dropping".
describe('groups created by a cut and dropped from a node', () => {
  const fresh = storageFixture({ fsync: false });

  it("writes a cut's new group and the hosted set in the parent's entry transaction", async () => {
    const { storage, reopen } = fresh();
    await storage.applyEntry('p', 1, [{ key: 'k', ts: 10, value: 1 }], {
      record: { slot: 0, commandIds: ['c:1'] },
      header: { maxAppliedTs: 20, range: { start: '', end: 'g' } },
      newGroups: [{ group: 'c', header: { maxAppliedTs: 20, lastCommitTs: 0 }, snapshot: snapshot(1, { header: { maxAppliedTs: 20, lastCommitTs: 0 } }) }],
      hostedSplits: { splits: [{ id: 'p' }, { id: 'c' }], dropped: [] },
    });
    const again = await reopen();
    // The new group starts behind a snapshot at its first slot (docs/spanserver.md, "Cutting a split").
    expect(await again.paxos('c').appliedState()).toMatchObject({ upTo: 1, from: 1, records: [], header: { maxAppliedTs: 20 }, snapshot: { upTo: 1 } });
    expect(await again.paxos('p').appliedState()).toMatchObject({ upTo: 1, header: { range: { end: 'g' } } });
    expect(again.hostedSplits()).toEqual({ splits: [{ id: 'p' }, { id: 'c' }], dropped: [] });
    expect(again.timeMark()).toEqual({ issuedUs: 0, gcHorizonUs: 0 }); // another node-meta record, untouched
  });

  it("drops a group's log, applied records, snapshot, outcomes and (when asked) the rows of its range", async () => {
    const { storage, reopen } = fresh();
    const g = storage.paxos('c');
    await g.persist({ promised: ballot(3), accepted: [entry(0, ballot(3)), entry(1, ballot(3))] });
    await storage.mvcc.put([{ key: 'a', ts: 5, value: 'other split' }, { key: 'h', ts: 5, value: 'mine' }]);
    await storage.applyEntry('c', 2, [], { record: { slot: 1, commandIds: ['x'] }, header: { maxAppliedTs: 9 }, outcomes: { put: [['t1', { committed: true, ts: 9 }]], forget: [] } });
    await g.persist({ snapshot: snapshot(1, { header: { maxAppliedTs: 9 } }) });
    await storage.dropGroup('c', { start: 'g', end: 'm' }, { splits: [], dropped: [{ id: 'c', generation: 2 }] });
    const again = await reopen();
    expect(await again.paxos('c').load()).toMatchObject({ accepted: [] });
    expect((await again.paxos('c').load()).snapshot).toBeUndefined();
    expect(await again.paxos('c').appliedState()).toEqual({ upTo: 0, from: 0, records: [] });
    expect(again.paxos('c').appliedRecordCount()).toBe(0);
    expect(again.outcomes('c')).toEqual([]);
    expect(again.mvcc.get('h', 10)).toBeUndefined();
    expect(again.mvcc.get('a', 10)?.value).toBe('other split');
    expect(again.hostedSplits()).toMatchObject({ dropped: [{ id: 'c' }] });
    // Hosted again later, the group starts from nothing.
    await again.applyEntry('c', 1, [], { record: { slot: 0, commandIds: ['y'] } });
    expect((await again.paxos('c').appliedState()).upTo).toBe(1);
  });
});
