import { defineConfig } from 'vitest/config';

/**
 * Every test here is a seeded simulation in virtual time: its verdict never depends on the wall
 * clock, only its running time does. The default budget covers the files that set none
 * (teeth.test.ts: its slowest test takes 4.1 s on an idle 2-core machine, 5.3 s with both cores
 * busy, 13 s at load average 20) at more than 4× the idle time; the heaviest tests set their own, sized the same way.
 * Timings are printed (the default reporter lists tests slower than `slowTestThreshold`), never asserted.
 */
export default defineConfig({
  test: {
    testTimeout: 60_000,
    setupFiles: ['./src/yield-between-tests.fixture.ts'],
    slowTestThreshold: 1_000,
  },
});
