/**
 * The k6 scripts in loadtest/k6 must run unchanged under real k6: they import k6's own modules
 * (k6, k6/http, k6/metrics) and each other, nothing of Node or of the runner.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './run-k6.js';

const K6_DIR = join(ROOT, 'loadtest/k6');
const ALLOWED = new Set(['k6', 'k6/http', 'k6/metrics']);

/** Every module specifier of a script: static imports and re-exports, bare imports, import(), require(). */
export function specifiers(source: string): string[] {
  const out: string[] = [];
  const patterns = [/\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*['"]([^'"]+)['"]/g, /\bimport\s*\(\s*([^)]*)\)/g, /\brequire\s*\(\s*([^)]*)\)/g];
  for (const re of patterns) for (const m of source.matchAll(re)) out.push(m[1]!.replace(/^['"`]|['"`]\s*$/g, ''));
  return out;
}

/** What is wrong with one file's imports (empty: nothing). */
export function badImports(file: string, source: string): string[] {
  return specifiers(source).flatMap((s) => {
    if (ALLOWED.has(s)) return [];
    if (s.startsWith('./') || s.startsWith('../')) {
      const target = resolve(dirname(file), s);
      return relative(K6_DIR, target).startsWith('..') || !s.endsWith('.js') ? [`${s} (a relative import must name a .js file inside loadtest/k6)`] : [];
    }
    return [`${s} (not a k6 module)`];
  });
}

function scripts(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? scripts(join(dir, e.name)) : /\.(m?js|ts)$/.test(e.name) ? [join(dir, e.name)] : []));
}

describe('the scripts in loadtest/k6', () => {
  it('import k6 modules and each other only', () => {
    const files = scripts(K6_DIR);
    expect(files.map((f) => relative(K6_DIR, f)).sort()).toEqual(expect.arrayContaining(['bank.js', 'hot.js', 'kv.js', 'read-mostly.js', 'lib/gateway.js']));
    const bad = files.flatMap((f) => badImports(f, readFileSync(f, 'utf8')).map((b) => `${relative(ROOT, f)}: ${b}`));
    expect(bad).toEqual([]);
  });

  it('the check itself catches Node modules, the runner, dynamic imports and paths outside loadtest/k6', () => {
    const file = join(K6_DIR, 'x.js');
    const src = `import http from 'k6/http';\nimport { readFileSync } from 'node:fs';\nimport '../k6-runner/shims/k6.mjs';\nexport { a } from './lib/gateway.js';\nconst m = await import('k6/x/sql');\nconst r = require('fs');\nimport ws from 'k6/ws';`;
    expect(badImports(file, src)).toEqual(['node:fs (not a k6 module)', 'k6/ws (not a k6 module)', '../k6-runner/shims/k6.mjs (a relative import must name a .js file inside loadtest/k6)', 'k6/x/sql (not a k6 module)', 'fs (not a k6 module)']);
  });
});
