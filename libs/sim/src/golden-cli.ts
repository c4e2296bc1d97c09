import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import type { ReplicaConfig } from '@synod/paxos';
import { goldenPath, runStory, STORIES } from './golden-stories.js';

/**
 * Prints or regenerates the golden interaction traces.
 *   npx tsx libs/sim/src/golden-cli.ts                     # every story's trace to stdout
 *   npx tsx libs/sim/src/golden-cli.ts pre-vote            # one story
 *   npx tsx libs/sim/src/golden-cli.ts --update            # rewrite libs/sim/testdata/golden/*.trace
 *   npx tsx libs/sim/src/golden-cli.ts --check             # exit 1 if a trace differs from its file
 *   npx tsx libs/sim/src/golden-cli.ts pre-vote --config '{"features":{"preVote":false}}'   # a what-if, printed only
 */
const USAGE = 'usage: golden-cli.ts [story...] [--update | --check] [--config <ReplicaConfig JSON>]';
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    update: { type: 'boolean', default: false },
    check: { type: 'boolean', default: false },
    config: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(`${USAGE}\nstories: ${STORIES.map((s) => s.name).join(', ')}`);
  process.exit(0);
}
const unknown = positionals.filter((p) => !STORIES.some((s) => s.name === p));
if (unknown.length > 0) {
  console.error(`unknown story ${unknown.join(', ')}\n${USAGE}\nstories: ${STORIES.map((s) => s.name).join(', ')}`);
  process.exit(2);
}
const config = values.config ? (JSON.parse(values.config) as Partial<ReplicaConfig>) : {};
if (values.config && (values.update || values.check)) {
  console.error('--config is a what-if: it cannot be combined with --update or --check');
  process.exit(2);
}
let failed = 0;
for (const story of STORIES.filter((s) => positionals.length === 0 || positionals.includes(s.name))) {
  const text = runStory(story, config);
  const file = goldenPath(story.name);
  if (values.update) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    console.log(`wrote ${file} (${text.split('\n').length - 1} lines)`);
  } else if (values.check) {
    let want = '';
    try {
      want = readFileSync(file, 'utf8');
    } catch {
      // a missing file differs
    }
    const ok = want === text;
    if (!ok) failed++;
    console.log(`${ok ? 'ok  ' : 'DIFF'} ${story.name}`);
  } else process.stdout.write(text);
}
process.exit(failed > 0 ? 1 : 0);
