/**
 * What the spanserver needs of TrueTime. `@synod/truetime`'s TrueTime satisfies it; until a
 * process runs the time-sync daemon, `LocalTrueTime` stands in: the host clock with a fixed,
 * stated uncertainty (correct only while the host clock is within ε of true time).
 */
export interface TimeSource {
  now(): { earliest: number; latest: number };
  waitUntilAfter(t: number): Promise<unknown>;
  isServing(): boolean;
  /** `now()` and `isServing()` at one clock reading: the time of one input to a split's core. */
  nowServing(): { tt: { earliest: number; latest: number }; serving: boolean };
}

export class LocalTrueTime implements TimeSource {
  constructor(private readonly epsilonUs: number) {}

  now(): { earliest: number; latest: number } {
    const t = Math.round((performance.timeOrigin + performance.now()) * 1000);
    return { earliest: t - this.epsilonUs, latest: t + this.epsilonUs };
  }

  waitUntilAfter(t: number): Promise<void> {
    return new Promise((resolve) => {
      const step = () => {
        const remainingUs = t - this.now().earliest + 1;
        if (remainingUs <= 0) return resolve();
        if (remainingUs > 3_000) setTimeout(step, Math.floor((remainingUs - 2_000) / 1000));
        else setImmediate(step);
      };
      step();
    });
  }

  isServing(): boolean {
    return true;
  }

  nowServing(): { tt: { earliest: number; latest: number }; serving: boolean } {
    return { tt: this.now(), serving: true };
  }
}
