/**
 * The metric catalog (libs/config/src/metric-catalog.ts) is complete and documented: every metric
 * name the code updates is declared with the type its call implies (inc → counter, set → gauge,
 * observe/observed → histogram), and docs/metrics.md's table lists exactly the declared names with
 * their types and labels.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { METRIC_CATALOG, type MetricDef } from '@synod/config';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const catalog = METRIC_CATALOG as Record<string, MetricDef>;

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (p.endsWith('.ts') && !p.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

/** Every literal metric update in libs/ and services/: [file, name, implied type]. */
function updates(): Array<[string, string, MetricDef['type']]> {
  const found: Array<[string, string, MetricDef['type']]> = [];
  const call = /\.(inc|set|observe)\(\s*'(synod_[a-z0-9_]+)'|observed\([^,]+,\s*'(synod_[a-z0-9_]+)'/g;
  for (const file of [...sources(join(ROOT, 'libs')), ...sources(join(ROOT, 'services'))]) {
    for (const m of readFileSync(file, 'utf8').matchAll(call)) {
      const type = m[3] ? 'histogram' : m[1] === 'inc' ? 'counter' : m[1] === 'set' ? 'gauge' : 'histogram';
      found.push([file.slice(ROOT.length), (m[2] ?? m[3])!, type]);
    }
  }
  return found;
}

describe('metric catalog', () => {
  it('declares every metric the code updates, with the type its call implies', () => {
    const all = updates();
    // The scan sees the call sites this branch relies on (it would pass vacuously on an empty scan).
    for (const n of ['synod_bus_dropped_total', 'synod_commit_latency_seconds', 'synod_txn_aborts_total', 'synod_paxos_commit_seconds']) expect(all.map(([, name]) => name)).toContain(n);
    const wrong = all.filter(([, name, type]) => catalog[name]?.type !== type).map(([file, name, type]) => `${file}: ${name} used as ${type}, catalog says ${catalog[name]?.type ?? 'nothing'}`);
    expect(wrong).toEqual([]);
  });

  it('docs/metrics.md lists exactly the catalogued metrics, each with its type and labels', () => {
    const doc = readFileSync(join(ROOT, 'docs/metrics.md'), 'utf8');
    const rows = new Map<string, { type: string; labels: string }>();
    for (const m of doc.matchAll(/^\| `(synod_[a-z0-9_]+)` \| (\w+) \| ([^|]*) \|/gm)) rows.set(m[1]!, { type: m[2]!, labels: m[3]!.trim() });
    expect([...rows.keys()].sort()).toEqual(Object.keys(catalog).sort());
    for (const [name, def] of Object.entries(catalog)) expect(rows.get(name), name).toEqual({ type: def.type, labels: (def.labels ?? []).join(', ') });
  });
});
