import { EventQueue } from '@synod/sim-kernel';

/** Virtual time (integer µs) plus the event queue that advances it. */
export class Scheduler {
  nowUs = 0;
  private readonly queue = new EventQueue();

  at(timeUs: number, run: () => void): void {
    this.queue.push(Math.max(Math.round(timeUs), this.nowUs), run);
  }

  after(delayUs: number, run: () => void): void {
    this.at(this.nowUs + delayUs, run);
  }

  /** Runs events up to and including `untilUs`, or until `stop()` returns true. */
  runUntil(untilUs: number, stop: () => boolean = () => false): void {
    for (;;) {
      const t = this.queue.peekTime();
      if (t === undefined || t > untilUs) break;
      const e = this.queue.pop()!;
      this.nowUs = e.at;
      e.run();
      if (stop()) return;
    }
    this.nowUs = Math.max(this.nowUs, untilUs);
  }

  get pending(): number {
    return this.queue.size;
  }
}
