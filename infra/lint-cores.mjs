#!/usr/bin/env node
// Lint for the sans-I/O cores (DESIGN §3.1): the non-test sources of libs/txn, libs/paxos and libs/placement must
// not read a clock, draw randomness, set timers, await anything, touch the process, or import
// anything but their own files, other @synod/* packages and zod. Plain Node, no dependencies.
//
//   node infra/lint-cores.mjs            # the cores: libs/txn/src, libs/paxos/src, libs/placement/src
//   node infra/lint-cores.mjs DIR ...    # any other source directories (same rules)
//
// Skips *.test.ts, *.fixture.ts and anything under a testing/ directory. Comments, string and
// template text and regular expressions are blanked before the code rules run, so prose about
// Date.now() is fine. Prints `file:line: rule` for each problem and exits 1 if there is any.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CORES = ['libs/txn/src', 'libs/paxos/src', 'libs/placement/src'];

/** Rules on code with comments, strings and regexes blanked. */
const CODE_RULES = [
  [/\bDate\s*\.\s*now\b/, 'Date.now(): a core reads time only from its inputs'],
  [/\bnew\s+Date\b/, 'new Date: a core reads time only from its inputs'],
  [/(?<![\w$.])(?<!\bnew\s+)Date\s*\(/, 'Date(): a core reads time only from its inputs'],
  [/\bMath\s*\.\s*random\b/, 'Math.random(): use the seeded PRNG passed in'],
  [/(?<![\w$.])(?:setTimeout|setInterval|setImmediate|queueMicrotask|clearTimeout|clearInterval|clearImmediate)\b/, 'timer or task queue: a core asks for a tick instead'],
  [/(?<![\w$.])performance\s*\./, 'performance.*: a core reads time only from its inputs'],
  [/(?<![\w$.])process\s*\./, 'process.*: a core does not touch its process'],
  [/\bnew\s+Promise\b/, 'new Promise: a core is synchronous'],
  [/(?<![\w$.])async\b(?!\s*[:?]|\s*,|\s*\))/, 'async: a core is synchronous'],
  [/(?<![\w$.])await\b(?!\s*[:?])/, 'await: a core is synchronous'],
  [/(?<![\w$.])globalThis\b/, 'globalThis: reaches the globals the other rules forbid'],
  [/(?<![\w$.])require\s*\(/, 'require(): imports are static and restricted'],
  [/(?<![\w$.])fetch\s*\(/, 'fetch(): a core does no I/O'],
  [/(?<![\w$.])crypto\s*\./, 'crypto.*: randomness comes from the seeded PRNG'],
];

/** Module specifiers, on code with comments blanked (strings kept). */
const IMPORT_PATTERNS = [
  /\bimport\s+(?:type\s+)?[\w$\s{},*]*?\bfrom\s*(['"])([^'"\n]*)\1/g,
  /\bexport\s+(?:type\s+)?(?:\*(?:\s+as\s+[\w$]+)?|\{[^}]*\})\s*from\s*(['"])([^'"\n]*)\1/g,
  /\bimport\s*(['"])([^'"\n]*)\1/g,
  /\bimport\s*\(\s*(['"])([^'"\n]*)\1/g,
];

function checkSpecifier(spec, file, coreDir) {
  if (spec.startsWith('node:')) return `import of '${spec}': a core uses no Node built-in`;
  if (spec.startsWith('./') || spec.startsWith('../')) {
    const target = resolve(dirname(file), spec);
    return target === coreDir || target.startsWith(coreDir + sep) ? null : `import of '${spec}' reaches outside ${relative(root, coreDir)}`;
  }
  if (spec.startsWith('@synod/') || spec === 'zod' || spec.startsWith('zod/')) return null;
  return `import of '${spec}': a core imports only its own files, @synod/* and zod`;
}

/**
 * Two views of `src`, same length and line breaks: `code` without comments, and `bare` also without
 * the text of strings, templates (their ${} expressions stay) and regular expressions.
 */
function blank(src) {
  const code = src.split('');
  const bare = src.split('');
  const wipe = (arr, i) => {
    if (arr[i] !== '\n') arr[i] = ' ';
  };
  const wipeBoth = (i) => {
    wipe(code, i);
    wipe(bare, i);
  };
  const KEYWORDS_BEFORE_REGEX = /(?:^|[^\w$])(?:return|typeof|case|do|else|in|of|new|delete|void|throw|instanceof|yield|await)$/;
  /** Brace depth of each open `${` (innermost last). */
  const templates = [];
  let depth = 0;
  let i = 0;
  const n = src.length;
  const lastSignificant = (at) => {
    let j = at - 1;
    while (j >= 0 && /\s/.test(bare[j])) j--;
    return j;
  };
  const scanString = (quote) => {
    // at opening quote
    i++;
    while (i < n && src[i] !== quote && src[i] !== '\n') {
      if (src[i] === '\\') {
        wipe(bare, i);
        i++;
      }
      wipe(bare, i);
      i++;
    }
    i++; // closing quote
  };
  const scanTemplate = () => {
    // inside template text; returns at the closing backtick (consumed) or at `${` (consumed, pushed)
    while (i < n) {
      if (src[i] === '\\') {
        wipe(bare, i);
        wipe(bare, i + 1);
        i += 2;
      } else if (src[i] === '`') {
        i++;
        return;
      } else if (src[i] === '$' && src[i + 1] === '{') {
        templates.push(depth);
        depth++;
        i += 2;
        return;
      } else {
        wipe(bare, i);
        i++;
      }
    }
  };
  while (i < n) {
    const c = src[i];
    const d = src[i + 1];
    if (c === '/' && d === '/') {
      while (i < n && src[i] !== '\n') wipeBoth(i++);
    } else if (c === '/' && d === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? n : end + 2;
      while (i < stop) wipeBoth(i++);
    } else if (c === "'" || c === '"') {
      scanString(c);
    } else if (c === '`') {
      i++;
      scanTemplate();
    } else if (c === '{') {
      depth++;
      i++;
    } else if (c === '}') {
      depth--;
      i++;
      if (templates.length > 0 && templates[templates.length - 1] === depth) {
        templates.pop();
        scanTemplate();
      }
    } else if (c === '/') {
      const j = lastSignificant(i);
      const prev = j < 0 ? '' : bare[j];
      const isRegex = prev === '' || '(,=:[!&|?{};+-*%<>~^'.includes(prev) || KEYWORDS_BEFORE_REGEX.test(bare.slice(Math.max(0, j - 12), j + 1).join(''));
      if (!isRegex) {
        i++;
        continue;
      }
      i++;
      let inClass = false;
      while (i < n && src[i] !== '\n') {
        if (src[i] === '\\') {
          wipe(bare, i);
          i++;
        } else if (src[i] === '[') inClass = true;
        else if (src[i] === ']') inClass = false;
        else if (src[i] === '/' && !inClass) break;
        wipe(bare, i);
        i++;
      }
      i++; // closing slash; flags are plain identifiers
    } else {
      i++;
    }
  }
  return { code: code.join(''), bare: bare.join('') };
}

function lineOf(text, index) {
  let line = 1;
  for (let k = 0; k < index; k++) if (text.charCodeAt(k) === 10) line++;
  return line;
}

function lintFile(file, coreDir) {
  const src = readFileSync(file, 'utf8');
  const { code, bare } = blank(src);
  const problems = [];
  const lines = bare.split('\n');
  const srcLines = src.split('\n');
  for (const [idx, line] of lines.entries()) {
    for (const [re, rule] of CODE_RULES) if (re.test(line)) problems.push({ line: idx + 1, rule, text: srcLines[idx].trim() });
  }
  for (const pattern of IMPORT_PATTERNS) {
    for (const m of code.matchAll(pattern)) {
      const rule = checkSpecifier(m[2], file, coreDir);
      if (rule) {
        const line = lineOf(code, m.index + m[0].length - 1);
        problems.push({ line, rule, text: srcLines[line - 1].trim() });
      }
    }
  }
  return problems.sort((a, b) => a.line - b.line);
}

function sources(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name !== 'testing' && name !== 'node_modules') out.push(...sources(path));
    } else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.fixture.ts')) {
      out.push(path);
    }
  }
  return out;
}

const dirs = (process.argv.length > 2 ? process.argv.slice(2) : CORES.map((d) => join(root, d))).map((d) => resolve(d));
let files = 0;
let count = 0;
for (const dir of dirs) {
  for (const file of sources(dir)) {
    files++;
    for (const p of lintFile(file, dir)) {
      count++;
      console.error(`${relative(process.cwd(), file)}:${p.line}: ${p.rule}\n    ${p.text}`);
    }
  }
}
if (count > 0) {
  console.error(`lint-cores: ${count} problem${count === 1 ? '' : 's'} in the sans-I/O cores (DESIGN §3.1); ${files} files checked`);
  process.exit(1);
}
console.log(`lint-cores: ${files} files in ${dirs.map((d) => relative(root, d) || '.').join(', ')} are free of clocks, randomness, timers, async and I/O imports`);
