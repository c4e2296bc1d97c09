import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { goldenPath, runStory, STORIES } from './golden-stories.js';

/**
 * Golden interaction tests: each protocol story's trace must equal its file in
 * libs/sim/testdata/golden/. After a deliberate change of behaviour, regenerate with
 *   UPDATE_GOLDEN=1 npx vitest run src/golden.test.ts      (in libs/sim)
 * and read the diff of the .trace files: it is the change, event by event.
 */
const UPDATE = process.env.UPDATE_GOLDEN === '1';

/** The trace without its header (the `#` lines before the first blank line). */
function body(text: string): string {
  return text.slice(text.indexOf('\n\n') + 1);
}

describe('golden interaction traces (libs/sim/testdata/golden)', () => {
  for (const story of STORIES) {
    it(`${story.name} matches its golden trace`, () => {
      const text = runStory(story);
      const file = goldenPath(story.name);
      if (UPDATE) {
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, text);
        return;
      }
      expect(existsSync(file), `${file} is missing: run UPDATE_GOLDEN=1 npx vitest run src/golden.test.ts`).toBe(true);
      expect(text, `${story.name}: the trace changed; if that is intended, regenerate (UPDATE_GOLDEN=1) and review the diff`).toBe(readFileSync(file, 'utf8'));
    });

    if (story.teeth) {
      const teeth = story.teeth;
      it(`${story.name} has teeth: ${teeth.why}`, () => {
        let changed: string;
        try {
          changed = runStory(story, teeth.config);
        } catch (err) {
          changed = `threw: ${String(err)}`; // an assertion tripped: different behaviour too
        }
        expect(body(changed)).not.toBe(body(runStory(story)));
      });
    }
  }

  it('a story is a pure function of its script', () => {
    for (const story of STORIES) expect(runStory(story)).toBe(runStory(story));
  });

  it('stays readable: every trace is under 150 lines, and every golden file belongs to a story', () => {
    for (const story of STORIES) expect(runStory(story).split('\n').length).toBeLessThan(150);
    const dir = dirname(goldenPath('x'));
    const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.trace')) : [];
    expect(files.sort()).toEqual(STORIES.map((s) => `${s.name}.trace`).sort());
  });
});
