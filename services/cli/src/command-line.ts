/**
 * The `synod` command line (docs/cli.md): commander parses words, generates help and completion;
 * each command's zod schema stays the one description of its flags (names, defaults, help text)
 * and the one validation (through loadConfig, so SYNOD_* env applies as before).
 */
import { Command, CommanderError, Option } from 'commander';
import type { z } from 'zod';
import { EXIT_HELP } from './exit-codes.js';

/** A command whose flags commander parses from its schema. */
export interface SchemaCommand {
  kind: 'schema';
  summary: string;
  /** commander argument declarations, e.g. ['<key>', '[value]'] or ['[words...]']. */
  args: string[];
  /** Text shown after the generated options: examples, output, semantics. */
  details?: string;
  load: () => Promise<{ schema: z.ZodObject; run: (argv: string[]) => Promise<void> }>;
  /** Sub-commands (e.g. `txn status`), parsed the same way. */
  subcommands?: Record<string, Omit<SchemaCommand, 'kind' | 'subcommands'>>;
}

/** A command that parses its own words and prints its own help (service processes, tools with verbs). */
export interface RawCommand {
  kind: 'raw';
  summary: string;
  hidden?: boolean;
  help: () => Promise<string>;
  run: (argv: string[]) => Promise<void>;
}

export type CommandEntry = SchemaCommand | RawCommand;

const camelToKebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

interface FieldInfo {
  boolean: boolean;
  description?: string;
  defaultValue?: unknown;
  choices?: string[];
}

/** What a schema field is, seen through default/optional/pipe wrappers. */
export function fieldInfo(field: z.ZodType): FieldInfo {
  const info: FieldInfo = { boolean: false };
  let t: z.ZodType | undefined = field;
  for (let depth = 0; t && depth < 8; depth++) {
    if (info.description === undefined && t.description) info.description = t.description;
    const def = (t as unknown as { _zod: { def: Record<string, unknown> } })._zod.def;
    if (def.type === 'default') {
      const d = def.defaultValue;
      info.defaultValue = typeof d === 'function' ? (d as () => unknown)() : d;
      t = def.innerType as z.ZodType;
    } else if (def.type === 'optional' || def.type === 'nullable') t = def.innerType as z.ZodType;
    else if (def.type === 'pipe') t = def.out as z.ZodType;
    else {
      if (def.type === 'boolean') info.boolean = true;
      if (def.type === 'enum') info.choices = Object.values(def.entries as Record<string, string>);
      break;
    }
  }
  return info;
}

/** commander options generated from a schema: `--kebab <value>`, switches for booleans, `-o` for output. */
export function optionsFor(schema: z.ZodObject): Option[] {
  return Object.entries(schema.shape).map(([name, field]) => {
    const info = fieldInfo(field as z.ZodType);
    const flag = name === 'output' ? '-o, --output' : `--${camelToKebab(name)}`;
    const opt = new Option(info.boolean ? flag : `${flag} <${info.choices ? 'format' : 'value'}>`, info.description ?? '');
    if (info.choices) opt.choices(info.choices);
    if (info.defaultValue !== undefined && !info.boolean) opt.default(info.defaultValue);
    return opt;
  });
}

/**
 * The words a command's runner reads (`--flag=value` for every flag given, then `--` and the
 * positional words): commander has already refused unknown flags; loadConfig validates values
 * and applies SYNOD_* env for flags not given.
 */
export function wordsFor(cmd: Command, positional: readonly string[]): string[] {
  const words: string[] = [];
  for (const [name, value] of Object.entries(cmd.opts())) {
    // Defaults stay with the schema (an env var may override them); only given flags are passed.
    if (cmd.getOptionValueSource(name) !== 'cli') continue;
    words.push(`--${camelToKebab(name)}=${value === true ? 'true' : String(value)}`);
  }
  return [...words, '--', ...positional];
}

/** Thrown when commander printed help or the version: exit 0. */
export class HelpShown extends Error {}

/** A usage error commander found (unknown flag or command, missing or extra argument). */
export class UsageError extends Error {
  readonly code = 'INVALID_ARGUMENT';
  constructor(
    message: string,
    readonly command: string,
  ) {
    super(message);
  }
}

const ROOT_SUMMARY = 'synod — a sharded, Spanner-like transactional key-value store';

function configure(cmd: Command, out: (s: string) => void): Command {
  return cmd
    .exitOverride()
    .configureOutput({ writeOut: out, writeErr: out, outputError: () => undefined })
    .showSuggestionAfterError(true)
    .helpOption('-h, --help', 'show this help');
}

