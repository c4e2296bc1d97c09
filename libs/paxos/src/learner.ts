import type { Ballot } from './ballot.js';
import { holdsLeaderValue } from './broken.js';
import { fitInBudget, slotValueBytes } from './budget.js';
import { Dedupe } from './dedupe.js';
import { invariant } from './invariant.js';
import type { CatchupReplyMsg, CatchupRequestMsg, SnapshotChunkMsg, SnapshotRequestMsg } from './messages.js';
import { Acceptor } from './acceptor.js';
import type { ApplyEntry, Snapshot } from './output.js';
import { valuesEqual, type SlotValue, type Value } from './value.js';

/**
 * The learner: learns chosen slots (from the leader's chosenUpTo by the ballot-match rule, or by
 * catch-up from a peer, or from a snapshot pulled in chunks), applies them in slot order, and
 * compacts the log below the snapshots the shell takes.
 */
export abstract class Learner extends Acceptor {
  /**
   * The ballot-match rule: an accepted entry whose ballot equals the leader's
   * ballot holds the value that leader proposed, which is the chosen one for
   * every slot below its chosenUpTo. Anything else must be fetched.
   */
  protected learnFromLeader(ballot: Ballot, leaderChosenUpTo: number, from: string): void {
    if (from === this.config.self) return;
    // Walk whichever is shorter, the slot range or the log: a leader's chosenUpTo may be far
    // ahead (a follower long behind, or a hostile number), and only logged slots can match.
    const learn = (s: number, e: { ballot: Ballot; value: Value }): void => {
      if (!this.chosen.has(s) && holdsLeaderValue(this.config, e.ballot, ballot)) this.markChosen(s, e.value);
    };
    if (leaderChosenUpTo - this.chosenPrefix <= this.log.size) {
      for (let s = this.chosenPrefix; s < leaderChosenUpTo; s++) {
        const e = this.log.get(s);
        if (e) learn(s, e);
      }
    } else {
      for (const [s, e] of this.log) if (s >= this.chosenPrefix && s < leaderChosenUpTo) learn(s, e);
    }
    this.knownChosenUpTo = Math.max(this.knownChosenUpTo, leaderChosenUpTo);
    this.catchupSource = from;
    this.advanceChosenPrefix();
    if (this.chosenPrefix < this.knownChosenUpTo) this.requestCatchup();
  }

  /** Asks for what is missing (at most once per two heartbeats): the next snapshot chunk, or chosen entries. */
  protected requestCatchup(): void {
    this.snapshotReceiver.dropIfCovered(this.applied); // overtaken by the log
    if (this.nowUs < this.catchupRetryAtUs) return;
    // A transfer pulls from the peer that sent its first chunk. Once this replica catches up
    // from someone else (a new leader), that peer may be gone, or may have moved on to a newer
    // snapshot whose first chunk is taken only from the catch-up source: pulling on would ask
    // it forever. Start over from the catch-up source instead.
    const source = this.catchupSource;
    if (source !== null && source !== this.config.self && this.snapshotReceiver.pull()?.from !== source) this.snapshotReceiver.abandon();
    const pull = this.snapshotReceiver.pull();
    if (pull !== null) {
      this.catchupRetryAtUs = this.nowUs + 2 * this.config.heartbeatIntervalUs;
      this.send(pull.from, { type: 'snapshotRequest', upTo: pull.upTo, chunk: pull.chunk });
      return;
    }
    if (this.catchupSource === null || this.catchupSource === this.config.self) return;
    this.catchupRetryAtUs = this.nowUs + 2 * this.config.heartbeatIntervalUs;
    const toSlot = Math.min(this.knownChosenUpTo, this.chosenPrefix + this.config.maxEntriesPerMessage);
    this.send(this.catchupSource, { type: 'catchupRequest', fromSlot: this.chosenPrefix, toSlot });
  }

  protected onCatchupRequest(m: CatchupRequestMsg): void {
    if (this.snapshot !== null && m.fromSlot < this.snapshot.upTo) {
      this.sendSnapshotRun(m.from, 0);
      return;
    }
    // Only a contiguous run from fromSlot helps the asker: a reply with a hole at its start
    // would not advance it (a replica resumed at its applied index holds values below it only
    // where its applied records say its log held the chosen one).
    const entries: SlotValue[] = [];
    const end = Math.min(m.toSlot, m.fromSlot + this.config.maxEntriesPerMessage);
    for (let s = Math.max(0, m.fromSlot); s < end; s++) {
      const v = this.chosen.get(s);
      if (v === undefined) break;
      entries.push({ slot: s, value: v });
    }
    // The follower asks again from where this reply ends.
    entries.length = fitInBudget(entries, 0, slotValueBytes, this.config.maxEntriesPerMessage, this.messageBudget());
    this.send(m.from, { type: 'catchupReply', entries, chosenUpTo: this.chosenPrefix });
  }

  protected onCatchupReply(m: CatchupReplyMsg): void {
    const before = this.chosenPrefix;
    for (const e of m.entries) this.markChosen(e.slot, e.value);
    this.knownChosenUpTo = Math.max(this.knownChosenUpTo, m.chosenUpTo);
    this.advanceChosenPrefix();
    // Ask again at once only after progress; otherwise the retry timer paces the requests.
    if (this.chosenPrefix > before) {
      this.catchupRetryAtUs = 0;
      if (this.chosenPrefix < this.knownChosenUpTo) this.requestCatchup();
    }
  }

