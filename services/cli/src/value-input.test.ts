import { describe, expect, it } from 'vitest';
import { SynodError } from '@synod/codec';
import { MAX_VALUE_BYTES } from '@synod/limits';
import { checkKey, lossyNumbers, typedValue, valueArg, valueType, type ValueSources } from './value-input.js';

const sources = (files: Record<string, string>, stdin = ''): ValueSources => ({
  readFile: (path) => {
    if (!(path in files)) throw new SynodError('INVALID_ARGUMENT', `cannot read the value file ${path}: ENOENT`);
    return files[path]!;
  },
  readStdin: async () => stdin,
});

describe('values as the CLI stores them', () => {
  it('parses JSON when it parses, else keeps the word; --string keeps it, --json insists', () => {
    expect(typedValue('42', 'auto')).toBe(42);
    expect(typedValue('{"a":[1,true]}', 'auto')).toEqual({ a: [1, true] });
    expect(typedValue('hello', 'auto')).toBe('hello');
    expect(typedValue('42', 'string')).toBe('42');
    expect(() => typedValue('hello', 'json')).toThrow(/is not JSON/);
  });

  it('refuses numbers a JSON number here cannot hold exactly, wherever they are', () => {
    expect(lossyNumbers('9007199254740991')).toEqual([]);
    expect(lossyNumbers('-9007199254740991')).toEqual([]);
    expect(lossyNumbers('9007199254740993')).toEqual(['9007199254740993']);
    expect(lossyNumbers('{"a": [1, 1e999], "b": "12345678901234567890"}')).toEqual(['1e999']);
    expect(lossyNumbers('{"s": "a\\"1e999"}')).toEqual([]);
    expect(lossyNumbers('0.1')).toEqual([]);
    expect(lossyNumbers('-1E400')).toEqual(['-1E400']);
    expect(() => typedValue('12345678901234567890', 'auto')).toThrow(/--string/);
    expect(() => typedValue('[1e999]', 'json')).toThrow(/1e999/);
    expect(typedValue('12345678901234567890', 'string')).toBe('12345678901234567890');
  });

  it('reads @file and - (stdin); @@ is a literal @', async () => {
    const src = sources({ 'v.json': '{"x":1}' }, 'from stdin');
    expect(await valueArg('@v.json', 'auto', src)).toEqual({ x: 1 });
    expect(await valueArg('-', 'string', src)).toBe('from stdin');
    expect(await valueArg('@@handle', 'auto', src)).toBe('@handle');
    await expect(valueArg('@missing', 'auto', src)).rejects.toThrow(/ENOENT/);
    await expect(valueArg('@', 'auto', src)).rejects.toThrow(/names no file/);
  });

  it('bounds what it reads from a real file', async () => {
    const { fileSources } = await import('./value-input.js');
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'synod-value-'));
    try {
      writeFileSync(join(dir, 'big'), Buffer.alloc(MAX_VALUE_BYTES + 10, 0x61));
      expect(() => fileSources.readFile(join(dir, 'big'), MAX_VALUE_BYTES)).toThrow(expect.objectContaining({ code: 'VALUE_TOO_LARGE' }));
      writeFileSync(join(dir, 'ok'), 'abc');
      expect(fileSources.readFile(join(dir, 'ok'), MAX_VALUE_BYTES)).toBe('abc');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes --json or --string, not both', () => {
    expect(valueType({})).toBe('auto');
    expect(valueType({ json: true })).toBe('json');
    expect(valueType({ string: true })).toBe('string');
    expect(() => valueType({ json: true, string: true })).toThrow(/not both/);
  });

  it('refuses empty keys, lone surrogates, U+FFFD from bad UTF-8 and oversized keys', () => {
    expect(checkKey('user/1')).toBe('user/1');
    expect(checkKey('emoji \u{1F600}')).toBe('emoji \u{1F600}');
    expect(() => checkKey('')).toThrow(/empty/);
    expect(() => checkKey('a\uD800')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => checkKey('a\uFFFDb')).toThrow(/not valid UTF-8/);
    expect(() => checkKey('k'.repeat(5000))).toThrow(expect.objectContaining({ code: 'KEY_TOO_LARGE' }));
  });
});
