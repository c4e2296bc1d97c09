// A k6-like end-of-test summary: checks by group, then every metric, thresholds marked ✓ / ✗.

const fmtTime = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)}s` : ms >= 1 ? `${ms.toFixed(2)}ms` : `${(ms * 1000).toFixed(2)}µs`);
const fmtNum = (v) => (Number.isInteger(v) ? String(v) : v.toFixed(4));
const pct = (r) => `${(r * 100).toFixed(2)}%`;

/**
 * @param {import('./metrics.mjs').Metrics} metrics
 * @param {Array<{metric: string, source: string, ok: boolean, actual: number | undefined}>} verdicts
 * @param {{script: string, scenarios: Array<{name: string, executor: string, vus: number}>, seconds: number, iterationErrors: number}} run
 */
export function summary(metrics, verdicts, run) {
  const lines = [];
  lines.push(`  execution: local (synod k6 runner, a test harness; see docs/k6.md)`);
  lines.push(`     script: ${run.script}`);
  for (const s of run.scenarios) lines.push(`   scenario: ${s.name}: ${s.vus} VU(s), ${s.executor}`);
  lines.push('');
  const byGroup = new Map();
  for (const c of metrics.checks.values()) byGroup.set(c.group, [...(byGroup.get(c.group) ?? []), c]);
  for (const [group, checks] of [...byGroup].sort(([a], [b]) => a.localeCompare(b))) {
    const depth = group === '' ? 0 : group.split('::').length - 1;
    const pad = '     ' + '  '.repeat(depth);
    if (group !== '') lines.push(`${pad}█ ${group.split('::').pop()}`);
    for (const c of checks) {
      lines.push(`${pad}${c.fails === 0 ? '✓' : '✗'} ${c.name}`);
      if (c.fails > 0) lines.push(`${pad} ↳  ${Math.floor((100 * c.passes) / (c.passes + c.fails))}% — ✓ ${c.passes} / ✗ ${c.fails}`);
    }
    lines.push('');
  }
  const judged = new Map();
  for (const v of verdicts) judged.set(v.metric, (judged.get(v.metric) ?? true) && v.ok);
  const names = [...new Set([...metrics.byName.keys(), ...judged.keys()])].filter((n) => n !== 'group_duration' || judged.has(n)).sort();
  for (const name of names) {
    const mark = judged.has(name) ? (judged.get(name) ? '✓' : '✗') : ' ';
    const st = metrics.stats(name);
    const m = metrics.byName.get(name);
    let text = 'no samples';
    if (st && m) {
      if (m.type === 'trend') {
        const f = m.isTime ? fmtTime : fmtNum;
        text = `avg=${f(st.avg)} min=${f(st.min)} med=${f(st.med)} max=${f(st.max)} p(90)=${f(st.p(90))} p(95)=${f(st.p(95))} p(99)=${f(st.p(99))}`;
      } else if (m.type === 'rate') text = `${pct(st.rate)} ✓ ${st.passes} ✗ ${st.fails}`;
      else if (m.type === 'counter') text = `${fmtNum(st.count)} ${st.rate.toFixed(2)}/s`;
      else text = `${fmtNum(st.value)} min=${fmtNum(st.min)} max=${fmtNum(st.max)}`;
    }
    lines.push(`   ${mark} ${(name + ' ').padEnd(32, '.')}: ${text}`);
  }
  if (verdicts.length > 0) {
    lines.push('');
    lines.push('   THRESHOLDS');
    for (const v of verdicts) {
      const actual = v.actual === undefined ? 'no samples' : fmtNum(v.actual);
      lines.push(`   ${v.ok ? '✓' : '✗'} ${v.metric} '${v.source}' (${actual})`);
    }
  }
  lines.push('');
  lines.push(`   running ${run.seconds.toFixed(1)}s, iterations with an exception: ${run.iterationErrors}`);
  return lines.join('\n');
}
