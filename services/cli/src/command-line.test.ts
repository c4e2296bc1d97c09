import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { booleanFlag } from '@synod/config';
import { completionScript, completionTable, fieldInfo, HelpShown, optionsFor, runCommandLine, UsageError, type CommandEntry } from './command-line.js';

const schema = z.object({
  dataDir: z.string().optional().describe('where'),
  limit: z.coerce.number().int().default(100).describe('how many'),
  json: booleanFlag.default(false).describe('values are JSON'),
  output: z.enum(['json', 'table']).default('json').describe('format'),
});

function registry(seen: string[][]): Record<string, CommandEntry> {
  return {
    get: { kind: 'schema', summary: 'read', args: ['<keys...>'], load: async () => ({ schema, run: async (argv) => void seen.push(argv) }) },
    txn: {
      kind: 'schema',
      summary: 'transact',
      args: ['[ops...]'],
      load: async () => ({ schema, run: async (argv) => void seen.push(['txn', ...argv]) }),
      subcommands: { status: { summary: 'outcome', args: ['<id>'], load: async () => ({ schema: schema.extend({ split: z.string().optional() }), run: async (argv) => void seen.push(['status', ...argv]) }) } },
    },
    serve: { kind: 'raw', summary: 'a process', hidden: true, help: async () => 'synod serve — raw help', run: async (argv) => void seen.push(['serve', ...argv]) },
  };
}

const run = async (argv: string[]) => {
  const seen: string[][] = [];
  let out = '';
  const reg = registry(seen);
  try {
    await runCommandLine(argv, reg, '1.2.3 (abc)', (s) => (out += s));
    return { seen, out, err: undefined as unknown };
  } catch (err) {
    return { seen, out, err };
  }
};

describe('the command line', () => {
  it('reads a schema field through its wrappers', () => {
    expect(fieldInfo(schema.shape.json)).toMatchObject({ boolean: true, description: 'values are JSON', defaultValue: false });
    expect(fieldInfo(schema.shape.output)).toMatchObject({ boolean: false, choices: ['json', 'table'], defaultValue: 'json' });
    expect(optionsFor(schema).map((o) => o.flags)).toEqual(['--data-dir <value>', '--limit <value>', '--json', '-o, --output <format>']);
  });

  it("passes only the flags given (so SYNOD_* env still applies) and the words after '--'", async () => {
    const r = await run(['get', 'a', '--limit', '5', 'b', '-o', 'table', '--json']);
    expect(r.err).toBeUndefined();
    expect(r.seen).toEqual([['--limit=5', '--output=table', '--json=true', '--', 'a', 'b']]);
  });

  it('keeps a word that looks like a flag value where it belongs: --json is a switch', async () => {
    const r = await run(['txn', '--json', 'put:a=1']);
    expect(r.seen).toEqual([['txn', '--json=true', '--', 'put:a=1']]);
  });

  it('gives a sub-command its own flags, even after its arguments', async () => {
    const r = await run(['txn', 'status', 't1', '--split', 's1']);
    expect(r.seen).toEqual([['status', '--split=s1', '--', 't1']]);
  });

  it('refuses unknown flags and commands, missing and extra arguments, bad choices as usage errors', async () => {
    for (const argv of [['get', 'a', '--bogus'], ['frobnicate'], ['get'], ['get', 'a', '-o', 'yaml']]) {
      const r = await run(argv);
      expect(r.err, argv.join(' ')).toBeInstanceOf(UsageError);
      expect(r.seen).toEqual([]);
    }
    expect(((await run(['get', 'a', '--bogus'])).err as Error).message).toMatch(/unknown option '--bogus'.*synod get --help/);
  });

  it('prints help and the version without running anything; hides raw process commands from the list', async () => {
    const top = await run(['--help']);
    expect(top.err).toBeInstanceOf(HelpShown);
    expect(top.out).toMatch(/^ {2}get /m);
    expect(top.out).not.toMatch(/^ {2}serve /m);
    const v = await run(['--version']);
    expect(v.err).toBeInstanceOf(HelpShown);
    expect(v.out).toBe('1.2.3 (abc)\n');
    const sub = await run(['get', '--help']);
    expect(sub.out).toContain('--limit <value>');
    expect(sub.out).toContain('how many');
    const raw = await run(['serve', '--help']);
    expect(raw.out).toBe('synod serve — raw help\n');
    expect((await run(['serve', '--port', '1'])).seen).toEqual([['serve', '--port', '1']]);
  });

  it('generates a completion script with every visible command and its flags', async () => {
    const rows = await completionTable(registry([]));
    expect(rows.map((r) => r.name)).toEqual(['get', 'txn', 'txn status']);
    const script = completionScript('bash', rows);
    expect(script).toContain('complete -o default -F _synod_complete synod');
    expect(script).toMatch(/get\) flags="--data-dir --limit --json --output -o --help"/);
    expect(completionScript('zsh', rows)).toMatch(/^autoload -U \+X bashcompinit/);
  });
});
