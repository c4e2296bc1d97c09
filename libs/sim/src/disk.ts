import type { AcceptedEntry, Ballot, DurableState, PersistRequest, Value } from '@synod/paxos';
import { ZERO_BALLOT } from '@synod/paxos';

/** What one group's replica has durably on one node's disk. */
export class DurableStore {
  promised: Ballot = ZERO_BALLOT;
  readonly accepted = new Map<number, { ballot: Ballot; value: Value }>();

  write(p: PersistRequest): void {
    if (p.promised) this.promised = p.promised;
    for (const e of p.accepted ?? []) this.accepted.set(e.slot, { ballot: e.ballot, value: e.value });
  }

  snapshot(): DurableState {
    const accepted: AcceptedEntry[] = [];
    for (const [slot, e] of this.accepted) accepted.push({ slot, ballot: e.ballot, value: e.value });
    return { promised: this.promised, accepted };
  }
}