  /** Sends chunks `first`.. of our snapshot, `snapshotChunksPerRequest` of them (fewer at its end). */
  private sendSnapshotRun(to: string, first: number): void {
    if (this.snapshot === null) return;
    for (let c = first; c < first + this.config.snapshotChunksPerRequest; c++) {
      const body = this.snapshotSender.chunk(this.snapshot, c);
      if (body === null) return;
      this.send(to, body);
    }
  }

  protected onSnapshotRequest(m: SnapshotRequestMsg): void {
    if (this.snapshot === null || this.snapshot.upTo < m.upTo) return;
    // A newer snapshot replaced the one being fetched: start that one over.
    this.sendSnapshotRun(m.from, this.snapshot.upTo === m.upTo ? m.chunk : 0);
  }

  protected onSnapshotChunk(m: SnapshotChunkMsg): void {
    const r = this.snapshotReceiver.receive(m, this.applied, this.catchupSource);
    if (r.kind === 'ignored') return;
    if (r.kind === 'complete') {
      this.catchupRetryAtUs = 0;
      this.installSnapshot(r.snapshot);
      return;
    }
    // Ask for the next run once this one is in; a lost chunk is asked for again by the retry timer.
    if ((this.snapshotReceiver.nextChunk() ?? 0) % this.config.snapshotChunksPerRequest === 0) {
      this.catchupRetryAtUs = 0;
      this.requestCatchup();
    }
  }

  /** A snapshot from a peer replaces everything below its index. */
  private installSnapshot(snap: Snapshot): void {
    if (snap.upTo <= this.applied) return;
    if (this.role !== 'follower') this.stepDown();
    // Entries below the snapshot that this call already handed out are subsumed by it.
    this.out.apply = this.out.apply.filter((e) => e.slot >= snap.upTo);
    this.pendingSnapshot = null;
    this.dedupe = new Dedupe(snap.dedupe);
    this.configs.restore(snap.configs);
    this.applied = snap.upTo;
    this.chosenPrefix = Math.max(this.chosenPrefix, snap.upTo);
    this.nextSlot = Math.max(this.nextSlot, snap.upTo);
    this.knownChosenUpTo = Math.max(this.knownChosenUpTo, snap.upTo);
    this.out.installSnapshot = { upTo: snap.upTo, data: snap.data };
    this.compactTo(snap);
    this.advanceChosenPrefix();
  }

  /** Records `snap` as the durable snapshot and drops everything below it. */
  protected compactTo(snap: Snapshot): void {
    invariant(snap.upTo <= this.applied, 'a snapshot covers only applied slots', () =>
      `snapshot ${snap.upTo} > applied ${this.applied} at ${this.config.self}`,
    );
    this.snapshot = snap;
    this.snapshotSender.invalidate();
    for (const s of this.log.keys()) if (s < snap.upTo) this.log.delete(s);
    for (const s of this.chosen.keys()) if (s < snap.upTo) this.chosen.delete(s);
    for (const s of this.persistAccepted.keys()) if (s < snap.upTo) this.persistAccepted.delete(s);
    for (const s of this.persistedAccepted.keys()) if (s < snap.upTo) this.persistedAccepted.delete(s);
    this.out.persist = { ...this.out.persist, snapshot: snap, truncateBelow: snap.upTo };
  }

  protected markChosen(slot: number, value: Value): void {
    const prev = this.chosen.get(slot);
    if (prev !== undefined) {
      invariant(valuesEqual(prev, value), 'a chosen slot never changes value', () =>
        `slot ${slot} at ${this.config.self}: ${JSON.stringify(prev)} vs ${JSON.stringify(value)}`,
      );
      return;
    }
    if (slot < this.chosenPrefix) return; // already applied and possibly compacted: value not kept
    this.chosen.set(slot, value);
  }

  protected advanceChosenPrefix(): void {
    while (this.chosen.has(this.chosenPrefix)) this.chosenPrefix++;
    this.applyChosen();
  }

  /** Hands every chosen slot not yet applied to the shell, in order; asks for a snapshot every interval. */
  private applyChosen(): void {
    const interval = this.config.snapshotIntervalEntries;
    while (this.applied < this.chosenPrefix) {
      const slot = this.applied;
      const value = this.chosen.get(slot);
      invariant(value !== undefined, 'applied entries are chosen', () => `slot ${slot} at ${this.config.self}`);
      const entry: ApplyEntry = { slot, value, commands: [], duplicates: [] };
      const held = this.log.get(slot);
      if (held !== undefined && valuesEqual(held.value, value)) entry.logHolds = true;
      if (value.kind === 'batch') {
        for (const c of value.cmds) {
          if (this.dedupe.has(c.id)) entry.duplicates.push(c.id);
          else {
            this.dedupe.add(c.id);
            entry.commands.push(c);
          }
          this.queuedIds.delete(c.id);
        }
      } else if (value.kind === 'config') {
        this.configs.apply(slot, value, this.config.window, this.applied);
      }
      const next = slot + 1;
      this.applied = next;
      if (this.pendingSnapshot !== null && next - this.pendingSnapshot.upTo >= Math.max(interval, 1) * 2) {
        this.pendingSnapshot = null; // the shell never answered (it restarted?): ask again
      }
      if (interval > 0 && this.pendingSnapshot === null && next - this.snapshotUpTo() >= interval) {
        entry.takeSnapshot = true;
        this.pendingSnapshot = { upTo: next, dedupe: this.dedupe.export(), configs: this.configs.export() };
      }
      this.out.apply.push(entry);
    }
  }
}
