import type { PaxosMessage } from './messages.js';
import type { ApplyEntry, LeadershipChange, Outbound, PersistRequest, ProposalResult, Ready } from './output.js';

/**
 * What a shell does with the parts of a Ready. The pipeline calls them in the contract's
 * order (see `Ready`); the shell only performs them.
 */
export interface ReadyEffects {
  /** Start making `p` durable; call `done()` once it is (fsync'd), or `fail(err)` if it cannot be. */
  persist(p: PersistRequest, done: () => void, fail: (err: unknown) => void): void;
  send(messages: readonly Outbound[]): void;
  /** Replace the state machine with a snapshot's data (before any entry after it applies). */
  installSnapshot(snapshot: { upTo: number; data: unknown }): void;
  /** Apply one chosen entry to the state machine and complete the commands it holds. */
  apply(entry: ApplyEntry): void;
  /** Complete proposals the replica answered without replicating (not leader, already applied, too large). */
  settle(results: readonly ProposalResult[]): void;
  leadership?(change: LeadershipChange): void;
  /** Hand messages the replica sent itself back to it (`step`, through this pipeline's `run`). */
  deliverLocal(messages: readonly PaxosMessage[]): void;
  /** A broken invariant or a failed durable write: the replica must not go on (fail-stop). */
  fatal(err: unknown): void;
}

export interface ReadyPipelineOptions {
  /**
   * Deliberately broken, for the simulator's teeth tests only: release a Ready (its sends,
   * applies and settled proposals) before its persist is durable.
   */
  ackBeforePersist?: boolean;
}

interface Stage {
  /** One Ready, released whole once it and every earlier one are durable. */
  ready: Ready;
  /** Its persist completed (or it has none). */
  durable: boolean;
  /** Its `sendEarly` went out when it was queued (otherwise it goes with `send`). */
  sentEarly: boolean;
}

/**
 * The one implementation of the Ready contract, shared by the production host and the
 * simulator so that the simulator tests the order production runs (docs/paxos.md, "The Ready
 * pipeline"): for each Ready, in the order the replica produced them,
 *   persist → (once durable, and every earlier Ready released) send → install snapshot →
 *   apply → settle.
 * Nothing of a Ready is observable before its state is durable, and Readies never overtake
 * each other. The one exception is a leader's Accepts (`Ready.sendEarly`): they go out when
 * their Ready is queued unless a persisted promise is still pending, in it or an earlier Ready
 * (docs/paxos.md, "Accepts before the leader's fsync"). A replica call that throws stops the
 * pipeline: nothing after it is released, and `fatal` is called once.
 */
export class ReadyPipeline {
  /** Readies not yet released, in the order the replica produced them. */
  private readonly stages: Stage[] = [];
  /** A drain is running: a persist completing inside it must not start a nested one. */
  private draining = false;
  /** The error that stopped the pipeline (a throwing replica call or a failed persist). */
  private stoppedBy: unknown = undefined;
  /** Nothing more is released once set (fail-stop). */
  private stopped = false;

  constructor(
    /** What carrying out a Ready does: persist, send, install, apply, settle. */
    private readonly effects: ReadyEffects,
    /** Test switches (the broken variant ackBeforePersist). */
    private readonly opts: ReadyPipelineOptions = {},
  ) {}

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Readies produced but not yet released (waiting for their own or an earlier persist). */
  get pending(): number {
    return this.stages.length;
  }

  /**
   * Runs one call into the replica (step, tick, propose, …) and queues its Ready. Returns
   * the Ready (for the caller's synchronous answers, e.g. proposal results), or undefined if
   * the pipeline is stopped or the call threw.
   */
  run(call: () => Ready): Ready | undefined {
    if (this.stopped) return undefined;
    let ready: Ready;
    try {
      ready = call();
    } catch (err) {
      this.stop(err);
      return undefined;
    }
    const stage: Stage = { ready, durable: ready.persist === undefined || this.opts.ackBeforePersist === true, sentEarly: false };
    this.stages.push(stage);
    // Before the persist starts: a persist that completes synchronously releases the stage at once.
    if (ready.sendEarly !== undefined && ready.sendEarly.length > 0 && !this.promisePending()) {
      stage.sentEarly = true;
      this.guard(() => this.effects.send(ready.sendEarly!));
    }
    if (ready.persist !== undefined) {
      this.guard(() =>
        this.effects.persist(
          ready.persist!,
          () => {
            stage.durable = true;
            this.drain();
          },
          (err) => this.stop(err),
        ),
      );
    }
    this.drain();
    return ready;
  }

  /** Stops the pipeline for good: nothing more is released. The shell must not go on. */
  stop(err: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    this.stoppedBy = err;
    this.stages.length = 0;
    this.effects.fatal(err);
  }

  get stopReason(): unknown {
    return this.stoppedBy;
  }

  /** A queued Ready persists a promise not yet durable: Accepts at that ballot must wait for it. */
  private promisePending(): boolean {
    for (const s of this.stages) if (!s.durable && s.ready.persist?.promised !== undefined) return true;
    return false;
  }

  private drain(): void {
    // A release may re-enter run() (a shell answering a snapshot request, say); the outer loop
    // releases what that queued, so no Ready is released inside another one's release.
    if (this.draining) return;
    this.draining = true;
    try {
      while (!this.stopped && this.stages.length > 0 && this.stages[0]!.durable) {
        const stage = this.stages.shift()!;
        this.guard(() => this.release(stage));
      }
    } finally {
      this.draining = false;
    }
  }

  private release({ ready, sentEarly }: Stage): void {
    if (!sentEarly && ready.sendEarly !== undefined && ready.sendEarly.length > 0) this.effects.send(ready.sendEarly);
    if (ready.send.length > 0) this.effects.send(ready.send);
    if (ready.installSnapshot) this.effects.installSnapshot(ready.installSnapshot);
    for (const entry of ready.apply) this.effects.apply(entry);
    if (ready.proposalResults && ready.proposalResults.length > 0) this.effects.settle(ready.proposalResults);
    if (ready.leadership) this.effects.leadership?.(ready.leadership);
    if (ready.local !== undefined && ready.local.length > 0) this.effects.deliverLocal(ready.local);
  }

  /** An effect that throws is a bug in the shell: stop rather than release half a Ready. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.stop(err);
    }
  }
}
