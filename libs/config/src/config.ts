import { z } from 'zod';

/** Raised when configuration fails validation; `issues` name each bad field and why. */
export class ConfigError extends Error {
  readonly code = 'INVALID_ARGUMENT';
  constructor(readonly issues: ReadonlyArray<{ field: string; message: string }>) {
    super(`invalid configuration:\n${issues.map((i) => `  ${i.field}: ${i.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface ConfigSources {
  /** Environment, read as `<PREFIX>_<FIELD_IN_SNAKE_CASE>`; defaults to `process.env`. */
  env?: Record<string, string | undefined>;
  /** Command-line words after the program name: `--field-name value` or `--field-name=value`. */
  argv?: readonly string[];
  /** Environment prefix, `SYNOD` unless given. */
  envPrefix?: string;
}

const camelToKebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const camelToEnv = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
const kebabToCamel = (s: string) => s.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** Splits argv into `--flag value` pairs and positional words. A bare `--flag` before another flag is `true`. */
export function parseFlags(argv: readonly string[]): { flags: Record<string, string | true>; positional: string[] } {
  const flags: Record<string, string | true> = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!word.startsWith('--')) {
      positional.push(word);
      continue;
    }
    const eq = word.indexOf('=');
    if (eq >= 0) {
      flags[kebabToCamel(word.slice(2, eq))] = word.slice(eq + 1);
      continue;
    }
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      flags[kebabToCamel(word.slice(2))] = next;
      i++;
    } else {
      flags[kebabToCamel(word.slice(2))] = true;
    }
  }
  return { flags, positional };
}

/**
 * The one configuration loader: flags override env, env overrides the schema's defaults.
 * Values arrive as strings, so schemas should use `z.coerce` for numbers and booleans
 * (see `flag` helpers below). Unknown flags are rejected so typos do not pass silently.
 */
export function loadConfig<S extends z.ZodObject>(schema: S, sources: ConfigSources = {}): z.infer<S> {
  const env = sources.env ?? process.env;
  const prefix = sources.envPrefix ?? 'SYNOD';
  const { flags } = parseFlags(sources.argv ?? []);
  const fields = Object.keys(schema.shape);
  const raw: Record<string, unknown> = {};
  for (const field of fields) {
    const fromEnv = env[`${prefix}_${camelToEnv(field)}`];
    if (fromEnv !== undefined && fromEnv !== '') raw[field] = fromEnv;
    if (field in flags) raw[field] = flags[field];
  }
  const unknown = Object.keys(flags).filter((f) => !fields.includes(f));
  const issues: Array<{ field: string; message: string }> = unknown.map((f) => ({
    field: `--${camelToKebab(f)}`,
    message: `unknown flag (known: ${fields.map((k) => `--${camelToKebab(k)}`).join(', ')})`,
  }));
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const field = String(issue.path[0] ?? '');
      issues.push({ field: `--${camelToKebab(field)} / ${prefix}_${camelToEnv(field)}`, message: issue.message });
    }
  }
  if (issues.length > 0 || !parsed.success) throw new ConfigError(issues);
  return parsed.data;
}

/** Boolean from a flag or env string: `true/1/yes/on` and `false/0/no/off`. */
const TRUE_WORDS = ['true', '1', 'yes', 'on'];
const FALSE_WORDS = ['false', '0', 'no', 'off'];
export const booleanFlag = z.preprocess((v) => {
  if (typeof v !== 'string') return v;
  const w = v.toLowerCase();
  return TRUE_WORDS.includes(w) ? true : FALSE_WORDS.includes(w) ? false : v;
}, z.boolean({ error: 'expected true or false' }));

/** Fields every synod process has. */
export const nodeIdentity = {
  nodeId: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, at most 63'),
  dc: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, at most 63'),
  natsUrl: z.string().default('nats://127.0.0.1:4222'),
  cluster: z.string().regex(/^[a-zA-Z0-9_-]+$/, 'letters, digits, _ and - only').default('synod'),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
};
