import type { AcceptedEntry, Ballot, DurableState, PersistRequest, Snapshot, Value } from '@synod/paxos';
import { ZERO_BALLOT } from '@synod/paxos';

/** What one group's replica has durably on one node's disk. */
export class DurableStore {
  promised: Ballot = ZERO_BALLOT;
  readonly accepted = new Map<number, { ballot: Ballot; value: Value }>();
  snapshot: Snapshot | undefined;

  /** Carries out a persist in the contract's order: snapshot, accepted, truncation. */
  write(p: PersistRequest): void {
    if (p.promised) this.promised = p.promised;
    if (p.snapshot) this.snapshot = JSON.parse(JSON.stringify(p.snapshot)) as Snapshot;
    for (const e of p.accepted ?? []) this.accepted.set(e.slot, { ballot: e.ballot, value: e.value });
    if (p.truncateBelow !== undefined) {
      if (this.snapshot === undefined || this.snapshot.upTo < p.truncateBelow) {
        throw new Error(`truncation below ${p.truncateBelow} without a durable snapshot there`);
      }
      for (const s of this.accepted.keys()) if (s < p.truncateBelow) this.accepted.delete(s);
    }
  }

  snapshotState(): DurableState {
    const accepted: AcceptedEntry[] = [];
    for (const [slot, e] of this.accepted) accepted.push({ slot, ballot: e.ballot, value: e.value });
    return { promised: this.promised, accepted, snapshot: this.snapshot };
  }
}
