import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, booleanFlag, loadConfig, parseFlags } from './config.js';
import { RateLimitedLog } from './logger.js';
import { Metrics } from './metrics.js';

const schema = z.object({
  nodeId: z.string().min(1),
  port: z.coerce.number().int().min(1).max(65535).default(4222),
  verbose: booleanFlag.default(false),
});

describe('loadConfig', () => {
  it('applies defaults, then env, then flags', () => {
    expect(loadConfig(schema, { env: { SYNOD_NODE_ID: 'n1' } })).toEqual({ nodeId: 'n1', port: 4222, verbose: false });
    expect(loadConfig(schema, { env: { SYNOD_NODE_ID: 'n1', SYNOD_PORT: '5000' } }).port).toBe(5000);
    const c = loadConfig(schema, { env: { SYNOD_NODE_ID: 'n1', SYNOD_PORT: '5000' }, argv: ['--port=6000', '--node-id', 'n2', '--verbose'] });
    expect(c).toEqual({ nodeId: 'n2', port: 6000, verbose: true });
  });

  it('names the bad field in the error', () => {
    try {
      loadConfig(schema, { env: {}, argv: ['--node-id', 'n1', '--port', 'abc'] });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).issues[0]!.field).toContain('--port');
      expect((e as Error).message).toContain('SYNOD_PORT');
    }
  });

  it('rejects unknown flags and missing required fields together', () => {
    const err = (() => {
      try {
        loadConfig(schema, { env: {}, argv: ['--prot', '1'] });
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error('expected a ConfigError');
    })();
    const fields = err.issues.map((i) => i.field);
    expect(fields.some((f) => f.startsWith('--prot'))).toBe(true);
    expect(fields.some((f) => f.startsWith('--node-id'))).toBe(true);
  });

  it('parses booleans strictly', () => {
    expect(loadConfig(schema, { env: { SYNOD_NODE_ID: 'x', SYNOD_VERBOSE: 'off' } }).verbose).toBe(false);
    expect(() => loadConfig(schema, { env: { SYNOD_NODE_ID: 'x', SYNOD_VERBOSE: 'maybe' } })).toThrow(/true or false/);
  });
});

describe('parseFlags', () => {
  it('separates positional words and honours --', () => {
    expect(parseFlags(['put', 'k', '--dc', 'dc-a', '--', '--literal'])).toEqual({
      flags: { dc: 'dc-a' },
      positional: ['put', 'k', '--literal'],
    });
  });
});

describe('RateLimitedLog', () => {
  it('logs once per interval and reports what it suppressed', () => {
    const lines: Array<Record<string, unknown>> = [];
    let now = 0;
    const log = new RateLimitedLog({ warn: (f: Record<string, unknown>) => void lines.push(f) } as never, 1000, () => now);
    for (let i = 0; i < 5; i++) log.warn('bad', {}, 'bad message');
    now = 1500;
    log.warn('bad', {}, 'bad message');
    expect(lines.length).toBe(2);
    expect(lines[1]!.suppressedSinceLast).toBe(4);
  });
});

describe('Metrics', () => {
  it('counts by label and totals', async () => {
    const m = new Metrics();
    m.inc('dropped', { reason: 'decode' });
    m.inc('dropped', { reason: 'schema' }, 2);
    expect(m.get('dropped', { reason: 'schema' })).toBe(2);
    expect(m.total('dropped')).toBe(3);
    expect(await m.render()).toContain('dropped{reason="decode"} 1');
  });
});
