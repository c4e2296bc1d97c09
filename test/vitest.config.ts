import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

/**
 * `synod up` remembers its cluster as the current one (docs/cli.md "Finding the cluster"): the
 * clusters these tests start are remembered in a directory of their own, not in the user's.
 */
export default defineConfig({
  test: {
    env: { SYNOD_CONFIG_DIR: mkdtempSync(join(tmpdir(), 'synod-test-config-')) },
  },
});
