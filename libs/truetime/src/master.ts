/**
 * Time masters (Spanner §3): one or more per DC answer `time.get` on `<c>.timemaster.<dc>` and on
 * their own inbox. Two kinds:
 *   reference  GPS stand-in: the host clock ± a small stated uncertainty.
 *   drifting   atomic-clock stand-in: its own clock model (a drifting clock disciplined by the
 *              reference masters through the same sync logic as every process), advertising
 *              its own TrueTime interval, whose ε grows since its last reference sync.
 * When several masters serve one DC subject, a request takes the first answer.
 */
import { SynodError } from '@synod/codec';
import { subjects, type Bus } from '@synod/transport';
import type { PhysicalClock } from './clock.js';
import type { TTInterval } from './interval.js';

export type MasterKind = 'reference' | 'drifting';

/** The reference master's answer: its clock ± its stated uncertainty. */
export const referenceAnswer = (clock: PhysicalClock, uncertaintyUs: number) => (): TTInterval => {
  const t = clock.nowUs();
  return { earliest: t - uncertaintyUs, latest: t + uncertaintyUs };
};

/**
 * Answers `time.get` on the DC's time-master subject and the inbox. `answer` returning
 * undefined (e.g. a drifting master not yet synced) replies UNAVAILABLE.
 */
export async function serveTimeMaster(bus: Bus, kind: MasterKind, answer: () => TTInterval | undefined): Promise<() => void> {
  bus.on('time.get', () => {
    const iv = answer();
    if (!iv) throw new SynodError('UNAVAILABLE', `time master ${bus.nodeId} has no time yet`);
    return { kind: 'time.now', body: { earliest: iv.earliest, latest: iv.latest, master: kind } };
  });
  return bus.serve(subjects(bus.cluster).timemaster(bus.dc));
}
