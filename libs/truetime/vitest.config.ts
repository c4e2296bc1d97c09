import { defineConfig } from 'vitest/config';

/**
 * No verdict here depends on machine speed (the simulator and the clock tests run in virtual time;
 * daemon.test.ts waits on conditions, never on durations). The default budget is over 4× the
 * slowest idle time of a test that sets none; the heavy ones set their own. Timings are printed
 * (tests slower than `slowTestThreshold` are listed), never asserted.
 */
export default defineConfig({
  test: {
    testTimeout: 20_000,
    slowTestThreshold: 1_000,
  },
});