/** Adds a schema command (with its options, loaded now) to `parent`. */
async function addSchemaCommand(parent: Command, name: string, spec: Omit<SchemaCommand, 'kind'>, out: (s: string) => void, onRun: (run: () => Promise<void>) => void): Promise<void> {
  const { schema, run } = await spec.load();
  const cmd = configure(parent.command(name), out).description(spec.summary);
  for (const a of spec.args) cmd.argument(a);
  for (const o of optionsFor(schema)) cmd.addOption(o);
  if (spec.details) cmd.addHelpText('after', `\n${spec.details}`);
  // A sub-command's flags (`txn status --split s1`) belong to it, not to the parent that shares their names.
  if (spec.subcommands) cmd.enablePositionalOptions();
  cmd.action((...params: unknown[]) => {
    const c = params[params.length - 1] as Command;
    onRun(() => run(wordsFor(c, c.args)));
  });
  for (const [sub, subSpec] of Object.entries(spec.subcommands ?? {})) await addSchemaCommand(cmd, sub, subSpec, out, onRun);
}

/**
 * Parses `argv` (the words after `synod`) and runs the command. Only the named command's module
 * is loaded, so a command starts without loading the others.
 */
export async function runCommandLine(argv: string[], registry: Record<string, CommandEntry>, version: string, out: (s: string) => void): Promise<void> {
  const name = argv[0];
  const entry = name !== undefined ? registry[name] : undefined;
  if (entry?.kind === 'raw') {
    if (argv.includes('--help') || argv.includes('-h')) {
      out((await entry.help()) + '\n');
      throw new HelpShown();
    }
    return entry.run(argv.slice(1));
  }
  const program = configure(new Command('synod'), out)
    // Positional options all the way down, so that `txn status … --split s1` reaches `status`.
    .enablePositionalOptions()
    .description(ROOT_SUMMARY)
    .version(version, '-V, --version', 'print the version')
    .usage('<command> [options]')
    .addHelpText('after', `\nRun 'synod <command> --help' for a command's options.\n\n${EXIT_HELP}`);
  let pending: (() => Promise<void>) | undefined;
  for (const [n, e] of Object.entries(registry)) {
    if (n === name && e.kind === 'schema') await addSchemaCommand(program, n, e, out, (run) => (pending = run));
    else program.command(n, { hidden: e.kind === 'raw' && e.hidden === true }).description(e.summary);
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') throw new HelpShown();
      if (err.code === 'commander.executeSubCommandAsync' || err.code === 'commander.missingMandatoryOptionValue' || err.exitCode !== 0) {
        const text = err.message.replace(/^error: /, '').replace(/\n+/g, ' ').trim();
        throw new UsageError(`${text} (see 'synod ${name && registry[name] ? `${name} ` : ''}--help')`, name && registry[name] ? name : '');
      }
      throw new HelpShown();
    }
    throw err;
  }
  if (!pending) {
    // `synod` alone: the help. A listed command without a spec never reaches here (raw ones returned above).
    out(program.helpInformation());
    throw new HelpShown();
  }
  await pending();
}

/** Every visible command with its flags, for shell completion. */
export async function completionTable(registry: Record<string, CommandEntry>): Promise<Array<{ name: string; flags: string[] }>> {
  const rows: Array<{ name: string; flags: string[] }> = [];
  for (const [name, e] of Object.entries(registry)) {
    if (e.kind === 'raw') {
      if (!e.hidden) rows.push({ name, flags: ['--help'] });
      continue;
    }
    const { schema } = await e.load();
    const flags = optionsFor(schema).flatMap((o) => [o.long!, ...(o.short ? [o.short] : [])]);
    rows.push({ name, flags: [...flags, '--help'] });
    for (const sub of Object.keys(e.subcommands ?? {})) rows.push({ name: `${name} ${sub}`, flags: ['--help'] });
  }
  return rows;
}

/** A bash (or zsh, through bashcompinit) completion script for `synod`. */
export function completionScript(shell: 'bash' | 'zsh', rows: Array<{ name: string; flags: string[] }>): string {
  const top = rows.filter((r) => !r.name.includes(' ')).map((r) => r.name);
  const cases = rows
    .filter((r) => !r.name.includes(' '))
    .map((r) => `    ${r.name}) flags="${r.flags.join(' ')}" ;;`)
    .join('\n');
  const bash = `# synod shell completion: eval "$(synod completion ${shell})"
_synod_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${top.join(' ')} completion --help --version" -- "$cur") )
    return
  fi
  local flags=""
  case "\${COMP_WORDS[1]}" in
${cases}
    completion) flags="bash zsh" ;;
  esac
  COMPREPLY=( $(compgen -W "$flags" -- "$cur") )
}
complete -o default -F _synod_complete synod
`;
  return shell === 'zsh' ? `autoload -U +X bashcompinit && bashcompinit\n${bash}` : bash;
}
