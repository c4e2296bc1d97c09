/**
 * Values and keys as the CLI takes them (docs/cli.md "Values"). A value is stored exactly as
 * given or refused: JSON numbers that a JavaScript number cannot hold (integers beyond 2^53,
 * 1e999) are refused instead of stored rounded or as null.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { SynodError } from '@synod/codec';
import { MAX_VALUE_BYTES, checkKey as keyViolation } from '@synod/limits';

export type ValueType = 'auto' | 'json' | 'string';

/** Where a value's text comes from: the word itself, a file (`@path`) or stdin (`-`). */
export interface ValueSources {
  readFile: (path: string, maxBytes: number) => string;
  readStdin: (maxBytes: number) => Promise<string>;
}

/** Reads at most `maxBytes + 1` bytes, so an oversized input is refused without reading all of it. */
function readBounded(fd: number, maxBytes: number): string {
  const buf = Buffer.alloc(maxBytes + 1);
  let n = 0;
  for (let got = -1; got !== 0 && n <= maxBytes; n += got) got = readSync(fd, buf, n, buf.length - n, null);
  if (n > maxBytes) throw new SynodError('VALUE_TOO_LARGE', `the value is over ${maxBytes} bytes`, { limit: maxBytes, actual: n });
  return buf.subarray(0, n).toString('utf8');
}

const reason = (err: unknown) => (err as { code?: string }).code ?? (err as Error).message;

export const fileSources: ValueSources = {
  readFile(path, maxBytes) {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      throw new SynodError('INVALID_ARGUMENT', `cannot read the value file ${JSON.stringify(path)}: ${reason(err)}`);
    }
    try {
      return readBounded(fd, maxBytes);
    } catch (err) {
      if (err instanceof SynodError) throw err;
      throw new SynodError('INVALID_ARGUMENT', `cannot read the value file ${JSON.stringify(path)}: ${reason(err)}`);
    } finally {
      closeSync(fd);
    }
  },
  async readStdin(maxBytes) {
    if (process.stdin.isTTY) throw new SynodError('INVALID_ARGUMENT', "the value '-' reads stdin, but stdin is a terminal: pipe the value in, or give it as a word");
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
      n += chunk.length;
      if (n > maxBytes) {
        process.stdin.destroy();
        throw new SynodError('VALUE_TOO_LARGE', `the value on stdin is over ${maxBytes} bytes`, { limit: maxBytes, actual: n });
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString('utf8');
  },
};

/**
 * The number literals of a JSON text that a JavaScript number would not hold exactly: integers
 * beyond ±(2^53 − 1) (rounded) and literals beyond ±1.8e308 (Infinity, stored as null).
 */
export function lossyNumbers(text: string): string[] {
  const bad: string[] = [];
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      inString = true;
      continue;
    }
    if (c === '-' || (c >= '0' && c <= '9')) {
      const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
      if (!m) continue;
      const literal = m[0];
      const n = Number(literal);
      if (!Number.isFinite(n)) bad.push(literal);
      else if (m[1] === undefined && m[2] === undefined && !Number.isSafeInteger(n)) bad.push(literal);
      i += literal.length - 1;
    }
  }
  return bad;
}

const preview = (s: string) => JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);

/** A value's text as the value stored, by `type`; refuses what would not be stored exactly. */
export function typedValue(text: string, type: ValueType, what = 'value'): unknown {
  if (type === 'string') return text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    if (type === 'json') throw new SynodError('INVALID_ARGUMENT', `${what} ${preview(text)} is not JSON (${(err as Error).message}); drop --json to store it as a string`);
    return text;
  }
  const lossy = lossyNumbers(text);
  if (lossy.length > 0)
    throw new SynodError(
      'INVALID_ARGUMENT',
      `${what} has the number ${lossy[0]!.slice(0, 40)}, which a JSON number here cannot hold exactly (integers up to 2^53 − 1 = 9007199254740991, magnitudes up to 1.8e308): store it as text with --string, or quote it`,
    );
  return parsed;
}

/**
 * A value argument: `@path` reads a file, `-` reads stdin, `@@…` is the literal `@…`; anything else
 * is the word itself. Then typed by `type`.
 */
export async function valueArg(word: string, type: ValueType, sources: ValueSources = fileSources, what = 'value'): Promise<unknown> {
  let text = word;
  if (word === '-') text = await sources.readStdin(MAX_VALUE_BYTES);
  else if (word.startsWith('@@')) text = word.slice(1);
  else if (word.startsWith('@')) {
    if (word.length === 1) throw new SynodError('INVALID_ARGUMENT', `${what} '@' names no file: write @<path>, or @@ for a literal @`);
    text = sources.readFile(word.slice(1), MAX_VALUE_BYTES);
  }
  return typedValue(text, type, what);
}

/** The value type the --json / --string switches ask for. */
export function valueType(opts: { json?: boolean; string?: boolean }): ValueType {
  if (opts.json && opts.string) throw new SynodError('INVALID_ARGUMENT', 'give --json or --string, not both');
  return opts.json ? 'json' : opts.string ? 'string' : 'auto';
}

/** A key as the CLI takes it: non-empty, and what the client library accepts (docs/limits.md). */
export function checkKey(key: string, what = 'key'): string {
  if (key === '') throw new SynodError('INVALID_ARGUMENT', `${what} is empty`);
  // Node decodes argv as UTF-8 and turns invalid bytes into U+FFFD: the key would not be the one typed.
  if (key.includes('\uFFFD')) throw new SynodError('INVALID_ARGUMENT', `${what} ${preview(key)} has U+FFFD: the argument was not valid UTF-8, so the key is not the one given`);
  const v = keyViolation(key);
  if (v) throw new SynodError(v.code, `${what} ${preview(key)}: ${v.message}`, v.hint);
  return key;
}
