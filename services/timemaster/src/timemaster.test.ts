import { describe, expect, it } from 'vitest';
import { loadConfig } from '@synod/config';
import { timemasterConfig } from './timemaster.js';

describe('timemaster configuration', () => {
  it('defaults to a reference master with 100 µs stated uncertainty', () => {
    const c = loadConfig(timemasterConfig, { env: {}, argv: ['--node-id', 'tm-a', '--dc', 'dc-a'] });
    expect(c).toMatchObject({ kind: 'reference', uncertaintyUs: 100, referenceDcs: [], driftBoundPpm: 10, controlStdin: true });
  });

  it('parses a drifting master and rejects an unknown kind', () => {
    const c = loadConfig(timemasterConfig, { env: {}, argv: ['--node-id', 'tm-b', '--dc', 'dc-b', '--kind', 'drifting', '--reference-dcs', 'dc-a,dc-c', '--control-stdin', 'false'] });
    expect(c).toMatchObject({ kind: 'drifting', referenceDcs: ['dc-a', 'dc-c'], controlStdin: false });
    expect(() => loadConfig(timemasterConfig, { env: {}, argv: ['--node-id', 'x', '--dc', 'd', '--kind', 'sundial'] })).toThrow(/--kind/);
  });
});
