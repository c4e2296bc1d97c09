import { EMPTY_CHAOS, chaos, type Bus } from '@synod/transport';

export interface PhaseOptions {
  /** Publishes the fault picture. */
  bus: Bus;
  /** The DC to cut off when the partition phase starts (the leader's, when it runs). */
  leaderDc: () => Promise<{ dc: string; label: string }>;
  phaseSeconds: number;
  say: (s: string) => void;
  /** One progress line's body, printed once a second after the time and the phase. */
  report: () => Promise<string>;
}

/**
 * The demos' fault script: healthy, then the leader's DC partitioned from every other DC, then
 * healed, each for `phaseSeconds`, with a progress line every second.
 */
export async function runPartitionPhases(opts: PhaseOptions): Promise<void> {
  let state = EMPTY_CHAOS;
  const phases: Array<{ title: string; act: () => Promise<void> }> = [
    { title: 'healthy', act: async () => undefined },
    {
      title: 'leader DC partitioned',
      act: async () => {
        const { dc, label } = await opts.leaderDc();
        state = chaos.partition(state, [dc], ['*']);
        await opts.bus.publishChaos(state);
        opts.say(`  >> partitioned ${dc} (${label}) from every other DC`);
      },
    },
    {
      title: 'healed',
      act: async () => {
        state = chaos.heal(state);
        await opts.bus.publishChaos(state);
        opts.say('  >> healed');
      },
    },
  ];
  const started = Date.now();
  for (const phase of phases) {
    await phase.act();
    for (let s = 0; s < opts.phaseSeconds; s++) {
      await new Promise((r) => setTimeout(r, 1000));
      opts.say(`  t=${((Date.now() - started) / 1000).toFixed(0).padStart(2)}s  [${phase.title.padEnd(21)}]  ${await opts.report()}`);
    }
  }
}
