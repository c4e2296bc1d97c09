import { defineConfig } from 'vitest/config';

/** Unit tests of the benches' pure parts only: no bench runs here, nothing needs etcd or a cluster. */
export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'k6/**', 'k6-runner/**'],
  },
});
